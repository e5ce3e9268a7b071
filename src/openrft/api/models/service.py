"""List, read and delete the models a project can call (base models and its fine-tuned models)."""

from __future__ import annotations

from pathlib import Path

from openrft.api.models.schemas import Model, ModelDeleted, ModelList, model_from_row
from openrft.context import AppContext
from openrft.inference import registry
from openrft.inference.engine import get_engine


def list_models(ctx: AppContext, project_id: str) -> ModelList:
    return ModelList(data=[model_from_row(r) for r in registry.list_models(ctx.store, project_id)])


def get_model(ctx: AppContext, project_id: str, model_id: str) -> Model:
    return model_from_row(registry.get_row(ctx.store, project_id, model_id))


def delete_model(ctx: AppContext, project_id: str, model_id: str) -> ModelDeleted:
    """Soft-delete the row (the files stay with their job) and drop the adapter from memory."""
    resolved = (
        registry.resolve(ctx.store, ctx.settings, project_id, model_id)
        if _is_adapter(ctx, project_id, model_id)
        else None
    )
    registry.delete_model(ctx.store, project_id, model_id)
    if resolved is not None:
        get_engine().forget(resolved)
    return ModelDeleted(id=model_id, deleted=True)


def _is_adapter(ctx: AppContext, project_id: str, model_id: str) -> bool:
    row = registry.get_row(ctx.store, project_id, model_id)
    return row["kind"] != "base" and row["path"] is not None and registry.is_adapter_folder(Path(row["path"]))
