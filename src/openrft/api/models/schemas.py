"""Response shapes of /v1/models: `openai.types.Model` and `openai.types.ModelDeleted`, plus openrft's
lineage fields (the SDK's Model keeps extra fields: `model.base_model`, `model.model_extra`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    # -- openrft extras -----------------------------------------------------------------------------
    base_model: str | None = Field(
        default=None,
        description="openrft's extension: the base model the weights are on (the root of a chain of jobs; "
        "the model itself for a base model).",
    )
    parent_model: str | None = Field(
        default=None,
        description="openrft's extension: the fine-tuned model or checkpoint the job that made this model started "
        "from; null when it started from a base model (and for base models).",
    )
    job_id: str | None = Field(
        default=None, description="openrft's extension: the fine-tuning job that made this model (null for a base)."
    )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ModelDeleted(BaseModel):
    id: str
    object: Literal["model"] = "model"
    deleted: bool


def model_from_row(row: dict[str, Any]) -> Model:
    return Model(
        id=row["id"],
        created=row["created_at"],
        owned_by=row["project_id"] or "openrft",
        base_model=row.get("base_model") or row["id"],
        parent_model=row.get("parent_model"),
        job_id=row.get("job_id"),
    )
