"""Console pages: the jobs list, a job's page (live curves, warnings, events, audit, controls), its samples.

- `/jobs`: the project's jobs; jobs.js polls `/v1/fine_tuning/jobs` and each running job's
  `/metrics?series=train_reward_mean` for the progress, the reward sparkline and the warnings count.
- `/jobs/{job_id}`: header, controls (pause / resume / cancel through the /v1 endpoints), the curves of
  `/v1/fine_tuning/jobs/{id}/metrics` polled with `after_step`, the reward-hacking warnings as markers with
  their evidence, the audit trail, the event log, the resolved hyperparameters. A supervised or dpo job
  has no grader, samples or warnings: its page shows its method, its hyperparameters (`method[type]`) and
  its loss and accuracy curves (SFT: loss and mean token accuracy; DPO: loss, reward accuracy and reward
  margin; each on train, the validation batch and the full validation set) from the same endpoint.
- `/jobs/{job_id}/samples?step=N`: one stored step's prompts and their G completions side by side, from
  `/v1/fine_tuning/jobs/{id}/samples?step=N`, with a histogram of the step's rewards.

The server renders what the first paint needs (the job, the jobs table, the stored steps) through the jobs
service with the signed-in principal, so another project's job is the service's NotFound: the refusal page.
The scripts then read the same /v1 API a client would.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import get_ctx
from openrft.api.jobs import service
from openrft.auth.sessions import Session
from openrft.context import AppContext
from openrft.jobstatus import TERMINAL_STATUSES

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

JOBS_SHOWN = 100  # the API's largest page: the newest jobs


METHOD_LABELS = {
    "reinforcement": "reinforcement (RFT)",
    "supervised": "supervised (SFT)",
    "dpo": "preference (DPO)",
}


def method_type(job: dict[str, Any]) -> str:
    """The job's method: `method.type`; a job created without one is supervised, as OpenAI's are."""
    return str((job.get("method") or {}).get("type") or "supervised")


def _grader_summary(job: dict[str, Any]) -> dict[str, Any]:
    reinforcement = (job.get("method") or {}).get("reinforcement") or {}
    grader = reinforcement.get("grader") or {}
    function = (grader.get("lambda") or {}).get("function") if grader.get("type") == "lambda" else None
    return {"type": grader.get("type"), "name": grader.get("name"), "function": function}


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request, session: Session = Depends(signed_in), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    listed = service.list_jobs(ctx, session.principal, after=None, limit=JOBS_SHOWN, metadata={})
    return render(request, "jobs.html", session, title="Jobs", jobs=listed["data"], has_more=listed["has_more"])


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: str, request: Request, session: Session = Depends(signed_in), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    job = service.get_job(ctx, session.principal, job_id)
    method = method_type(job)
    settings = (job.get("method") or {}).get(method) or {}
    reinforcement = settings if method == "reinforcement" else {}
    hyperparameters = sorted((settings.get("hyperparameters") or {}).items())
    return render(
        request,
        "job.html",
        session,
        title=f"Job {job_id}",
        job=job,
        method=method,
        method_label=METHOD_LABELS.get(method, method),
        grader=_grader_summary(job),
        hyperparameters=hyperparameters,
        guards=[g.get("name") for g in reinforcement.get("guard_graders") or []],
        terminal=job["status"] in TERMINAL_STATUSES,
    )


@router.get("/jobs/{job_id}/samples", response_class=HTMLResponse)
def samples_page(
    job_id: str,
    request: Request,
    step: str | None = Query(default=None),  # text: a hand-typed ?step=abc shows the newest step, not an error
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    job = service.get_job(ctx, session.principal, job_id)
    steps = service.list_sample_steps(ctx, session.principal, job_id)
    asked = int(step) if step is not None and step.strip().isdigit() else None
    chosen = asked if asked in steps else (steps[-1] if steps else None)
    return render(
        request,
        "samples.html",
        session,
        title=f"Samples of {job_id}",
        job=job,
        steps=steps,
        step=chosen,
        asked=asked,
    )
