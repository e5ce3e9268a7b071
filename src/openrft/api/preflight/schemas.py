"""Shapes of /v1/preflights (openrft's extension), for the OpenAPI document; the service parses the body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class PreflightCreate(BaseModel):
    """Score base-model samples of a training file with a reward function."""

    function: str = Field(description="The reward function: NAME, NAME:VERSION or NAME:ALIAS.")
    training_file: str = Field(description="A file with purpose fine-tune; its first max_prompts lines are read.")
    model: str = Field(description="The model to sample, usually the base model of the planned job.")
    samples_per_prompt: int = Field(default=4, ge=2, le=16, description="G: samples per prompt.")
    max_prompts: int = Field(default=8, ge=1, le=64)
    temperature: float = Field(default=1.0, ge=0, le=2)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)


class Preflight(BaseModel):
    """`preflight`: an eval run of the function on the model's samples, grouped back by prompt."""

    id: str = Field(description="The eval run's id (evalrun_...).")
    object: Literal["preflight"] = "preflight"
    eval_id: str
    status: str
    error: dict[str, Any] | None = None
    function: str
    training_file: str
    model: str
    samples_per_prompt: int
    prompts: int
    completed_samples: int
    total_samples: int
    summary: dict[str, Any] = Field(
        description="samples, mean, std, min, max, histogram [[low, high, count]], prompts_with_several_samples, "
        "flat_prompts, flat_share (prompts whose samples all scored the same), over the prompts done so far."
    )
    errors: dict[str, int] = Field(description="Unscored samples by error family.")
    per_prompt: list[dict[str, Any]]
    report_url: str
