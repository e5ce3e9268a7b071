"""Routes of the graders API: OpenAI's alpha `validate` and `run` (paths under /v1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from openrft.api.deps import get_ctx, get_principal
from openrft.api.graders import service
from openrft.api.graders.schemas import (
    GraderRunRequest,
    GraderRunResponse,
    GraderValidateRequest,
    GraderValidateResponse,
)
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(prefix="/fine_tuning/alpha/graders", tags=["graders"])


@router.post("/validate", response_model=GraderValidateResponse)
def validate_grader(
    body: GraderValidateRequest,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.validate(ctx, principal, body.grader)


@router.post("/run", response_model=GraderRunResponse)
def run_grader(
    body: GraderRunRequest,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    item = service.item_from(body.item, body.reference_answer)
    return service.run(ctx, principal, body.grader, body.model_sample, item)
