"""Routes of the models API: GET /v1/models, GET and DELETE /v1/models/{model} (OpenAI shapes).

Fine-tuned model ids contain colons (`ft:base:proj:suffix:job`), so the path parameter takes the rest
of the path.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from openrft.api.deps import get_ctx, get_principal
from openrft.api.models import service
from openrft.api.models.schemas import Model, ModelDeleted, ModelList
from openrft.api.openapi import openai_errors
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList)
def list_models(principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)) -> ModelList:
    return service.list_models(ctx, principal.project_id)


@router.get("/models/{model_id:path}", response_model=Model, responses=openai_errors(404))
def get_model(
    model_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> Model:
    return service.get_model(ctx, principal.project_id, model_id)


@router.delete("/models/{model_id:path}", response_model=ModelDeleted, responses=openai_errors(400, 404))
def delete_model(
    model_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> ModelDeleted:
    return service.delete_model(ctx, principal.project_id, model_id)
