"""Console pages: expert review, for the people who define "good".

- `/reviews`: pick what to review, a job's training step or an eval run (two GET forms, no script needed).
- `/reviews?job_id=...&step=N` or `/reviews?run_id=...`: rate the completions good or bad with an optional
  comment, their rewards hidden (the queue of `/v1/reviews/queue`); beside them, the agreement of the
  reward with the ratings (`/v1/reviews/agreement`: agreement rate, Cohen's kappa, per component, the
  disagreements first with the reward shown), redrawn after each rating by reviews.js.
- `/reviews/export?...`: the ratings as a JSONL download, a plain link (the service with the session's
  principal; a link cannot send the CSRF header the /v1 route wants from a cookie).

The first view comes from the services with the signed-in principal, so another project's job or run is
the services' NotFound: the refusal page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import get_ctx
from openrft.api.evals import runs as eval_runs
from openrft.api.evals import service as evals_service
from openrft.api.jobs import service as jobs_service
from openrft.api.reviews import service
from openrft.auth.sessions import Session
from openrft.context import AppContext

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

JOBS_SHOWN = 50
EVALS_SHOWN = 20
RUNS_PER_EVAL = 20
QUEUE_GROUPS = 10


def _run_choices(ctx: AppContext, session: Session, base_url: str) -> list[dict[str, Any]]:
    """The completed runs of the project's newest evals, for the picker."""
    evals = evals_service.list_evals(
        ctx, session.principal, after=None, limit=EVALS_SHOWN, order="desc", order_by="created_at"
    )["data"]
    choices: list[dict[str, Any]] = []
    for ev in evals:
        runs = eval_runs.list_runs(ctx, session.principal, ev["id"], after=None, limit=RUNS_PER_EVAL, order="desc",
                                   status="completed", base_url=base_url)["data"]  # fmt: skip
        choices.extend({"id": r["id"], "label": f"{r['name']} · {ev['name']}", "total": r["result_counts"]["total"]}
                       for r in runs)  # fmt: skip
    return choices


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(
    request: Request,
    job_id: str | None = Query(default=None),
    step: int | None = Query(default=None),
    run_id: str | None = Query(default=None),
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    base_url = str(request.base_url).rstrip("/")
    job_id, run_id = job_id or None, run_id or None
    jobs = jobs_service.list_jobs(ctx, session.principal, after=None, limit=JOBS_SHOWN, metadata={})["data"]
    runs = _run_choices(ctx, session, base_url)
    queue = None
    if job_id is not None or run_id is not None:
        queue = service.queue(
            ctx, session.principal, job_id=job_id, step=step if job_id else None, run_id=run_id, limit=QUEUE_GROUPS
        )
        if job_id is not None and step is not None and step not in queue["steps"]:  # pruned or never stored
            queue = service.queue(ctx, session.principal, job_id=job_id, step=None, run_id=None, limit=QUEUE_GROUPS)
    scope = {"job_id": job_id, "step": queue.get("step") if queue and job_id else None, "run_id": run_id}
    export = "&".join(f"{k}={v}" for k, v in (("job_id", job_id), ("run_id", run_id)) if v)
    return render(
        request,
        "reviews.html",
        session,
        title="Expert review",
        jobs=jobs,
        runs=runs,
        queue=queue,
        scope=scope,
        asked_step=step,
        export_href="/reviews/export" + (f"?{export}" if export else ""),
    )


@router.get("/reviews/export")
def export(
    job_id: str | None = Query(default=None),
    run_id: str | None = Query(default=None),
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    job_id, run_id = job_id or None, run_id or None
    body = b"".join(service.export_lines(ctx, session.principal, job_id=job_id, run_id=run_id))
    name = f"ratings-{job_id or run_id or session.principal.project_id}.jsonl"
    return Response(
        body, media_type="application/x-ndjson", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
