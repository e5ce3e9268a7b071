"""Hyperparameters of supervised (SFT) and preference (DPO) jobs: `SupervisedHParams`, `DpoHParams`.

The same machinery as RFT's (training/hparams.py): a frozen dataclass whose fields carry a `Help` line
and whether OpenAI's API has them ("auto" then allowed), a `Bound` per number in `LIMITS`, and the
pydantic request models generated from them (`SupervisedRequest` for
`method.supervised.hyperparameters`, `DpoRequest` for `method.dpo.hyperparameters`), which the API and
`resolve()` validate with. The trainer writes `.public()` (every field as it ran, and the derived
`learning_rate`) back into `method[type]["hyperparameters"]`.

"auto", OpenAI's heuristics ("based on the training data"):
- n_epochs: 3; when n_train x 3 < 100, ceil(100 / n_train) (at most 25), so a tiny file is still seen
  ~100 times; when n_train x 3 > 25000, max(1, 25000 // n_train);
- batch_size: min(8, max(1, n_train // 10)) on our CPU default, and never above n_train;
- learning_rate_multiplier: 1.0 (learning rate = multiplier x 1e-4 with LoRA, x 1e-5 full, as RFT);
- beta (DPO): 0.1, the DPO paper's and TRL's default.
Our extras, absent -> the defaults below; eval_interval absent -> about five full evaluations per job.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ValidationError

from openrft.training.hparams import (
    AUTO_MAX_BATCH_SIZE,
    FULL_BASE_LEARNING_RATE,
    LORA_BASE_LEARNING_RATE,
    Bound,
    Help,
    HParamsError,
    Precision,
    _request_error,
    help_table,
    request_model,
)
from openrft.training.hparams import LIMITS as RFT_LIMITS

METHOD_TYPES = ("supervised", "dpo")
AUTO_BETA = 0.1
MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 100, 25_000  # OpenAI's n_epochs "auto" targets
MAX_AUTO_EPOCHS = 25

LIMITS: dict[str, Bound] = {
    **{
        name: RFT_LIMITS[name]
        for name in (
            "n_epochs",
            "batch_size",
            "learning_rate_multiplier",
            "eval_interval",
            "lora_rank",
            "lora_alpha",
            "weight_decay",
            "max_grad_norm",
            "micro_batch_size",
            "seed",
        )
    },
    "max_length": Bound(8, 32_768),  # and below the base model's context (checked by the trainer)
    "beta": Bound(0, 2, open_low=True),
}


@dataclass(frozen=True)
class SupervisedHParams:
    """What one supervised job trains with; `public()` is method.supervised.hyperparameters."""

    # -- OpenAI's names --------------------------------------------------------------------------------
    n_epochs: Annotated[int, Help("Passes over the training file (auto: 3, or ~100 example visits).", "auto")] = 3
    batch_size: Annotated[int, Help("Examples per optimizer step (auto: n_train // 10 within 1..8).", "auto")] = 1
    learning_rate_multiplier: Annotated[
        float, Help("Learning rate = this x 1e-4 with LoRA, x 1e-5 for full fine-tuning.", "auto")
    ] = 1.0
    # -- openrft extras (not in OpenAI's API; accepted in the same hyperparameters object) --------------
    lora_rank: Annotated[int, Help("LoRA rank on every linear projection; 0 trains every weight.")] = 16
    lora_alpha: Annotated[int, Help("LoRA scaling numerator (scale = lora_alpha / lora_rank).")] = 32
    max_length: Annotated[
        int, Help("Tokens per example; longer examples are truncated (their count is in the job's events).")
    ] = 1024
    weight_decay: Annotated[float, Help("AdamW weight decay.")] = 0.0
    max_grad_norm: Annotated[float, Help("Gradient clipping threshold.")] = 1.0
    micro_batch_size: Annotated[
        int, Help("Sequences per forward/backward chunk (length-bucketed): memory, not results.")
    ] = 8
    eval_interval: Annotated[
        int, Help("Steps between full validation passes and checkpoints (absent: about five per job).")
    ] = 10
    seed: Annotated[int, Help("The training seed (data order, LoRA init); default: the job's seed.")] = 0
    precision: Annotated[
        Precision, Help("auto (bf16 where the CPU has native bf16 matmuls), bf16 or fp32 (training/precision.py).")
    ] = "auto"
    # -- derived ---------------------------------------------------------------------------------------
    learning_rate: Annotated[
        float, Help("learning_rate_multiplier x the base rate (1e-4 LoRA, 1e-5 full fine-tuning).", derived=True)
    ] = field(init=False)

    def __post_init__(self) -> None:
        base_rate = LORA_BASE_LEARNING_RATE if self.lora_rank > 0 else FULL_BASE_LEARNING_RATE
        object.__setattr__(self, "learning_rate", base_rate * self.learning_rate_multiplier)

    def steps_per_epoch(self, n_train: int) -> int:
        return math.ceil(n_train / self.batch_size)

    def total_steps(self, n_train: int) -> int:
        return self.n_epochs * self.steps_per_epoch(n_train)

    def public(self) -> dict[str, Any]:
        """Every field, the derived one too, for the job's `method[type].hyperparameters`."""
        return asdict(self)


@dataclass(frozen=True)
class DpoHParams(SupervisedHParams):
    """What one DPO job trains with; `public()` is method.dpo.hyperparameters."""

    beta: Annotated[
        float,
        Help("DPO temperature: weight of the policy/reference log-ratio in the sigmoid loss (auto: 0.1).", "auto"),
    ] = AUTO_BETA


HParamsClass = type[SupervisedHParams]
CLASSES: dict[str, HParamsClass] = {"supervised": SupervisedHParams, "dpo": DpoHParams}
_TABLES = {method: help_table(cls)[1] for method, cls in CLASSES.items()}
DERIVED = ("learning_rate",)

if TYPE_CHECKING:
    SupervisedRequest = BaseModel
    DpoRequest = BaseModel
else:
    SupervisedRequest = request_model(
        SupervisedHParams,
        "SupervisedHyperparameters",
        "`method.supervised.hyperparameters` (and the deprecated top-level `hyperparameters` of a job without "
        "`method`): OpenAI's fields (\"auto\" until the trainer resolves them), openrft's extras (absent: the "
        "trainer's defaults) and the derived learning_rate. Generated from training/hparams_supervised.py.",
        LIMITS,
    )
    DpoRequest = request_model(
        DpoHParams,
        "DpoHyperparameters",
        "`method.dpo.hyperparameters`: OpenAI's fields (\"auto\" until the trainer resolves them), openrft's "
        "extras (absent: the trainer's defaults) and the derived learning_rate. "
        "Generated from training/hparams_supervised.py.",
        LIMITS,
    )
REQUESTS: dict[str, type[BaseModel]] = {"supervised": SupervisedRequest, "dpo": DpoRequest}


def auto_epochs(n_train: int) -> int:
    """OpenAI's n_epochs heuristic: 3, or enough to visit ~100 examples (<= 25), or ~25000 at most."""
    n = max(n_train, 1)
    if n * 3 < MIN_TARGET_EXAMPLES:
        return min(MAX_AUTO_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / n))
    if n * 3 > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // n)
    return 3


def resolve(
    method_type: str, request_hparams: dict[str, Any] | None, n_train: int, n_valid: int, *, seed: int = 0
) -> SupervisedHParams:
    """The hyperparameters of a supervised or dpo job ("auto"/absent -> heuristics from the dataset sizes)."""
    from openrft.training.precision import resolve as resolve_precision

    if method_type not in CLASSES:
        raise HParamsError(f"method type {method_type!r} is not one of {', '.join(METHOD_TYPES)}", param="type")
    helps = _TABLES[method_type]
    try:
        request = REQUESTS[method_type].model_validate(request_hparams or {}).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise _request_error(exc) from None
    given = {k: v for k, v in request.items() if k not in DERIVED and v != helps[k].unset}
    batch_size = min(given.get("batch_size") or min(AUTO_MAX_BATCH_SIZE, max(1, n_train // 10)), max(n_train, 1))
    n_epochs = given.get("n_epochs") or auto_epochs(n_train)
    total = n_epochs * math.ceil(max(n_train, 1) / batch_size)
    auto: dict[str, Any] = {
        "batch_size": batch_size,
        "n_epochs": n_epochs,
        "learning_rate_multiplier": 1.0,
        "eval_interval": max(1, total // 5),
    }
    if method_type == "dpo":
        auto["beta"] = AUTO_BETA
    values = {**auto, **given, "batch_size": batch_size, "seed": given.get("seed", seed)}
    hp = CLASSES[method_type](**values)
    for name in DERIVED:
        if name in request and request[name] != getattr(hp, name):
            raise HParamsError(
                f"{name} is derived, not set: the other hyperparameters give {getattr(hp, name)!r}, the request "
                f"says {request[name]!r} (leave it out)",
                param=name,
            )
    return replace(hp, precision=typing.cast(Precision, resolve_precision(hp.precision)))  # pinned: what ran


def check_request(method_type: str, request_hparams: dict[str, Any] | None) -> SupervisedHParams:
    """The checks job creation can make before reading the data: `resolve` as for a training file large
    enough that batch_size "auto" takes its largest value (AUTO_MAX_BATCH_SIZE)."""
    return resolve(method_type, request_hparams, 10 * AUTO_MAX_BATCH_SIZE, 0)
