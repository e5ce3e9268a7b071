"""Request models of the fine-tuning jobs API, following OpenAI's `JobCreateParams`.

Field names and order mirror openai-python's `types/fine_tuning/`; openrft's own hyperparameters sit in
a marked block of `RFTHyperparameters`. Numbers are checked strictly (no "3" for 3, no true for 1) so a
typo in a job definition is a 400 naming the field, not a silently different run.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

SUFFIX_PATTERN = r"^[a-zA-Z0-9_-]+$"
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_SEED = 2**31 - 1


def _int_check(minimum: int, *, auto: bool, maximum: int | None = None) -> BeforeValidator:
    expected = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    expected += ' or "auto"' if auto else ""

    def check(value: Any) -> Any:
        if auto and value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be {expected}, got {value!r}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be {expected}, got {value!r}")
        return value

    return BeforeValidator(check)


def _float_check(minimum: float, *, strict: bool, auto: bool) -> BeforeValidator:
    expected = f"a number {'>' if strict else '>='} {minimum:g}" + (' or "auto"' if auto else "")

    def check(value: Any) -> Any:
        if auto and value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"must be {expected}, got {value!r}")
        if value < minimum or (strict and value == minimum):
            raise ValueError(f"must be {expected}, got {value!r}")
        return float(value)

    return BeforeValidator(check)


AutoPositiveInt = Annotated[int | Literal["auto"], _int_check(1, auto=True)]
AutoPositiveFloat = Annotated[float | Literal["auto"], _float_check(0.0, strict=True, auto=True)]


class RFTHyperparameters(BaseModel):
    """`method.reinforcement.hyperparameters`; "auto" stays until the trainer resolves it from the data."""

    model_config = ConfigDict(extra="forbid")

    # -- OpenAI's reinforcement hyperparameters (openai.types.fine_tuning.ReinforcementHyperparameters) --
    batch_size: AutoPositiveInt = "auto"
    compute_multiplier: AutoPositiveFloat = "auto"
    eval_interval: AutoPositiveInt = "auto"
    eval_samples: AutoPositiveInt = "auto"
    learning_rate_multiplier: AutoPositiveFloat = "auto"
    n_epochs: AutoPositiveInt = "auto"
    reasoning_effort: Literal["default", "low", "medium", "high"] = "default"

    # -- openrft extras (not in OpenAI's API); unset ones get the trainer's documented defaults --------
    samples_per_prompt: Annotated[int | None, _int_check(2, auto=False)] = Field(
        default=None, description="Completions sampled per prompt (the GRPO group size)."
    )
    max_completion_tokens: Annotated[int | None, _int_check(1, auto=False)] = Field(
        default=None, description="Longest completion sampled during training, in tokens."
    )
    temperature: Annotated[float | None, _float_check(0.0, strict=True, auto=False)] = Field(
        default=None, description="Sampling temperature of the rollouts."
    )
    loss: Literal["grpo", "dr_grpo", "dapo", "gspo", "rloo"] | None = Field(
        default=None, description="Policy loss: grpo, dr_grpo, dapo, gspo or rloo."
    )
    kl_beta: Annotated[float | None, _float_check(0.0, strict=False, auto=False)] = Field(
        default=None, description="Weight of the KL penalty to the base model (0 = none)."
    )
    lora_rank: Annotated[int | None, _int_check(0, auto=False)] = Field(
        default=None, description="LoRA rank; 0 trains every weight (full fine-tuning)."
    )
    precision: Literal["auto", "bf16", "fp32"] | None = Field(
        default=None, description="Compute precision: auto (bf16 where the CPU has native bf16 matmuls), bf16, fp32."
    )
    lora_alpha: Annotated[int | None, _int_check(1, auto=False)] = Field(
        default=None, description="LoRA scaling numerator (scale = lora_alpha / lora_rank)."
    )
    clip_eps_low: Annotated[float | None, _float_check(0.0, strict=True, auto=False)] = Field(
        default=None, description="PPO ratio clip below 1 (token-level losses)."
    )
    clip_eps_high: Annotated[float | None, _float_check(0.0, strict=True, auto=False)] = Field(
        default=None, description="PPO ratio clip above 1 (dapo's default is 0.28)."
    )
    gspo_clip_eps_low: Annotated[float | None, _float_check(0.0, strict=True, auto=False)] = Field(
        default=None, description="GSPO sequence-ratio clip below 1."
    )
    gspo_clip_eps_high: Annotated[float | None, _float_check(0.0, strict=True, auto=False)] = Field(
        default=None, description="GSPO sequence-ratio clip above 1."
    )
    weight_decay: Annotated[float | None, _float_check(0.0, strict=False, auto=False)] = Field(
        default=None, description="AdamW weight decay."
    )
    max_grad_norm: Annotated[float | None, _float_check(0.0, strict=True, auto=False)] = Field(
        default=None, description="Gradient clipping threshold."
    )
    micro_batch_size: Annotated[int | None, _int_check(1, auto=False)] = Field(
        default=None, description="Sequences per forward/backward chunk (memory, not results)."
    )
    seed: Annotated[int | None, _int_check(0, auto=False, maximum=MAX_SEED)] = Field(
        default=None, description="The training seed; defaults to the job's `seed` (a pinned job carries it here)."
    )


class ReinforcementMethod(BaseModel):
    """`method.reinforcement`: the grader is checked by `openrft.graders.validate_grader`."""

    model_config = ConfigDict(extra="forbid")

    grader: dict[str, Any]
    hyperparameters: RFTHyperparameters = Field(default_factory=RFTHyperparameters)
    response_format: dict[str, Any] | None = None


class WandbIntegration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str
    entity: str | None = None
    name: str | None = None
    tags: list[str] | None = None


class Integration(BaseModel):
    """Accepted and stored as OpenAI has it; openrft reports to no external service."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["wandb"]
    wandb: WandbIntegration


class JobCreate(BaseModel):
    """`POST /v1/fine_tuning/jobs`; `method` is checked separately (only reinforcement is supported)."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, StringConstraints(min_length=1)]
    training_file: Annotated[str, StringConstraints(min_length=1)]
    hyperparameters: dict[str, Any] | None = None  # deprecated top-level form: supervised only
    integrations: list[Integration] | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    seed: Annotated[int | None, _int_check(0, auto=False, maximum=MAX_SEED)] = None
    suffix: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SUFFIX_PATTERN)] | None = None
    validation_file: str | None = None
