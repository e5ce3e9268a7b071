"""Console pages: a job's checkpoints (and two of them, or one and the base model, compared on the
validation set), and the playground (one prompt, two models, both streamed side by side).

- `/jobs/{job_id}/checkpoints`: one row per checkpoint the trainer wrote: each evaluation step (the
  linked eval's run "step N" says it happened) and every checkpoint still listed by the API. A row is
  *kept* while `GET /v1/fine_tuning/jobs/{id}/checkpoints` lists it (its `ft:...:ckpt-step-N` model can be
  served and compared), else *pruned*: the trainer keeps the best few by validation reward and the newest
  (training/checkpoints.py `to_prune`) and deletes the others' files. The compare form runs the two chosen
  models as runs of the job's linked eval over its validation file, through `/v1/evals/{eval_id}/runs`
  (checkpoints.js), then links the eval pages' run and compare views.
- `/playground`: the prompt form; playground.js streams both answers from `/v1/chat/completions`.
  `?model=ft:...` preselects the right-hand model (the job and checkpoints pages link it), and the left
  one defaults to that model's base.

Every read goes through the jobs, evals and models services with the signed-in principal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import get_ctx
from openrft.api.evals import runs
from openrft.api.jobs import metrics
from openrft.api.jobs import service as jobs_service
from openrft.api.models import service as models_service
from openrft.auth.keys import Principal
from openrft.auth.sessions import Session
from openrft.context import AppContext

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE = 100  # the API's largest page
CHECKPOINT_MARK = ":ckpt-step-"  # training/trainer.py names a checkpoint's model ft:...:ckpt-step-N
KEPT_PER_JOB = 3  # training/trainer.py KEEP_CHECKPOINTS, for the page's explanation


@dataclass
class CheckpointRow:
    step: int
    model: str | None  # the ft:...:ckpt-step-N id (None: pruned and never listed to us)
    kept: bool
    valid_reward: float | None
    train_reward: float | None
    step_run: dict[str, Any] | None  # the linked eval's run of this evaluation step
    best: bool = False


def pass_rate(run: dict[str, Any] | None) -> tuple[int, int] | None:
    if run is None:
        return None
    counts = run.get("result_counts") or {}
    return int(counts.get("passed") or 0), int(counts.get("total") or 0)


def _kept_checkpoints(ctx: AppContext, p: Principal, job_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = jobs_service.list_checkpoints(ctx, p, job_id, after=after, limit=PAGE)
        out += page["data"]
        if not page["has_more"] or not page["data"]:
            return out
        after = page["data"][-1]["id"]


def _eval_runs(ctx: AppContext, p: Principal, eval_id: str, url: str) -> list[dict[str, Any]]:
    """The linked eval's runs, oldest first."""
    out: list[dict[str, Any]] = []
    after = None
    while len(out) < 2000:
        page = runs.list_runs(ctx, p, eval_id, after=after, limit=PAGE, order="asc", status=None, base_url=url)
        out += page["data"]
        if not page["has_more"] or not page["data"]:
            break
        after = page["data"][-1]["id"]
    return out


def _step_of(run: dict[str, Any]) -> int | None:
    step = (run.get("metadata") or {}).get("step")
    return int(step) if isinstance(step, str) and step.isdigit() else None


def checkpoint_rows(
    kept: list[dict[str, Any]], step_runs: dict[int, dict[str, Any]], series: dict[int, dict[str, float | None]]
) -> list[CheckpointRow]:
    """Kept checkpoints and evaluation steps merged by step, newest first; the best kept one marked."""
    by_step = {c["step_number"]: c for c in kept}
    rows = []
    for step in sorted(set(by_step) | set(step_runs), reverse=True):
        c = by_step.get(step)
        m = (c or {}).get("metrics") or {}
        values = series.get(step, {})
        valid = m.get("valid_reward_mean", values.get("valid_reward_mean"))
        train = m.get("train_reward_mean", values.get("train_reward_mean"))
        model = c["fine_tuned_model_checkpoint"] if c else (step_runs[step].get("model") if step in step_runs else None)
        rows.append(CheckpointRow(step, model, c is not None, valid, train, step_runs.get(step)))
    scored = [r for r in rows if r.kept and r.valid_reward is not None]
    if scored:
        max(scored, key=lambda r: (r.valid_reward, r.step)).best = True
    return rows


def short_name(model: str | None, base_model: str) -> str:
    """ft:...:ckpt-step-6 -> "step 6", the job's final model -> "final model", its base -> "NAME (base)"."""
    if not model:
        return "\u2013"
    if CHECKPOINT_MARK in model:
        return "step " + model.rsplit(CHECKPOINT_MARK, 1)[1]
    if model == base_model:
        return f"{model} (base)"
    return "final model" if model.startswith("ft:") else model


def comparisons(runs_newest_first: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The linked eval's other runs, the two of each comparison this page started side by side (A, B) by
    their metadata `pair`; a run started elsewhere stands alone."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs_newest_first:
        meta = run.get("metadata") or {}
        groups.setdefault(meta.get("pair") or run["id"], []).append(run)
    return [sorted(g, key=lambda r: (r.get("metadata") or {}).get("side") or "") for g in groups.values()]


@router.get("/jobs/{job_id}/checkpoints", response_class=HTMLResponse)
def checkpoints_page(
    request: Request, job_id: str, session: Session = Depends(signed_in), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    p = session.principal
    job = jobs_service.get_job(ctx, p, job_id)  # another project's job: NotFound, the refusal page
    kept = _kept_checkpoints(ctx, p, job_id)
    table = metrics.job_metrics(ctx, p, job_id, after_step=None, series=["valid_reward_mean", "train_reward_mean"])
    series = {
        step: {name: column[i] for name, column in table["series"].items()} for i, step in enumerate(table["steps"])
    }
    url = str(request.base_url).rstrip("/")
    all_runs = _eval_runs(ctx, p, job["eval_id"], url) if job.get("eval_id") else []
    step_runs = {s: r for r in all_runs if (s := _step_of(r)) is not None}
    compared = comparisons([r for r in reversed(all_runs) if _step_of(r) is None])
    rows = checkpoint_rows(kept, step_runs, series)
    latest = max(step_runs.values(), key=lambda r: r["created_at"], default=None)
    sampling = ((latest or {}).get("data_source") or {}).get("sampling_params") or {"temperature": 0}
    choices = [(job["model"], f"{job['model']} (base model)")]
    if job.get("fine_tuned_model") and job["status"] == "succeeded":
        choices.append((job["fine_tuned_model"], f"{job['fine_tuned_model']} (final)"))
    choices += [(r.model, f"step {r.step}{' (best)' if r.best else ''}: {r.model}") for r in rows if r.kept and r.model]
    best = next((r for r in rows if r.best), next((r for r in rows if r.kept), None))
    return render(
        request,
        "checkpoints.html",
        session,
        title=f"Checkpoints of {job_id}",
        job=job,
        rows=rows,
        compared=compared,
        choices=choices,
        default_a=job["model"],
        default_b=best.model if best else (choices[-1][0] if len(choices) > 1 else job["model"]),
        compare_config={
            "eval_id": job.get("eval_id"),
            "validation_file": job.get("validation_file"),
            "sampling_params": sampling,
            "job_id": job_id,
        },
        kept_per_job=KEPT_PER_JOB,
        pass_rate=pass_rate,
        short=lambda m: short_name(m, job["model"]),
    )


# -- the playground ---------------------------------------------------------------------------------------


def base_of(model_id: str) -> str | None:
    """ft:BASE:project:suffix:job[:ckpt-step-N] -> BASE (the registry names fine-tuned models so)."""
    parts = model_id.split(":")
    return parts[1] if model_id.startswith("ft:") and len(parts) > 1 else None


def model_groups(ids: list[str]) -> list[tuple[str, list[str]]]:
    base = [m for m in ids if not m.startswith("ft:")]
    tuned = [m for m in ids if m.startswith("ft:") and CHECKPOINT_MARK not in m]
    ckpts = [m for m in ids if m.startswith("ft:") and CHECKPOINT_MARK in m]
    return [
        (name, group) for name, group in (("Base models", base), ("Fine-tuned", tuned), ("Checkpoints", ckpts)) if group
    ]


@router.get("/playground", response_class=HTMLResponse)
def playground_page(
    request: Request,
    model: str | None = None,
    job: str | None = None,
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    listed = models_service.list_models(ctx, session.principal.project_id).data
    ids = [m.id for m in sorted(listed, key=lambda m: m.created, reverse=True)]
    if job and model is None:  # from a job's page: its final model, else (while it trains) its newest checkpoint
        model = next((m for m in ids if m.endswith(":" + job)), None) or next(
            (m for m in ids if f":{job}:" in m and CHECKPOINT_MARK in m), None
        )
    unknown = model is not None and model not in ids
    # newest first: a job's final model, else (while it trains) its newest checkpoint, else another base model
    tuned = [m for m in ids if m.startswith("ft:") and CHECKPOINT_MARK not in m]
    ckpts = [m for m in ids if CHECKPOINT_MARK in m]
    fallback = (tuned or ckpts or ids[1:] or ids)[:1]
    right = model if model in ids else (fallback[0] if fallback else None)
    left = (
        base_of(right) if right and base_of(right) in ids else next((m for m in ids if not m.startswith("ft:")), None)
    )
    return render(
        request,
        "playground.html",
        session,
        title="Playground",
        groups=model_groups(ids),
        left=left,
        right=right,
        unknown=model if unknown else None,
        no_fine_tuned=not tuned and not ckpts,
    )
