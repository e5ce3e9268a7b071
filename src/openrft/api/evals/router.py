"""Routes of `/v1/evals`: OpenAI's Evals API (evals, their runs, the runs' output items).

Cancel answers on both `POST .../runs/{run_id}/cancel` (what the openai SDK calls) and `POST
.../runs/{run_id}` (OpenAI's API reference); the second is left out of the OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request

from openrft.api.deps import console_url, get_ctx, get_principal
from openrft.api.evals import runs, service
from openrft.api.evals.schemas import (
    Eval,
    EvalCreate,
    EvalDeleted,
    EvalList,
    EvalUpdate,
    OutputItem,
    OutputItemList,
    Run,
    RunCreate,
    RunDeleted,
    RunList,
)
from openrft.api.openapi import json_body, openai_errors
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(prefix="/evals", tags=["evals"])

Order = Literal["asc", "desc"]
RunStatus = Literal["queued", "in_progress", "completed", "canceled", "failed"]
_RAW = Body(..., include_in_schema=False)  # validated by the service, described by json_body(...)


@router.post("", response_model=Eval, openapi_extra=json_body(EvalCreate))
def create_eval(
    payload: dict[str, Any] = _RAW,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.create_eval(ctx, principal, payload)


@router.get("", response_model=EvalList)
def list_evals(
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=100),
    order: Order = "asc",
    order_by: Literal["created_at", "updated_at"] = "created_at",
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.list_evals(ctx, principal, after=after, limit=limit, order=order, order_by=order_by)


@router.get("/{eval_id}", response_model=Eval, responses=openai_errors(404))
def retrieve_eval(
    eval_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.get_eval(ctx, principal, eval_id)


@router.post("/{eval_id}", response_model=Eval, responses=openai_errors(404), openapi_extra=json_body(EvalUpdate))
def update_eval(
    eval_id: str,
    payload: dict[str, Any] = _RAW,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.update_eval(ctx, principal, eval_id, payload)


@router.delete("/{eval_id}", response_model=EvalDeleted, responses=openai_errors(404))
def delete_eval(
    eval_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.delete_eval(ctx, principal, eval_id)


@router.post("/{eval_id}/runs", response_model=Run, responses=openai_errors(404), openapi_extra=json_body(RunCreate))
def create_run(
    eval_id: str,
    request: Request,
    payload: dict[str, Any] = _RAW,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return runs.create_run(ctx, principal, eval_id, payload, console_url(request))


@router.get("/{eval_id}/runs", response_model=RunList, responses=openai_errors(404))
def list_runs(
    eval_id: str,
    request: Request,
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=100),
    order: Order = "asc",
    status: RunStatus | None = None,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return runs.list_runs(
        ctx, principal, eval_id, after=after, limit=limit, order=order, status=status, base_url=console_url(request)
    )


@router.get("/{eval_id}/runs/{run_id}", response_model=Run, responses=openai_errors(404))
def retrieve_run(
    eval_id: str,
    run_id: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return runs.get_run(ctx, principal, eval_id, run_id, console_url(request))


@router.post("/{eval_id}/runs/{run_id}/cancel", response_model=Run, responses=openai_errors(404))
@router.post("/{eval_id}/runs/{run_id}", response_model=Run, include_in_schema=False)
def cancel_run(
    eval_id: str,
    run_id: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return runs.cancel_run(ctx, principal, eval_id, run_id, console_url(request))


@router.delete("/{eval_id}/runs/{run_id}", response_model=RunDeleted, responses=openai_errors(404))
def delete_run(
    eval_id: str, run_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return runs.delete_run(ctx, principal, eval_id, run_id)


@router.get("/{eval_id}/runs/{run_id}/output_items", response_model=OutputItemList, responses=openai_errors(404))
def list_output_items(
    eval_id: str,
    run_id: str,
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=100),
    order: Order = "asc",
    status: Literal["pass", "fail"] | None = None,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return runs.list_output_items(ctx, principal, eval_id, run_id, after=after, limit=limit, order=order, status=status)


@router.get(
    "/{eval_id}/runs/{run_id}/output_items/{output_item_id}", response_model=OutputItem, responses=openai_errors(404)
)
def retrieve_output_item(
    eval_id: str,
    run_id: str,
    output_item_id: str,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return runs.get_output_item(ctx, principal, eval_id, run_id, output_item_id)
