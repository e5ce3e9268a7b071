"""Request and response bodies of `/v1/fine_tuning/alpha/graders/{validate,run}`.

Field for field as openai-python's `types/fine_tuning/alpha/`. The grader itself stays a raw object
here: `openrft.graders.validate_grader` checks it, so its errors name the exact field at fault
(`grader.graders.x.operation`) instead of a pydantic union dump.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class GraderValidateRequest(BaseModel):
    grader: dict[str, Any]


class GraderValidateResponse(BaseModel):
    grader: dict[str, Any] | None = None


class GraderRunRequest(BaseModel):
    grader: dict[str, Any]
    model_sample: str = Field(description="Populates `sample`; `output_json` too when it is valid JSON.")
    item: Any = Field(default=None, description="Populates the `item` namespace.")
    reference_answer: Any = Field(default=None, description="Before openai 1.83: becomes item.reference_answer.")


class MetadataErrors(BaseModel):
    formula_parse_error: bool
    invalid_variable_error: bool
    model_grader_parse_error: bool
    model_grader_refusal_error: bool
    model_grader_server_error: bool
    model_grader_server_error_details: str | None = None
    other_error: bool
    python_grader_runtime_error: bool
    python_grader_runtime_error_details: str | None = None
    python_grader_server_error: bool
    python_grader_server_error_type: str | None = None
    sample_parse_error: bool
    truncated_observation_error: bool
    unresponsive_reward_error: bool
    error_details: str | None = Field(default=None, description="openrft extra: why the sample failed.")


class Metadata(BaseModel):
    errors: MetadataErrors
    execution_time: float
    name: str
    sampled_model_name: str | None = None
    scores: dict[str, Any]
    token_usage: int | None = None
    type: str


class GraderRunResponse(BaseModel):
    metadata: Metadata
    model_grader_token_usage_per_model: dict[str, Any]
    reward: float
    sub_rewards: dict[str, Any]
