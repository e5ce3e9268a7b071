"""/v1/reviews: experts' ratings of completions and their agreement with the reward (openrft's extension).

Handlers translate; openrft.api.reviews.service decides. See docs/evals.md, "Expert review".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response

from openrft.api.deps import get_ctx, get_principal
from openrft.api.openapi import json_body, openai_errors
from openrft.api.reviews import service
from openrft.api.reviews.schemas import AgreementReport, Rating, RatingCreate, RatingList, ReviewQueue
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(prefix="/reviews", tags=["reviews"])

JOB = Query(default=None, description="A fine-tuning job: its training samples' completions.")
RUN = Query(default=None, description="An eval run: its output items.")
STEP = Query(default=None, ge=1, le=2**31 - 1, description="A training step of job_id.")


@router.post("/ratings", response_model=Rating, responses=openai_errors(404), openapi_extra=json_body(RatingCreate))
def rate(
    payload: Any = Body(default=None, include_in_schema=False),  # parsed by the service, described above
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.rate(ctx, principal, payload)


@router.get("/ratings", response_model=RatingList, responses=openai_errors(404))
def list_ratings(
    job_id: str | None = JOB,
    run_id: str | None = RUN,
    after: str | None = Query(default=None, description="The id of the last rating already seen."),
    limit: int = Query(default=20, ge=1, le=100),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.list_ratings(ctx, principal, job_id=job_id, run_id=run_id, after=after, limit=limit)


@router.get(
    "/ratings/export",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "JSONL: one rating per line."},
        **openai_errors(404),
    },
)
def export_ratings(
    job_id: str | None = JOB,
    run_id: str | None = RUN,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    """Each rating with the prompt, the completion and the reward it rated: a download."""
    body = b"".join(service.export_lines(ctx, principal, job_id=job_id, run_id=run_id))
    name = f"ratings-{job_id or run_id or principal.project_id}.jsonl"
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/queue", response_model=ReviewQueue, responses=openai_errors(404))
def review_queue(
    job_id: str | None = JOB,
    step: int | None = STEP,
    run_id: str | None = RUN,
    limit: int = Query(default=10, ge=1, le=100, description="Groups of the step, or items of the run."),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    """Completions to rate, without their rewards."""
    return service.queue(ctx, principal, job_id=job_id, step=step, run_id=run_id, limit=limit)


@router.get("/agreement", response_model=AgreementReport, responses=openai_errors(404))
def agreement(
    job_id: str | None = JOB,
    step: int | None = STEP,
    run_id: str | None = RUN,
    threshold: float | None = Query(
        default=None,
        allow_inf_nan=False,
        description="The reward calls a completion good at or above this score. Default: 0.5 for training "
        "samples; for an eval run each criterion's own pass rule.",
    ),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    return service.agreement_report(ctx, principal, job_id=job_id, step=step, run_id=run_id, threshold=threshold)
