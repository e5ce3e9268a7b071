"""Hyperparameters of one RFT job, defined once: `HParams`, its bounds (`LIMITS`), and the request model.

`HParams` is the frozen dataclass the trainer runs with. Each field carries its default, its type (a
`Literal` for the named choices), one help line, and whether OpenAI's API has it (then a request may say
"auto", or "default" for reasoning_effort); every number has a `Bound` in `LIMITS`. From these alone
`HParamsRequest` is generated: the pydantic model of `method.reinforcement.hyperparameters`, which the
API validates requests with (api/jobs/schemas.py) and `resolve()` validates a job's stored values with,
so both check the same names, types, bounds and messages.

`resolve()` turns a request ("auto" or absent: heuristics from the dataset sizes) into an `HParams`, and
the trainer writes `HParams.public()` back into the job ("pinned per job"): every field as it ran, and the
effective values derived from them (`group_size` after compute_multiplier, `completion_budget` after
reasoning_effort, `learning_rate` after the multiplier). A request may repeat a derived value (a pinned
method sent again) but not change it: it is checked against the fields it comes from.

Names, from the request to the loss: `samples_per_prompt` (asked) -> `group_size` (after
compute_multiplier: rollout.generate, the advantages of losses.py); `max_completion_tokens` (asked) ->
`completion_budget` (after reasoning_effort: rollout.generate, dr_grpo's normalizer in losses.py).

Learning rate: OpenAI exposes only `learning_rate_multiplier`; the absolute rate is
`learning_rate_multiplier x base rate`, with base rate 1e-4 for LoRA and 1e-5 for full fine-tuning.
Why: 1e-5 is Bedrock RFT's and Predibase's GRPO default (full or large-batch LoRA on large models), and
LoRA's optimal rate is about 10x the full fine-tuning rate ("LoRA Without Regret", Thinking Machines
2025; Tinker's LR formula applies the same factor). Small models with small batches, our CPU default,
tolerate the higher end.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, create_model
from pydantic import Field as PydanticField

from openrft.errors import field_error

LORA_BASE_LEARNING_RATE = 1e-4
FULL_BASE_LEARNING_RATE = 1e-5
Loss = Literal["grpo", "dr_grpo", "dapo", "rloo"]  # the keys of training/losses.py LOSSES
Precision = Literal["auto", "bf16", "fp32"]  # training/precision.py
ReasoningEffort = Literal["low", "medium", "high"]
OnRewardHacking = Literal["warn", "pause"]  # what a finding of the reward-hacking monitor does (training/watch.py)
# reasoning_effort scales the completion budget (`max_completion_tokens` is the "medium" budget).
REASONING_EFFORT_SCALE: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}
MAX_SEED = 2**31 - 1


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
    "weight_decay": Bound(0, 1),
    "max_grad_norm": Bound(0, 1e6, open_low=True),
    "micro_batch_size": Bound(1, 1024),
    "seed": Bound(0, MAX_SEED),
    "early_stopping_patience": Bound(0, 10_000),
}
MAX_SAMPLES_PER_STEP = 4096  # batch_size x group_size
AUTO_MAX_BATCH_SIZE = 8  # the largest batch_size "auto" picks


@dataclass(frozen=True)
class Help:
    """What a field of HParams is for: its help line (the API's description) and how a request leaves it unset.

    `unset` "auto" (or "default", reasoning_effort's) marks OpenAI's fields: a request may send that word,
    and the job shows it until the trainer resolves it. Our extras are left out instead (`unset` None).
    `derived`: computed from the other fields and written back into the job, never set.
    """

    text: str
    unset: str | None = None
    derived: bool = False


@dataclass(frozen=True)
class HParams:
    """What one job trains with; `public()` is what the job shows (method.reinforcement.hyperparameters)."""

    # -- OpenAI's names --------------------------------------------------------------------------------
    n_epochs: Annotated[int, Help("Passes over the training file (auto: ~200 prompt visits, at most 10).", "auto")] = 1
    batch_size: Annotated[int, Help("Prompts per optimizer step (auto: n_train // 10 within 1..8).", "auto")] = 4
    learning_rate_multiplier: Annotated[
        float, Help("Learning rate = this x 1e-4 with LoRA, x 1e-5 for full fine-tuning.", "auto")
    ] = 1.0
    eval_interval: Annotated[int, Help("Steps between validation runs and checkpoints (auto: ~5 per job).", "auto")] = (
        10
    )
    eval_samples: Annotated[
        int, Help("Validation prompts graded per evaluation, one greedy completion each.", "auto")
    ] = 32
    compute_multiplier: Annotated[float, Help("Scales samples_per_prompt (the group size).", "auto")] = 1.0
    reasoning_effort: Annotated[
        ReasoningEffort, Help("Scales the completion budget: low x0.5, medium x1, high x2.", "default")
    ] = "medium"
    # -- openrft extras (not in OpenAI's API; accepted in the same hyperparameters object) --------------
    samples_per_prompt: Annotated[int, Help("Completions sampled per prompt before compute_multiplier (TRL: 8).")] = 4
    max_completion_tokens: Annotated[
        int, Help("Longest completion sampled, in tokens, at reasoning_effort medium.")
    ] = 64
    temperature: Annotated[float, Help("Sampling temperature of the rollouts (TRL's default 1.0).")] = 1.0
    loss: Annotated[Loss, Help("Policy loss: grpo, dr_grpo, dapo or rloo (training/losses.py).")] = "grpo"
    kl_beta: Annotated[float, Help("Weight of the k3 KL penalty to the base model; 0 skips the reference pass.")] = 0.0
    lora_rank: Annotated[int, Help("LoRA rank on every linear projection; 0 trains every weight.")] = 16
    lora_alpha: Annotated[int, Help("LoRA scaling numerator (scale = lora_alpha / lora_rank).")] = 32
    weight_decay: Annotated[float, Help("AdamW weight decay.")] = 0.0
    max_grad_norm: Annotated[float, Help("Gradient clipping threshold (actor_grad_norm is before clipping).")] = 1.0
    micro_batch_size: Annotated[int, Help("Sequences per forward/backward chunk: memory, not results.")] = 16
    seed: Annotated[int, Help("The training seed (data order, LoRA init, sampling); default: the job's seed.")] = 0
    precision: Annotated[
        Precision, Help("auto (bf16 where the CPU has native bf16 matmuls), bf16 or fp32 (training/precision.py).")
    ] = "auto"
    on_reward_hacking: Annotated[
        OnRewardHacking,
        Help("A reward-hacking finding writes a warn event (warn) or also checkpoints and pauses the job (pause)."),
    ] = "warn"
    early_stopping_patience: Annotated[
        int,
        Help(
            "Stop after this many evaluations without a new best validation reward; the model is then the best "
            "checkpoint's. 0: off."
        ),
    ] = 0
    # -- derived: what the fields above give, shown in the job -------------------------------------------
    group_size: Annotated[int, Help("samples_per_prompt x compute_multiplier, at least 2.", derived=True)] = field(
        init=False
    )
    completion_budget: Annotated[
        int, Help("max_completion_tokens x the reasoning_effort scale, at least 1.", derived=True)
    ] = field(init=False)
    learning_rate: Annotated[
        float, Help("learning_rate_multiplier x the base rate (1e-4 LoRA, 1e-5 full fine-tuning).", derived=True)
    ] = field(init=False)

    def __post_init__(self) -> None:
        for name, value in _derived(self).items():
            object.__setattr__(self, name, value)

    def steps_per_epoch(self, n_train: int) -> int:
        return math.ceil(n_train / self.batch_size)

    def total_steps(self, n_train: int) -> int:
        return self.n_epochs * self.steps_per_epoch(n_train)

    def public(self) -> dict[str, Any]:
        """Every field, the derived ones too, for the job's `method.reinforcement.hyperparameters`."""
        return asdict(self)


def _derived(hp: HParams) -> dict[str, Any]:
    base_rate = LORA_BASE_LEARNING_RATE if hp.lora_rank > 0 else FULL_BASE_LEARNING_RATE
    return {
        "group_size": max(2, round(hp.samples_per_prompt * hp.compute_multiplier)),  # a group needs a baseline
        "completion_budget": max(1, round(hp.max_completion_tokens * REASONING_EFFORT_SCALE[hp.reasoning_effort])),
        "learning_rate": base_rate * hp.learning_rate_multiplier,
    }


def help_table(cls: type) -> tuple[dict[str, Any], dict[str, Help]]:
    """(name -> Annotated hint, name -> Help) of a hyperparameter dataclass whose fields carry a `Help`."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return hints, {name: get_args(hint)[1] for name, hint in hints.items()}


_HINTS, HELP = help_table(HParams)  # name -> Annotated[type, Help], name -> Help
DERIVED = tuple(name for name, h in HELP.items() if h.derived)


# -- the request model, generated from HParams and LIMITS ------------------------------------------------


def _int_check(bound: Bound | None, unset: str | None) -> BeforeValidator:
    """Strict integer within `bound`: no "3" for 3, no true for 1 (a typo is a 400, not a different run)."""
    expected = "an integer" + (f" >= {int(bound.low)} and <= {int(bound.high)}" if bound else "")
    expected += f' or "{unset}"' if unset else ""

    def check(value: Any) -> Any:
        if unset is not None and value == unset:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or (bound is not None and not bound.admits(value)):
            raise ValueError(f"must be {expected}, got {value!r}")
        return value

    return BeforeValidator(check)


def _float_check(bound: Bound | None, unset: str | None) -> BeforeValidator:
    expected = "a number" + (f" {bound.describe()}" if bound else "")
    expected += f' or "{unset}"' if unset else ""

    def check(value: Any) -> Any:
        if unset is not None and value == unset:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"must be {expected}, got {value!r}")
        if bound is not None and not bound.admits(value):
            raise ValueError(f"must be {expected}, got {value!r}")
        return float(value)

    return BeforeValidator(check)


def _json_bounds(bound: Bound | None) -> dict[str, Any] | None:
    if bound is None:
        return None
    low = "exclusiveMinimum" if bound.open_low else "minimum"
    return {low: bound.low, "maximum": bound.high}


def _request_field(name: str, hint: Any, help_: Help, bound: Bound | None) -> tuple[Any, Any]:
    """(type, pydantic Field) of one dataclass field in a request: "auto"/"default" or absent when not set."""
    unset = help_.unset
    if get_origin(hint) is Literal:
        kind: Any = Literal[(unset, *get_args(hint))] if unset else hint | None
    else:
        check = _int_check(bound, unset) if hint is int else _float_check(bound, unset)
        kind = Annotated[hint | (Literal[unset] if unset else None), check]
    text = help_.text
    if help_.derived:
        text += " Shown by the job: a request may repeat it, not change it."
    return kind, PydanticField(default=unset, description=text, json_schema_extra=_json_bounds(bound))


def request_model(cls: type, model_name: str, doc: str, limits: dict[str, Bound]) -> type[BaseModel]:
    """The pydantic request model (extra="forbid") of a hyperparameter dataclass: its fields' types, help
    lines and `limits`, so the API and `resolve` check the same names, types, bounds and messages."""
    hints, helps = help_table(cls)
    fields_of_request: dict[str, Any] = {
        name: _request_field(name, get_args(hints[name])[0], helps[name], limits.get(name)) for name in helps
    }
    return create_model(model_name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields_of_request)


def _request_model() -> type[BaseModel]:
    return request_model(
        HParams,
        "RFTHyperparameters",
        '`method.reinforcement.hyperparameters`: OpenAI\'s fields ("auto" until the trainer resolves them), '
        "openrft's extras (absent: the trainer's defaults) and the derived values a job shows "
        "(a request may repeat them, not change them). Generated from training/hparams.py HParams.",
        LIMITS,
    )


if TYPE_CHECKING:
    HParamsRequest = BaseModel
else:
    HParamsRequest = _request_model()


# -- resolution -------------------------------------------------------------------------------------


class HParamsError(ValueError):
    """A hyperparameter has a value the trainer can't use; `param` names it."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


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


def _request_error(exc: ValidationError) -> HParamsError:
    err = field_error(exc.errors())
    name = err.parts[0] if err.parts else "hyperparameters"
    if err.kind == "extra_forbidden":
        return HParamsError(f"unknown hyperparameter {name!r}", param=name)
    return HParamsError(f"hyperparameter {name}: {err.message}", param=name)


def check_work(batch_size: int, group_size: int) -> None:
    """One optimizer step samples batch_size x group_size completions: at most MAX_SAMPLES_PER_STEP."""
    if batch_size * group_size > MAX_SAMPLES_PER_STEP:
        raise HParamsError(
            f"batch_size x group_size (samples_per_prompt x compute_multiplier) = {batch_size} x {group_size} "
            f"completions per step; at most {MAX_SAMPLES_PER_STEP} are allowed",
            param="batch_size",
        )


# Fields a job pinned before they were removed (they never acted: one on-policy pass per step keeps the
# PPO ratio at 1). Such a job resumes without them; a new request naming them is refused as unknown.
RETIRED = frozenset({"clip_eps_low", "clip_eps_high", "gspo_clip_eps_low", "gspo_clip_eps_high"})


def resolve(request_hparams: dict[str, Any] | None, n_train_rows: int, n_valid_rows: int, *, seed: int = 0) -> HParams:
    """HParams from a request's hyperparameters ("auto"/absent -> heuristics from the dataset sizes)."""
    from openrft.training.precision import resolve as resolve_precision

    try:
        request = HParamsRequest.model_validate(request_hparams or {}).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise _request_error(exc) from None
    given = {k: v for k, v in request.items() if k not in DERIVED and v != HELP[k].unset}
    values = {**_auto_values(n_train_rows, n_valid_rows, given), **given, "seed": given.get("seed", seed)}
    hp = HParams(**values)
    for name in DERIVED:
        if name in request and request[name] != getattr(hp, name):
            raise HParamsError(
                f"{name} is derived, not set: the other hyperparameters give {getattr(hp, name)!r}, the request "
                f"says {request[name]!r} (leave it out)",
                param=name,
            )
    check_work(hp.batch_size, hp.group_size)
    hp = replace(hp, precision=typing.cast(Precision, resolve_precision(hp.precision)))  # pinned: what ran
    return hp


def check_request(request_hparams: dict[str, Any] | None) -> HParams:
    """The checks job creation can make before reading the data: `resolve` as for a training file large
    enough that batch_size "auto" takes its largest value (AUTO_MAX_BATCH_SIZE)."""
    return resolve(request_hparams, 10 * AUTO_MAX_BATCH_SIZE, 0)
