"""Checkpoints: everything a run needs to continue bit-for-bit, written atomically, pruned to the best.

A checkpoint folder `<checkpoints_dir>/<job_id>/step-N/` holds:

    model/          PEFT adapter (adapter_config.json + safetensors), or the full model + tokenizer
                    when lora_rank == 0; callable as `ft:...:ckpt-step-N` through the model registry
    optimizer.pt    AdamW state
    rng.pt          RNG states: torch's CPU generator, every visible CUDA GPU's (when torch sees GPUs), python
                    `random` and numpy (written by us; loaded with weights_only=False)
    state.json      TrainState: step (the data position is a pure function of it), tokens, error streak

It is written into a temporary sibling folder and renamed into place, so a crash leaves either the whole
checkpoint or none. Files are read onto the host and placed on the model's device by loading (optimizer
state follows its parameters), so a checkpoint written on a GPU resumes on a CPU and back; only a resume
on the same kind of device replays bit-for-bit (CUDA states are restored on the GPUs they were saved from,
a CPU-only run ignores them). Retention: the `keep` best by validation reward (train reward when there is no
validation file; for supervised and dpo the lowest
validation loss, else train loss), plus always the newest (it is what a resume needs).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file

from openrft.atomicdir import atomic_directory
from openrft.hardware import HOST


@dataclass
class TrainState:
    step: int = 0  # optimizer steps done; the next batch is data.batch_indices(step, ...)
    trained_tokens: int = 0  # prompt + completion tokens of every sequence trained on
    grader_error_streak: int = 0  # consecutive steps with a grader error rate over the limit


def save(
    root: Path, model: torch.nn.Module, tokenizer: Any, optimizer: torch.optim.Optimizer, state: TrainState
) -> Path:
    """Write checkpoint `root/step-<state.step>` atomically; returns its folder.

    A folder of that step left by an attempt that crashed before registering it is replaced."""
    final = root / f"step-{state.step}"
    with atomic_directory(final) as tmp:
        save_model(model, tokenizer, tmp / "model")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(rng_state(), tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(asdict(state)))
    return final


def save_model(model: torch.nn.Module, tokenizer: Any, folder: Path) -> None:
    """PEFT adapter folder (the trained adapter only, not a chained run's frozen reference), or (full
    fine-tuning) a complete HF model folder with its tokenizer."""
    if isinstance(model, PeftModel):
        model.save_pretrained(str(folder), selected_adapters=["default"])
    else:
        model.save_pretrained(folder)  # type: ignore[operator]
    if not isinstance(model, PeftModel):
        tokenizer.save_pretrained(folder)


def save_final(model: torch.nn.Module, tokenizer: Any, folder: Path) -> Path:
    """The fine-tuned model's folder, written atomically (temp sibling + rename)."""
    with atomic_directory(folder) as tmp:
        save_model(model, tokenizer, tmp)
    return folder


def load(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> TrainState:
    """Restore weights, optimizer and RNG states from a checkpoint folder; returns its TrainState."""
    weights_dir = folder / "model"
    if isinstance(model, PeftModel):
        result = set_peft_model_state_dict(model, load_file(str(weights_dir / "adapter_model.safetensors")))
        unexpected = list(getattr(result, "unexpected_keys", []))
        if unexpected:
            raise ValueError(f"checkpoint {folder} has unexpected adapter keys: {unexpected[:3]}")
    else:
        state_dict: dict[str, torch.Tensor] = {}
        for shard in sorted(weights_dir.glob("*.safetensors")):
            state_dict.update(load_file(str(shard)))
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        tied = {"lm_head.weight"}  # saved once when tied to the embeddings
        if unexpected or set(missing) - tied:
            raise ValueError(f"checkpoint {folder} does not match the model: {missing[:3]} {unexpected[:3]}")
    # Onto the host first: load_state_dict moves each state to its parameter's device and keeps `step`
    # counters where a fresh AdamW keeps them (host scalars).
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=HOST, weights_only=True))
    restore_rng(torch.load(folder / "rng.pt", map_location=HOST, weights_only=False))  # python/numpy states
    return TrainState(**json.loads((folder / "state.json").read_text()))


def rng_state() -> dict[str, Any]:
    """Every RNG a run draws from: torch on the CPU and on each visible GPU, python `random`, numpy."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],  # [ByteTensor] per GPU
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def restore_rng(rng: dict[str, Any]) -> None:
    """Set the RNGs `rng_state()` saved; CUDA states on the GPUs there are of those saved (none on a CPU)."""
    torch.set_rng_state(rng["torch"])
    cuda = rng.get("cuda", [])  # absent from checkpoints written before GPUs were supported
    if cuda and torch.cuda.is_available():
        for index, state in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state, index)
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])


def score_of(metrics: dict[str, Any]) -> float:
    """The number checkpoints are ranked by (higher is better): validation reward, else train reward (RFT);
    minus the full validation loss, else the validation loss, else the train loss (supervised, dpo)."""
    for key in ("valid_reward_mean", "train_reward_mean"):
        if metrics.get(key) is not None:
            return float(metrics[key])
    for key in ("full_valid_loss", "valid_loss", "train_loss"):
        if metrics.get(key) is not None:
            return -float(metrics[key])
    return float("-inf")


def to_prune(checkpoints: list[dict[str, Any]], keep: int = 3) -> list[dict[str, Any]]:
    """Checkpoints to delete: all but the `keep` best (ties: later step wins) and the newest."""
    if not checkpoints:
        return []
    newest = max(checkpoints, key=lambda c: c["step_number"])
    ranked = sorted(checkpoints, key=lambda c: (score_of(c.get("metrics") or {}), c["step_number"]), reverse=True)
    kept = {id(c) for c in ranked[:keep]} | {id(newest)}
    return [c for c in checkpoints if id(c) not in kept]
