"""Rollouts: turn a batch of chat prompts into sampled completions, with what the loss needs.

Each prompt is rendered with the model's chat template (`add_generation_prompt=True`), left-padded,
and sampled `group_size` times with the fused `LlamaDecoder` (training/decoder.py: the bf16 sampler of
Llama-architecture models) or HF `generate` (plain temperature sampling: no top-k/top-p, so the
sampling distribution is exactly softmax(logits / temperature), the policy the loss differentiates; the
draw itself is `InverseCdfSampling`, which is cheaper on CPU than torch.multinomial).
Completions stop at EOS or at the token budget; tokens after EOS are masked out. Each prompt is
prefilled once and its KV cache shared by its G samples (`shared_prefix_cache`).

Tensors are made on the model's device (the trainer's choice, openrft.hardware); texts are decoded on the host.

Shapes: N = prompts x G completions (a prompt's G completions are contiguous), P = padded prompt length,
T = longest completion in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from peft import PeftModel
from transformers import (
    DynamicCache,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from openrft.inference import prompts
from openrft.training.decoder import LlamaDecoder


@dataclass
class Rollout:
    input_ids: torch.Tensor  # [N, P+T] left-padded prompt, then completion (padded after EOS)
    attention_mask: torch.Tensor  # [N, P+T] 1 on prompt and completion tokens
    completion_mask: torch.Tensor  # [N, T] float, 1.0 on completion tokens up to and including EOS
    old_logprobs: torch.Tensor | None  # [N, T] log-probs under the sampling policy (when asked for)
    texts: list[str]  # [N] decoded completions, special tokens removed
    prompt_tokens: list[int]  # [N] prompt length of each sequence (unpadded)
    prompt_len: int  # P
    prompt_index: torch.Tensor  # [N] which prompt of the batch each sequence continues (equal = same prompt)

    @property
    def completion_tokens(self) -> list[int]:
        return [int(n) for n in self.completion_mask.sum(dim=1).tolist()]

    @property
    def n_tokens(self) -> int:
        return int(self.completion_mask.sum())


def render_prompt(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, Any]], tools: list | None) -> list[int]:
    """Token ids of a chat prompt, ending with the assistant turn's opening: the renderer serving uses."""
    return prompts.render_chat(tokenizer, messages, tools)


def left_pad(prompts: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token id lists: ids [B, P] and attention mask [B, P], on `device`."""
    width = max(len(p) for p in prompts)
    ids = [[pad_id] * (width - len(p)) + p for p in prompts]
    mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
    return torch.tensor(ids, dtype=torch.long, device=device), torch.tensor(mask, dtype=torch.long, device=device)


def mask_after_eos(completion_ids: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """1.0 on tokens up to and including the first EOS of each row, 0.0 after it. [N, T]"""
    eos = torch.tensor(eos_ids, dtype=completion_ids.dtype, device=completion_ids.device)
    is_eos = torch.isin(completion_ids, eos)  # [N, T]
    eos_before = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0  # an EOS strictly earlier in the row
    return (~eos_before).float()


def eos_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    eos = model.generation_config.eos_token_id if model.generation_config is not None else None
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return [int(i) for i in ids]


def position_ids_for(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding, as `generate` computes them. [N, L]"""
    return (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    *,
    group_size: int,
    completion_budget: int,
    temperature: float,
    greedy: bool = False,
    with_logprobs: bool = False,
) -> Rollout:
    """Sample `group_size` completions per prompt (greedy: one argmax completion each), each at most
    `completion_budget` new tokens (the decoder's and HF's `max_new_tokens`).

    `with_logprobs` also returns the sampling log-probs (from generate's logits, which costs N x T x V floats
    of memory). The trainer does one update per rollout, so there pi_old == pi_theta and it uses the detached
    log-probs of its own forward pass instead (TRL does the same with its defaults).
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos_ids = eos_token_ids(model, tokenizer)
    repeats = 1 if greedy else group_size
    expanded = [p for p in prompts for _ in range(repeats)]  # [N] lists, groups contiguous
    unique_ids, unique_mask = left_pad(prompts, pad_id, model.device)  # [B, P]
    prompt_ids, prompt_mask = unique_ids.repeat_interleave(repeats, 0), unique_mask.repeat_interleave(repeats, 0)
    P = prompt_ids.shape[1]
    old_logprobs = None
    if isinstance(model, LlamaDecoder):
        if with_logprobs:
            raise ValueError("with_logprobs needs an HF model: LlamaDecoder doesn't keep the sampling logits")
        completion_ids = model.sample(
            unique_ids,
            unique_mask,
            position_ids_for(unique_mask),
            repeats=repeats,
            max_new_tokens=completion_budget,
            draw=None if greedy else InverseCdfSampling(temperature).draw,
            eos_ids=eos_ids,
            pad_id=pad_id,
        )  # [N, T]
        sequences = torch.cat([prompt_ids, completion_ids], dim=1)
        completion_mask = mask_after_eos(completion_ids, eos_ids)  # [N, T]
    else:
        cache = shared_prefix_cache(model, unique_ids, unique_mask, repeats) if repeats > 1 else None
        config = GenerationConfig(
            do_sample=False,  # greedy picks the token InverseCdfSampling drew (sampling) or the argmax (greedy)
            max_new_tokens=completion_budget,
            pad_token_id=pad_id,
            eos_token_id=eos_ids,
            return_dict_in_generate=True,
            output_logits=with_logprobs and not greedy,
        )
        processors = LogitsProcessorList([] if greedy else [InverseCdfSampling(temperature)])
        out = model.generate(
            input_ids=prompt_ids,
            attention_mask=prompt_mask,
            generation_config=config,
            logits_processor=processors,
            cache=cache,
        )
        sequences = out.sequences
        completion_ids = sequences[:, P:]  # [N, T]
        completion_mask = mask_after_eos(completion_ids, eos_ids)  # [N, T]
        if with_logprobs and not greedy:
            logits = torch.stack(out.logits, dim=1).float() / temperature  # [N, T, V]
            old_logprobs = F.log_softmax(logits, dim=-1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)
            old_logprobs = old_logprobs * completion_mask  # [N, T]
    texts = [  # one copy to the host, not one per row
        str(tokenizer.decode([i for i, keep in zip(ids, m, strict=True) if keep], skip_special_tokens=True))
        for ids, m in zip(completion_ids.tolist(), completion_mask.tolist(), strict=True)
    ]
    return Rollout(
        input_ids=sequences,
        attention_mask=torch.cat([prompt_mask, completion_mask.long()], dim=1),
        completion_mask=completion_mask,
        old_logprobs=old_logprobs,
        texts=texts,
        prompt_tokens=[len(p) for p in expanded],
        prompt_len=P,
        prompt_index=torch.arange(len(prompts), device=sequences.device).repeat_interleave(repeats),
    )


class InverseCdfSampling(LogitsProcessor):
    """Draws each row's next token from softmax(scores / temperature); returns scores that are -inf except there.

    Inverse-CDF sampling: one uniform per row against the row's cumulative probabilities (float64).
    torch.multinomial, which `generate(do_sample=True)` uses, draws one exponential per vocabulary entry
    instead: ~17 ms per decoding step for 8 x 49k on this CPU, 10-15% of a rollout. Same distribution.
    """

    def __init__(self, temperature: float):
        self.temperature = temperature

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, self.draw(scores)[:, None], 0.0)  # type: ignore[return-value]

    def draw(self, scores: torch.Tensor) -> torch.Tensor:
        """One token per row of `scores` [N, V] -> [N]."""
        cdf = torch.softmax(scores.double() / self.temperature, dim=-1).cumsum(dim=-1)  # [N, V]
        u = torch.rand(cdf.shape[0], 1, dtype=cdf.dtype, device=cdf.device) * cdf[:, -1:]  # [N, 1] in [0, total)
        return torch.searchsorted(cdf, u, right=True).clamp(max=cdf.shape[1] - 1).squeeze(1)  # first cdf > u


def shared_prefix_cache(model: Any, ids: torch.Tensor, mask: torch.Tensor, repeats: int) -> DynamicCache | None:
    """KV cache of each prompt but its last token, computed once and repeated for the prompt's G samples.

    Prefill is compute-bound: doing it once per prompt instead of once per sample saves (G-1)/G of it.
    `generate` then runs only the last prompt token and the completion. [B, P-1] -> cache for [B*G, P-1]
    """
    if ids.shape[1] < 2:
        return None
    cache = DynamicCache(config=model.config)
    model(
        input_ids=ids[:, :-1],
        attention_mask=mask[:, :-1],
        position_ids=position_ids_for(mask[:, :-1]),
        cache=cache,
        use_cache=True,
    )
    cache.batch_repeat_interleave(repeats)
    return cache


def token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prompt_len: int,
    temperature: float,
    *,
    with_entropy: bool = False,
    prompt_index: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs of the completion tokens under `model` (and their entropies if asked). Each [n, T].

    `prompt_index` [n] marks rows that continue the same prompt (equal values): the decoder then runs each
    distinct prompt once and the rows' completions attend to its shared KV cache (`shared_prefix_hidden`).
    Gradients flow back through the shared cache, so the result and its gradient equal those of the rows
    run one by one; a group of G samples costs 1 prompt + G completions instead of G prompts + G completions.

    The lm_head only runs on the T positions that predict completion tokens, on a contiguous copy of their
    hidden states: a strided [n, T, H] slice would make the [n, T, H] x [H, V] matmul a batched one that
    materializes n copies of the lm_head weight.
    """
    inner: Any = model.get_base_model() if isinstance(model, PeftModel) else model
    cfg = inner.config
    T = input_ids.shape[1] - prompt_len
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):  # head does more
        out = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids_for(attention_mask),
            logits_to_keep=T + 1,
            use_cache=False,
        )
        return _completion_logprobs(out.logits[:, :-1], input_ids, prompt_len, temperature, with_entropy)
    shared = prompt_index is not None and prompt_len >= 2 and len(prompt_index.unique()) < len(prompt_index)
    if shared:
        assert prompt_index is not None
        hidden = shared_prefix_hidden(inner.get_decoder(), input_ids, attention_mask, prompt_len, prompt_index)
    else:
        hidden = inner.get_decoder()(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids_for(attention_mask),
            use_cache=False,
        ).last_hidden_state[:, prompt_len - 1 :]  # [n, T+1, H]
    logits = inner.get_output_embeddings()(hidden[:, :-1].contiguous())  # [n, T, V]
    return _completion_logprobs(logits, input_ids, prompt_len, temperature, with_entropy)


def shared_prefix_hidden(
    decoder: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prompt_len: int,
    prompt_index: torch.Tensor,
) -> torch.Tensor:
    """Hidden states of positions P-1 .. P+T-1, each distinct prompt's first P-1 tokens run once. [n, T+1, H]

    Pass 1: the u distinct prompts' first P-1 tokens -> a KV cache [u, P-1] (kept in the autograd graph).
    Pass 2: the cache rows picked for the n sequences, then each sequence's last prompt token and completion
    against it, with the full [n, P+T] attention mask and the positions `generate` used.
    """
    distinct, row_to_prompt = prompt_index.unique(return_inverse=True)  # [u], [n] -> 0..u-1
    on = prompt_index.device
    first = torch.full((len(distinct),), len(prompt_index), dtype=torch.long, device=on)  # [u] a row of each prompt
    first.scatter_reduce_(0, row_to_prompt, torch.arange(len(prompt_index), device=on), reduce="amin")
    positions = position_ids_for(attention_mask)  # [n, P+T]
    cache = DynamicCache(config=decoder.config)
    decoder(
        input_ids=input_ids[first, : prompt_len - 1],
        attention_mask=attention_mask[first, : prompt_len - 1],
        position_ids=positions[first, : prompt_len - 1],
        cache=cache,
        use_cache=True,
    )
    cache.batch_select_indices(row_to_prompt)  # differentiable indexing: [u, ...] -> [n, ...]
    return decoder(
        input_ids=input_ids[:, prompt_len - 1 :],
        attention_mask=attention_mask,
        position_ids=positions[:, prompt_len - 1 :],
        cache=cache,
        use_cache=True,
    ).last_hidden_state


def _completion_logprobs(
    logits: torch.Tensor, input_ids: torch.Tensor, prompt_len: int, temperature: float, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[n, T, V] logits (position t predicts completion token t) -> token log-probs [n, T], entropies [n, T]."""
    logp_all = F.log_softmax(logits.float() / temperature, dim=-1)  # [n, T, V]
    logp = logp_all.gather(-1, input_ids[:, prompt_len:].unsqueeze(-1)).squeeze(-1)  # [n, T]
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = -(logp_all.exp() * logp_all).sum(dim=-1)  # [n, T]
    return logp, entropy
