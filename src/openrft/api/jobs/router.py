"""Routes of `/v1/fine_tuning/jobs`: OpenAI's fine-tuning jobs API, reinforcement method only."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from openrft.api.authz import RequestInfo
from openrft.api.deps import get_ctx, get_principal
from openrft.api.jobs import metrics, service
from openrft.api.jobs.schemas import (
    FineTuningJob,
    FineTuningJobCheckpointList,
    FineTuningJobEventList,
    FineTuningJobList,
    FineTuningJobMetrics,
    FineTuningJobSampleList,
    JobCreateParams,
    SampleOrder,
)
from openrft.api.openapi import json_body, openai_errors
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(prefix="/fine_tuning/jobs", tags=["fine-tuning"])

_METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")
_METADATA_PARAMETER = {
    "name": "metadata",
    "in": "query",
    "style": "deepObject",
    "explode": True,
    "description": "`metadata[key]=value`: only jobs whose metadata holds every given pair.",
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
}


@router.post("", response_model=FineTuningJob, responses=openai_errors(409), openapi_extra=json_body(JobCreateParams))
def create_job(
    request: Request,
    payload: dict[str, Any] = Body(..., include_in_schema=False),  # validated by the service, described above
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.create_job(ctx, principal, payload, idempotency_key, RequestInfo.of(request))


@router.get("", response_model=FineTuningJobList, openapi_extra={"parameters": [_METADATA_PARAMETER]})
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


@router.get("/{job_id}", response_model=FineTuningJob, responses=openai_errors(404))
def retrieve_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.get_job(ctx, principal, job_id)


@router.post("/{job_id}/cancel", response_model=FineTuningJob, responses=openai_errors(404))
def cancel_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.cancel_job(ctx, principal, job_id)


@router.post("/{job_id}/pause", response_model=FineTuningJob, responses=openai_errors(404))
def pause_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.pause_job(ctx, principal, job_id)


@router.post("/{job_id}/resume", response_model=FineTuningJob, responses=openai_errors(404))
def resume_job(
    job_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> dict[str, Any]:
    return service.resume_job(ctx, principal, job_id)


@router.get("/{job_id}/events", response_model=FineTuningJobEventList, responses=openai_errors(404))
def list_events(
    job_id: str,
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=1000),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.list_events(ctx, principal, job_id, after=after, limit=limit)


@router.get("/{job_id}/checkpoints", response_model=FineTuningJobCheckpointList, responses=openai_errors(404))
def list_checkpoints(
    job_id: str,
    after: str | None = None,
    limit: int = Query(default=10, ge=1, le=100),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.list_checkpoints(ctx, principal, job_id, after=after, limit=limit)


@router.get("/{job_id}/samples", response_model=FineTuningJobSampleList, responses=openai_errors(404))
def list_samples(
    job_id: str,
    step: int | None = Query(default=None, ge=1, description="Only this training step's samples."),
    after: str | None = Query(default=None, description="The id of the last sample already seen."),
    limit: int = Query(default=20, ge=1, le=100),
    order_by: SampleOrder = Query(
        default="step", description="step (oldest first), -step (newest first), reward or -reward (group mean)."
    ),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    """openrft's extension: the training samples each step stored (a prompt, its G completions, their rewards)."""
    return service.list_samples(ctx, principal, job_id, step=step, after=after, limit=limit, order_by=order_by)


@router.get("/{job_id}/metrics", response_model=FineTuningJobMetrics, responses=openai_errors(400, 404))
def job_metrics(
    job_id: str,
    after_step: int | None = Query(default=None, description="Only the steps after this one (live polling)."),
    series: str | None = Query(default=None, description="Comma-separated series names to return (default all)."),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    """openrft's extension: the job's metrics events as columns, its reward-hacking warnings, its audit trail."""
    names = [n.strip() for n in series.split(",") if n.strip()] if series is not None else None
    body = metrics.job_metrics(ctx, principal, job_id, after_step=after_step, series=names)
    return Response(metrics.dumps(body), media_type="application/json")  # half a million numbers: no re-validation
