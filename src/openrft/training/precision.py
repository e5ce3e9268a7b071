"""Numeric precision of a job (`precision` hyperparameter): where bfloat16 is used, and the bf16 sampler.

- "fp32": everything in float32; rollouts are sampled from the training model itself.
- "bf16": (the default where the device has native bf16 matmuls: a CUDA GPU of compute capability 8.0+,
  or a CPU with AMX or AVX512-BF16; openrft.hardware)
    * training forward/backward under `torch.autocast(<device type>, bfloat16)`; the trained weights (LoRA
      adapters, or every weight for full fine-tuning) stay float32 "master" weights, and AdamW updates
      them in float32. With LoRA the frozen base weights are stored in bf16 (they never change, and
      autocast would otherwise re-cast them on every forward).
    * rollouts and evaluations are sampled from a separate plain bf16 model, the `Sampler`, whose weights
      are refreshed from the policy before every generation: base + LoRA delta merged into one bf16
      matrix per projection (no adapter matmuls per decoded token), or a bf16 copy of the full model.
      Llama-architecture models decode with the fused `LlamaDecoder` (training/decoder.py), others with
      HF `generate`. The copy lives on the policy's device.
  Decoding a small model on CPU is bound by reading the weights once per token: bf16 halves the bytes,
  and AMX makes the training matmuls several times faster than float32.

Sampling/training mismatch: the sampler (merged, rounded to bf16) and the training forward (bf16 base +
fp32 adapter under autocast) compute the same policy up to bf16 rounding. The trainer takes the "old"
log-probs of the PPO ratio from its own training forward (detached), as it does in fp32 (one update per
rollout, so pi_old == pi_theta, as TRL does by default): the ratio is exactly 1 and the gradient is the
on-policy policy gradient of the trained policy, evaluated on samples from the rounded sampler. The only
difference from exact on-policy sampling is the rounding of the sampling distribution (log-prob
differences of ~1e-2 per token), far below the noise of 8-sample group advantages; we don't apply a
truncated importance-sampling correction (verl/TIS for vLLM mismatch), which would need the sampler's
log-probs (N x T x V logits kept by `generate`) for a correction of that size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from peft.helpers import disable_input_dtype_casting
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM

from openrft import hardware
from openrft.training.decoder import LlamaDecoder

PRECISIONS = ("auto", "bf16", "fp32")


def resolve(precision: str) -> str:
    """ "auto" -> "bf16" where `hardware.device()` has native bf16 matmuls, else "fp32"; others unchanged."""
    if precision == "auto":
        return "bf16" if hardware.fast_bf16() else "fp32"
    return precision


def base_dtype(precision: str, lora_rank: int) -> torch.dtype:
    """dtype of the loaded base weights: bf16 only for frozen LoRA bases under bf16 (trained weights stay fp32)."""
    return torch.bfloat16 if precision == "bf16" and lora_rank > 0 else torch.float32


@contextlib.contextmanager
def autocast(precision: str, model: Any = None) -> Iterator[None]:
    """bf16 autocast on `model`'s device (default: `hardware.device()`) for "bf16", nothing for "fp32".

    With a PEFT `model`, its LoRA layers also stop casting their bf16 inputs to the adapters' fp32 dtype:
    autocast would cast them straight back to bf16 for the adapter matmul (same numbers, ~7% of a
    training step's time in copies).
    """
    bf16 = precision == "bf16"
    on = device_of(model) if model is not None else hardware.device()
    with (
        torch.autocast(on.type, dtype=torch.bfloat16, enabled=bf16),
        disable_input_dtype_casting(model, bf16 and isinstance(model, PeftModel)),
    ):
        yield


EAGER_ATTENTION_MAX_LEN = 256  # training sequences up to this long use eager attention


def training_attention(seq_len: int) -> str:
    """Attention kernel for a training forward/backward over sequences of `seq_len` tokens.

    Short sequences (RL prompts + completion budgets are usually short): "eager" (plain matmul + softmax),
    whose backward is ~1.5x faster on CPU than SDPA's flash kernel at these sizes; longer ones: "sdpa",
    which doesn't hold an [n, heads, L, L] score tensor per layer for the backward.
    """
    return "eager" if seq_len <= EAGER_ATTENTION_MAX_LEN else "sdpa"


@contextlib.contextmanager
def attention(model: Any, implementation: str) -> Iterator[None]:
    """Run `model` with this attention implementation inside the block (restored after)."""
    inner: Any = model.get_base_model() if isinstance(model, PeftModel) else model
    before = inner.config._attn_implementation
    if before == implementation:
        yield
        return
    inner.set_attn_implementation(implementation)
    try:
        yield
    finally:
        inner.set_attn_implementation(before)


class Sampler:
    """What rollouts and evaluations generate with: the policy itself (fp32), or a refreshed bf16 copy."""

    def __init__(self, policy: Any, base_path: Path, precision: str):
        self.policy = policy
        self.copy: Any = None
        if precision == "bf16":
            copy: Any = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.bfloat16)
            copy = copy.to(device_of(policy)).eval().requires_grad_(False)
            self.copy = LlamaDecoder(copy) if LlamaDecoder.supports(copy.config) else copy

    @torch.no_grad()
    def model(self) -> Any:
        """What to generate with, its weights equal to the policy's now (rounded to bf16 for the copy):
        the policy (fp32), a `LlamaDecoder` (bf16, Llama architectures) or a plain HF model (bf16, others)."""
        if self.copy is None:
            return self.policy
        target: Callable[[str], torch.Tensor] = (
            self.copy.weight if isinstance(self.copy, LlamaDecoder) else dict(self.copy.named_parameters()).__getitem__
        )
        if isinstance(self.policy, PeftModel):
            for name, lora in lora_layers(self.policy):
                merge_into(target(f"{name}.weight"), lora)
        else:
            for name, weight in self.policy.named_parameters():
                target(name).copy_(weight)
        return self.copy


def device_of(model: Any) -> torch.device:
    """The device of a model's weights (an HF or PEFT model, or a `LlamaDecoder`)."""
    if isinstance(model, LlamaDecoder):
        return model.device
    return next(model.parameters()).device


def lora_layers(policy: PeftModel) -> Iterator[tuple[str, Any]]:
    """(name in the plain model, lora.Linear) of every adapted projection."""
    for name, module in policy.get_base_model().named_modules():
        if isinstance(module, LoraLayer) and not module.merged:
            yield name, module


def merge_into(out: torch.Tensor, lora: Any) -> None:
    """out = W + scale x B A, the adapted projection's merged weight, in out's dtype (bf16).

    One addmm per projection, with B and A rounded to bf16 first: ~4x faster than merging in fp32 and
    rounding the result (0.05 vs 0.2 s for SmolLM2's 210 projections). The extra error is that of
    rounding the delta, ~2^-8 x |scale x B A|, small next to the rounding of the sum, 2^-8 x |W|.
    """
    (adapter,) = lora.active_adapters  # the trainer's one adapter: plain LoRA (no DoRA), nn.Linear layout
    a, b = lora.lora_A[adapter].weight, lora.lora_B[adapter].weight  # [r, in], [out, r]
    base = lora.get_base_layer().weight
    torch.addmm(base.to(out.dtype), b.to(out.dtype), a.to(out.dtype), alpha=lora.scaling[adapter], out=out)
