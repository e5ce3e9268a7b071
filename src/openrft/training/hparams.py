"""Hyperparameters of one RFT job: OpenAI's names where they exist, documented defaults, "auto" resolved.

A job's request carries `method.reinforcement.hyperparameters` in OpenAI's shape (every field may be
"auto" or absent). `resolve()` turns that into a frozen `HParams` from the dataset sizes, and the trainer
writes `HParams.public()` back into the job so users see exactly what ran ("pinned per job").

Learning rate: OpenAI exposes only `learning_rate_multiplier`; the absolute rate is
`learning_rate_multiplier x base rate`, with base rate 1e-4 for LoRA and 1e-5 for full fine-tuning.
Why: 1e-5 is Bedrock RFT's and Predibase's GRPO default (full or large-batch LoRA on large models), and
LoRA's optimal rate is about 10x the full fine-tuning rate ("LoRA Without Regret", Thinking Machines
2025; Tinker's LR formula applies the same factor). Small models with small batches, our CPU default,
tolerate the higher end.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

LORA_BASE_LEARNING_RATE = 1e-4
FULL_BASE_LEARNING_RATE = 1e-5
# reasoning_effort scales the completion budget (`max_completion_tokens` is the "medium" budget).
REASONING_EFFORT_SCALE = {"low": 0.5, "medium": 1.0, "high": 2.0}
# The OpenAI fields a request may set (each int/float or "auto"), and our extras (documented below).
OPENAI_FIELDS = (
    "n_epochs",
    "batch_size",
    "learning_rate_multiplier",
    "eval_interval",
    "eval_samples",
    "compute_multiplier",
    "reasoning_effort",
)


@dataclass(frozen=True)
class Bound:
    """Allowed values of one numeric hyperparameter: low..high inclusive, or above low when `open_low`."""

    low: float
    high: float
    open_low: bool = False

    def admits(self, value: float) -> bool:
        return (self.low < value if self.open_low else self.low <= value) and value <= self.high

    def describe(self) -> str:
        return f"{'>' if self.open_low else '>='} {self.low:g} and <= {self.high:g}"


# The one table of bounds, applied by the API's request schema and by `resolve`, and documented in
# docs/hyperparameters.md. They keep one job's work and memory bounded (with MAX_SAMPLES_PER_STEP).
LIMITS: dict[str, Bound] = {
    "n_epochs": Bound(1, 100),
    "batch_size": Bound(1, 1024),
    "eval_interval": Bound(1, 100_000),
    "eval_samples": Bound(1, 1024),
    "learning_rate_multiplier": Bound(0, 100, open_low=True),
    "compute_multiplier": Bound(0, 16, open_low=True),
    "samples_per_prompt": Bound(2, 64),
    "max_completion_tokens": Bound(1, 32_768),  # and below the base model's context (checked at job creation)
    "temperature": Bound(0, 2, open_low=True),
    "kl_beta": Bound(0, 10),
    "lora_rank": Bound(0, 1024),
    "lora_alpha": Bound(1, 8192),
    "clip_eps_low": Bound(0, 1, open_low=True),
    "clip_eps_high": Bound(0, 10, open_low=True),
    "gspo_clip_eps_low": Bound(0, 1, open_low=True),
    "gspo_clip_eps_high": Bound(0, 1, open_low=True),
    "weight_decay": Bound(0, 1),
    "max_grad_norm": Bound(0, 1e6, open_low=True),
    "micro_batch_size": Bound(1, 1024),
}
MAX_SAMPLES_PER_STEP = 4096  # batch_size x group_size


AUTO_MAX_BATCH_SIZE = 8  # the largest batch_size "auto" picks


def group_size(samples_per_prompt: int, compute_multiplier: float) -> int:
    """Completions per prompt: samples_per_prompt x compute_multiplier, at least 2 (a group needs a baseline)."""
    return max(2, round(samples_per_prompt * compute_multiplier))


def completion_budget(max_completion_tokens: int, reasoning_effort: str) -> int:
    """Max new tokens per completion: max_completion_tokens x the reasoning_effort scale."""
    return max(1, round(max_completion_tokens * REASONING_EFFORT_SCALE[reasoning_effort]))


class HParamsError(ValueError):
    """A hyperparameter has a value the trainer can't use; `param` names it."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class HParams:
    # -- OpenAI's names --------------------------------------------------------------------------------
    n_epochs: int = 1  # passes over the training file ("auto": enough for ~200 prompt visits, at most 10)
    batch_size: int = 4  # prompts per optimizer step ("auto": n_train // 10, clamped to [1, 8])
    learning_rate_multiplier: float = 1.0  # x base rate (1e-4 LoRA, 1e-5 full fine-tuning)
    eval_interval: int = 10  # steps between validation runs + checkpoints ("auto": ~5 per job)
    eval_samples: int = 32  # validation prompts graded per evaluation, one greedy sample each
    compute_multiplier: float = 1.0  # scales samples_per_prompt (exploration per prompt)
    reasoning_effort: str = "medium"  # low | medium | high: x0.5 / x1 / x2 completion budget
    # -- openrft extras (not in OpenAI's API; accepted in the same hyperparameters object) --------------
    samples_per_prompt: int = 4  # group size G before compute_multiplier (TRL: 8, Bedrock: 8, SkyRL: 5)
    max_completion_tokens: int = 64  # completion budget at reasoning_effort "medium"
    temperature: float = 1.0  # sampling temperature of rollouts (TRL default 1.0)
    loss: str = "grpo"  # grpo | dr_grpo | dapo | gspo | rloo (see training/losses.py)
    kl_beta: float = 0.0  # weight of the k3 KL to the base model; 0 = no reference pass (TRL default)
    lora_rank: int = 16  # LoRA rank on attention + MLP projections; 0 = full fine-tuning
    lora_alpha: int = 32  # LoRA scaling numerator (scale = alpha / rank)
    clip_eps_low: float = 0.2  # PPO ratio clip below 1 (token-level losses)
    clip_eps_high: float = 0.2  # PPO ratio clip above 1; the dapo loss uses 0.28 ("clip-higher")
    gspo_clip_eps_low: float = 3e-4  # GSPO sequence-ratio clip below 1 (GSPO paper)
    gspo_clip_eps_high: float = 4e-4  # GSPO sequence-ratio clip above 1 (GSPO paper)
    weight_decay: float = 0.0  # AdamW weight decay
    max_grad_norm: float = 1.0  # gradient clipping (reported as actor_grad_norm before clipping)
    micro_batch_size: int = 16  # sequences per forward/backward chunk (gradient accumulation inside a step)
    seed: int = 0  # the job's seed: data order, LoRA init, sampling
    # "auto" | "bf16" | "fp32": bf16 autocast training with fp32 master weights and a bf16 sampler, the
    # default ("auto") where the CPU has native bf16 matmuls (AMX / AVX512-BF16); see training/precision.py
    precision: str = "auto"

    # -- derived ---------------------------------------------------------------------------------------
    @property
    def group_size(self) -> int:
        return group_size(self.samples_per_prompt, self.compute_multiplier)

    @property
    def completion_budget(self) -> int:
        return completion_budget(self.max_completion_tokens, self.reasoning_effort)

    @property
    def learning_rate(self) -> float:
        base = LORA_BASE_LEARNING_RATE if self.lora_rank > 0 else FULL_BASE_LEARNING_RATE
        return base * self.learning_rate_multiplier

    def steps_per_epoch(self, n_train: int) -> int:
        return math.ceil(n_train / self.batch_size)

    def total_steps(self, n_train: int) -> int:
        return self.n_epochs * self.steps_per_epoch(n_train)

    def public(self) -> dict[str, Any]:
        """Every field, for the job's `method.reinforcement.hyperparameters` (what actually ran)."""
        return asdict(self)


_FIELD_TYPES = {f.name: f.type for f in fields(HParams)}


def _auto_values(n_train: int, n_valid: int, given: dict[str, Any]) -> dict[str, Any]:
    """The heuristics behind "auto" (OpenAI: "replaced by heuristics based on the training data")."""
    batch_size = given.get("batch_size") or min(AUTO_MAX_BATCH_SIZE, max(1, n_train // 10))
    batch_size = min(batch_size, n_train)
    n_epochs = given.get("n_epochs") or min(10, max(1, math.ceil(200 / max(n_train, 1))))
    total = n_epochs * math.ceil(n_train / batch_size)
    return {
        "batch_size": batch_size,
        "n_epochs": n_epochs,
        "eval_interval": max(1, total // 5),  # about five evaluations (and checkpoints) per job
        "eval_samples": max(1, min(32, n_valid)) if n_valid else 32,
        "learning_rate_multiplier": 1.0,
        "compute_multiplier": 1.0,
        "reasoning_effort": "medium",
    }


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES[name]
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            out: Any = int(value)
        elif kind == "float":
            if isinstance(value, bool):
                raise TypeError
            out = float(value)
        else:
            out = str(value)
    except (TypeError, ValueError):
        raise HParamsError(f"hyperparameter {name} must be a {kind}, got {value!r}", param=name) from None
    bound = LIMITS.get(name)
    if bound is not None and not bound.admits(out):
        raise HParamsError(f"hyperparameter {name} must be {bound.describe()}, got {value!r}", param=name)
    return out


def check_work(batch_size: int, group_size: int) -> None:
    """One optimizer step samples batch_size x group_size completions: at most MAX_SAMPLES_PER_STEP."""
    if batch_size * group_size > MAX_SAMPLES_PER_STEP:
        raise HParamsError(
            f"batch_size x samples per prompt (after compute_multiplier) = {batch_size} x {group_size} completions "
            f"per step; at most {MAX_SAMPLES_PER_STEP} are allowed",
            param="batch_size",
        )


def resolve(request_hparams: dict[str, Any] | None, n_train_rows: int, n_valid_rows: int, *, seed: int = 0) -> HParams:
    """HParams from a request's hyperparameters ("auto"/absent -> heuristics from the dataset sizes)."""
    from openrft.training.losses import LOSSES
    from openrft.training.precision import PRECISIONS
    from openrft.training.precision import resolve as resolve_precision

    request = dict(request_hparams or {})
    unknown = set(request) - set(_FIELD_TYPES)
    if unknown:
        name = sorted(unknown)[0]
        raise HParamsError(f"unknown hyperparameter {name!r}", param=name)
    given = {k: _coerce(k, v) for k, v in request.items() if v is not None and v != "auto"}
    if given.get("reasoning_effort") == "default":
        given.pop("reasoning_effort")
    values = {**_auto_values(n_train_rows, n_valid_rows, given), **given, "seed": given.get("seed", seed)}
    hp = replace(HParams(), **values)
    if hp.reasoning_effort not in REASONING_EFFORT_SCALE:
        raise HParamsError(
            f"reasoning_effort must be one of default, {', '.join(REASONING_EFFORT_SCALE)}", param="reasoning_effort"
        )
    if hp.loss not in LOSSES:
        raise HParamsError(f"loss must be one of {', '.join(LOSSES)}, got {hp.loss!r}", param="loss")
    check_work(hp.batch_size, hp.group_size)
    if hp.precision not in PRECISIONS:
        raise HParamsError(f"precision must be one of {', '.join(PRECISIONS)}, got {hp.precision!r}", param="precision")
    hp = replace(hp, precision=resolve_precision(hp.precision))  # pinned: what ran, not "auto"
    if hp.loss == "dapo" and "clip_eps_high" not in given:
        hp = replace(hp, clip_eps_high=0.28)  # DAPO's clip-higher
    return hp
