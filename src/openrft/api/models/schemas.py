"""Response shapes of /v1/models: `openai.types.Model` and `openai.types.ModelDeleted`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ModelDeleted(BaseModel):
    id: str
    object: Literal["model"] = "model"
    deleted: bool


def model_from_row(row: dict[str, Any]) -> Model:
    return Model(id=row["id"], created=row["created_at"], owned_by=row["project_id"] or "openrft")
