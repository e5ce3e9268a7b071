"""Wire shapes of the Evals API, field for field as openai-python's `types/eval_*.py` and `types/evals/`.

Request models describe the bodies in the OpenAPI document; the service validates the raw body itself
(openrft.evals.definitions / criteria / datasource) so each error names the field as OpenAI does.
Graders and data sources are echoed in their validated form, as free objects here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Metadata = dict[str, str]


# -- requests -------------------------------------------------------------------------------------------


class CustomDataSourceConfig(BaseModel):
    type: Literal["custom"]
    item_schema: dict[str, Any] = Field(description="The JSON Schema of each item (a row's `item`).")
    include_sample_schema: bool = Field(default=False, description="Whether runs supply or generate a `sample`.")


class EvalCreate(BaseModel):
    """openai.types.EvalCreateParams (data_source_config: `custom` only)."""

    data_source_config: CustomDataSourceConfig
    testing_criteria: list[dict[str, Any]] = Field(
        description="Graders: string_check, text_similarity (pass_threshold), python, score_model, label_model, "
        "multi, or openrft's lambda; `pass_threshold` where the kind takes one."
    )
    metadata: Metadata | None = None
    name: str | None = None


class EvalUpdate(BaseModel):
    """openai.types.EvalUpdateParams."""

    metadata: Metadata | None = None
    name: str | None = None


class RunCreate(BaseModel):
    """openai.types.evals.RunCreateParams (data_source: `jsonl` or `completions`)."""

    data_source: dict[str, Any] = Field(
        description='{"type": "jsonl", "source": ...} or {"type": "completions", "model", "input_messages", '
        '"source", "sampling_params"}; source is {"type": "file_content", "content": [...]} or '
        '{"type": "file_id", "id"}.'
    )
    metadata: Metadata | None = None
    name: str | None = None


# -- responses ------------------------------------------------------------------------------------------


class Eval(BaseModel):
    """openai.types.EvalRetrieveResponse."""

    id: str
    created_at: int
    data_source_config: dict[str, Any]
    metadata: Metadata | None = None
    name: str
    object: Literal["eval"] = "eval"
    testing_criteria: list[dict[str, Any]]


class EvalList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Eval]
    first_id: str | None
    last_id: str | None
    has_more: bool


class EvalDeleted(BaseModel):
    deleted: bool = True
    eval_id: str
    object: Literal["eval.deleted"] = "eval.deleted"


class EvalAPIError(BaseModel):
    code: str
    message: str


class ResultCounts(BaseModel):
    errored: int
    failed: int
    passed: int
    total: int


class PerModelUsage(BaseModel):
    cached_tokens: int
    completion_tokens: int
    invocation_count: int
    model_name: str
    prompt_tokens: int
    total_tokens: int


class PerTestingCriteriaResult(BaseModel):
    failed: int
    passed: int
    testing_criteria: str


class Run(BaseModel):
    """openai.types.evals.RunRetrieveResponse; `model` is null for a jsonl run (no model generates)."""

    id: str
    created_at: int
    data_source: dict[str, Any]
    error: EvalAPIError | None = None
    eval_id: str
    metadata: Metadata | None = None
    model: str | None
    name: str
    object: Literal["eval.run"] = "eval.run"
    per_model_usage: list[PerModelUsage]
    per_testing_criteria_results: list[PerTestingCriteriaResult]
    report_url: str = Field(description="The run's page in openrft's console: {base_url}/evals/{eval_id}/runs/{id}.")
    result_counts: ResultCounts
    status: Literal["queued", "in_progress", "completed", "failed", "canceled"]


class RunList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Run]
    first_id: str | None
    last_id: str | None
    has_more: bool


class RunDeleted(BaseModel):
    deleted: bool = True
    object: Literal["eval.run.deleted"] = "eval.run.deleted"
    run_id: str


class OutputItem(BaseModel):
    """openai.types.evals.runs.OutputItemRetrieveResponse."""

    id: str
    created_at: int
    datasource_item: dict[str, Any]
    datasource_item_id: int
    eval_id: str
    object: Literal["eval.run.output_item"] = "eval.run.output_item"
    results: list[dict[str, Any]] = Field(description="One per criterion: name, type, score, passed, sample.")
    run_id: str
    sample: dict[str, Any] = Field(description="input, output, usage, model, finish_reason, sampling, error.")
    status: Literal["pass", "fail"]


class OutputItemList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OutputItem]
    first_id: str | None
    last_id: str | None
    has_more: bool
