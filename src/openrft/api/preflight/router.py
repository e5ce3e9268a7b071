"""/v1/preflights: a reward function's scores on base-model samples of a training file (openrft's extension).

Handlers translate; openrft.api.preflight.service decides. See docs/reward-functions.md, "Preflight".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from openrft.api.deps import console_url, get_ctx, get_principal
from openrft.api.openapi import json_body, openai_errors
from openrft.api.preflight import service
from openrft.api.preflight.schemas import Preflight, PreflightCreate
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(prefix="/preflights", tags=["reward functions"])


@router.post("", response_model=Preflight, responses=openai_errors(404), openapi_extra=json_body(PreflightCreate))
def create_preflight(
    request: Request,
    payload: Any = Body(default=None, include_in_schema=False),  # parsed by the service, described above
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    """Queue the samples and their scoring (an eval run); poll GET /v1/preflights/{id} for the summary."""
    return service.create(ctx, principal, payload, console_url(request))


@router.get("/{preflight_id}", response_model=Preflight, responses=openai_errors(404))
def retrieve_preflight(
    preflight_id: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.get(ctx, principal, preflight_id, console_url(request))
