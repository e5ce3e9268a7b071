"""Routes of `/v1/fine_tuning/jobs`: OpenAI's fine-tuning jobs API, reinforcement method only."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request

from openrft.api.deps import AppContext, get_ctx, get_principal
from openrft.api.jobs import service
from openrft.auth.keys import Principal

router = APIRouter(prefix="/fine_tuning/jobs", tags=["fine-tuning"])

_METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")


@router.post("")
def create_job(
    payload: dict[str, Any] = Body(...),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.create_job(ctx, principal, payload, idempotency_key)


@router.get("")
def list_jobs(
    request: Request,
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=100),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    metadata = {
        m.group(1): value for key, value in request.query_params.multi_items() if (m := _METADATA_QUERY.match(key))
    }
    return service.list_jobs(ctx, principal, after=after, limit=limit, metadata=metadata)


@router.get("/{job_id}")
def retrieve_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.get_job(ctx, principal, job_id)


@router.post("/{job_id}/cancel")
def cancel_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.cancel_job(ctx, principal, job_id)


@router.post("/{job_id}/pause")
def pause_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.pause_job(ctx, principal, job_id)


@router.post("/{job_id}/resume")
def resume_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.resume_job(ctx, principal, job_id)


@router.get("/{job_id}/events")
def list_events(
    job_id: str,
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=1000),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.list_events(ctx, principal, job_id, after=after, limit=limit)


@router.get("/{job_id}/checkpoints")
def list_checkpoints(
    job_id: str,
    after: str | None = None,
    limit: int = Query(default=10, ge=1, le=100),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.list_checkpoints(ctx, principal, job_id, after=after, limit=limit)
