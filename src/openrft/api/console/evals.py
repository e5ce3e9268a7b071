"""Console pages: evals, their runs (the page every run's `report_url` opens), two runs compared, and a
job's validation items graded at each evaluation step.

- `/evals`: the project's evals (criteria, runs count, latest run).
- `/evals/{eval_id}`: its runs, and a form that picks two of them to compare.
- `/evals/{eval_id}/runs/{run_id}`: the run's counts, pass rates per criterion, usage and error; evals.js
  polls the run while it is queued or in progress and pages its output items (pass/fail filter) from
  `/v1/evals/.../output_items`.
- `/evals/{eval_id}/compare?a=RUN_A&b=RUN_B`: pass rates side by side, then the items, those whose
  outcome changed first (openrft.evals.compare, the logic of `openrft evals compare`).
- `/jobs/{job_id}/validation`: the job's linked eval, one run per evaluation step: a table of validation
  items x steps with each step's grade.

Every read goes through the evals (and jobs) services with the signed-in principal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import console_url, get_ctx
from openrft.api.evals import runs, service
from openrft.api.jobs import service as jobs_service
from openrft.auth.keys import Principal
from openrft.auth.sessions import Session
from openrft.context import AppContext
from openrft.evals import compare
from openrft.evals.records import REWARD_CRITERION

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

NONE = "\u2013"  # an en dash: no value
PAGE = 100  # the API's largest page
MAX_ITEMS = 2000  # items read for a comparison or a validation table
MAX_STEPS = 60  # evaluation steps shown side by side (the latest ones)


def percent(counts: tuple[int, int] | None) -> str:
    """(passed, graded) -> '75.0% (3/4)', as the CLI prints it."""
    return compare.rate_text(counts, NONE)


def pretty(value: Any) -> str:
    """JSON for people: indented, keys in their order, non-ASCII text as itself (Jinja's tojson escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def criteria_names(ev: dict[str, Any]) -> dict[str, str]:
    """Criterion id -> its name."""
    return {str(c.get("id")): str(c.get("name")) for c in ev["testing_criteria"]}


def all_runs(ctx: AppContext, p: Principal, eval_id: str, url: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The eval's runs, newest first (up to `limit`)."""
    out: list[dict[str, Any]] = []
    after = None
    while len(out) < limit:
        page = runs.list_runs(ctx, p, eval_id, after=after, limit=PAGE, order="desc", status=None, base_url=url)
        out += page["data"]
        if not page["has_more"]:
            break
        after = page["last_id"]
    return out[:limit]


def all_items(ctx: AppContext, p: Principal, eval_id: str, run_id: str) -> list[dict[str, Any]]:
    """A run's output items in data-source order (up to MAX_ITEMS)."""
    out: list[dict[str, Any]] = []
    after = None
    while len(out) < MAX_ITEMS:
        page = runs.list_output_items(ctx, p, eval_id, run_id, after=after, limit=PAGE, order="asc", status=None)
        out += page["data"]
        if not page["has_more"]:
            break
        after = page["last_id"]
    return out[:MAX_ITEMS]


def output_text(item: dict[str, Any] | None) -> str:
    if not item:
        return ""
    output = (item.get("sample") or {}).get("output") or []
    return "\n".join(str(m.get("content") or "") for m in output)


def item_summary(datasource_item: dict[str, Any], width: int = 120) -> str:
    """One line that names an item: its last user message, else its fields."""
    messages = datasource_item.get("messages")
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            text = str(users[-1].get("content") or "")
            return text if len(text) <= width else text[: width - 1] + "…"
    text = ", ".join(f"{k}: {v}" for k, v in datasource_item.items() if k != "messages")
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the evals list, an eval, a run ---------------------------------------------------------------------


@router.get("/evals", response_class=HTMLResponse)
def evals_page(
    request: Request,
    after: str | None = None,
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    p, url = session.principal, console_url(request)
    listed = service.list_evals(ctx, p, after=after, limit=50, order="desc", order_by="created_at")
    rows = []
    for ev in listed["data"]:
        latest = runs.list_runs(ctx, p, ev["id"], after=None, limit=PAGE, order="desc", status=None, base_url=url)
        rows.append(
            {
                "eval": ev,
                "runs": len(latest["data"]),
                "more_runs": latest["has_more"],
                "latest": latest["data"][0] if latest["data"] else None,
                "job_id": (ev.get("metadata") or {}).get("fine_tuning_job"),
            }
        )
    return render(
        request,
        "evals.html",
        session,
        title="Evals",
        rows=rows,
        next_after=listed["last_id"] if listed["has_more"] else None,
        first_page=after is None,
    )


@router.get("/evals/{eval_id}", response_class=HTMLResponse)
def eval_page(
    request: Request, eval_id: str, session: Session = Depends(signed_in), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    ev = service.get_eval(ctx, session.principal, eval_id)
    run_list = all_runs(ctx, session.principal, eval_id, console_url(request))
    return render(
        request,
        "eval_detail.html",
        session,
        title=ev["name"],
        ev=ev,
        runs=run_list,
        job_id=(ev.get("metadata") or {}).get("fine_tuning_job"),
        percent=percent,
    )


@router.get("/evals/{eval_id}/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    eval_id: str,
    run_id: str,
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    ev = service.get_eval(ctx, session.principal, eval_id)
    run = runs.get_run(ctx, session.principal, eval_id, run_id, console_url(request))
    names = criteria_names(ev)
    per = {str(r["testing_criteria"]): r for r in run["per_testing_criteria_results"]}
    criteria = [
        {
            "id": cid,
            "name": name,
            "type": next((c["type"] for c in ev["testing_criteria"] if c.get("id") == cid), ""),
            "passed": int(per.get(cid, {}).get("passed", 0)),
            "graded": int(per.get(cid, {}).get("passed", 0)) + int(per.get(cid, {}).get("failed", 0)),
        }
        for cid, name in names.items()
    ]
    counts = run["result_counts"]
    return render(
        request,
        "eval_run.html",
        session,
        title=f"Run {run['name']}",
        ev=ev,
        run=run,
        criteria=criteria,
        overall=percent((counts["passed"], counts["total"])),
        percent=percent,
        job_id=(ev.get("metadata") or {}).get("fine_tuning_job"),
        boot={"eval_id": eval_id, "run_id": run_id, "status": run["status"], "criteria": names},
    )


# -- two runs compared ----------------------------------------------------------------------------------


@router.get("/evals/{eval_id}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    eval_id: str,
    a: str | None = None,
    b: str | None = None,
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    p, url = session.principal, console_url(request)
    ev = service.get_eval(ctx, p, eval_id)
    run_list = all_runs(ctx, p, eval_id, url)
    context: dict[str, Any] = {"ev": ev, "runs": run_list, "a": a, "b": b, "report": None}
    if a and b:
        run_a, run_b = runs.get_run(ctx, p, eval_id, a, url), runs.get_run(ctx, p, eval_id, b, url)
        pairs = compare.changed_first(
            compare.paired_items(all_items(ctx, p, eval_id, a), all_items(ctx, p, eval_id, b))
        )
        side = compare.criteria_side_by_side(
            run_a["per_testing_criteria_results"], run_b["per_testing_criteria_results"]
        )
        ca, cb = run_a["result_counts"], run_b["result_counts"]
        context["report"] = {
            "run_a": run_a,
            "run_b": run_b,
            "criteria": [(name, percent(x), percent(y), delta(x, y)) for name, x, y in side],
            "overall": (percent((ca["passed"], ca["total"])), percent((cb["passed"], cb["total"]))),
            "overall_delta": delta((ca["passed"], ca["total"]), (cb["passed"], cb["total"])),
            "changed": [pair_view(x) for x in pairs if x.changed],
            "unchanged": [pair_view(x) for x in pairs if not x.changed],
        }
    return render(
        request, "eval_compare.html", session, title=f"Compare runs of {ev['name']}", pretty=pretty, **context
    )


def delta(x: tuple[int, int] | None, y: tuple[int, int] | None) -> str:
    """B's pass rate minus A's, in percentage points."""
    if not x or not y or not x[1] or not y[1]:
        return NONE
    points = 100 * (y[0] / y[1] - x[0] / x[1])
    return f"{points:+.1f} pts"


def grades(item: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for r in (item or {}).get("results") or []:
        error = (r.get("sample") or {}).get("error") if isinstance(r.get("sample"), dict) else None
        out.append({"name": r.get("name"), "score": r.get("score"), "passed": r.get("passed"), "error": error})
    return out


def pair_view(pair: compare.ItemPair) -> dict[str, Any]:
    source = dict((pair.b or pair.a or {}).get("datasource_item") or {})
    return {
        "id": pair.datasource_item_id,
        "summary": item_summary(source),
        "item": source,
        "status_a": pair.status_a,
        "status_b": pair.status_b,
        "output_a": output_text(dict(pair.a) if pair.a else None),
        "output_b": output_text(dict(pair.b) if pair.b else None),
        "grades_a": grades(dict(pair.a) if pair.a else None),
        "grades_b": grades(dict(pair.b) if pair.b else None),
    }


# -- a job's validation items at each evaluation step ---------------------------------------------------


@dataclass
class ValidationRow:
    datasource_item_id: int
    summary: str
    messages: list[dict[str, Any]]
    fields: dict[str, Any]
    cells: dict[int, dict[str, Any]] = field(default_factory=dict)  # step -> grade


def step_of(run: dict[str, Any]) -> int | None:
    step = (run.get("metadata") or {}).get("step")
    return int(step) if isinstance(step, str) and step.isdigit() else None


def reward_of(item: dict[str, Any]) -> dict[str, Any] | None:
    results = item.get("results") or []
    return next((r for r in results if r.get("name") == REWARD_CRITERION), results[0] if results else None)


def validation_table(
    ctx: AppContext, p: Principal, eval_id: str, step_runs: list[tuple[int, dict[str, Any]]]
) -> Iterator[ValidationRow]:
    rows: dict[int, ValidationRow] = {}
    for step, run in step_runs:
        for item in all_items(ctx, p, eval_id, run["id"]):
            key = int(item["datasource_item_id"])
            if key not in rows:
                source = item.get("datasource_item") or {}
                messages = source["messages"] if isinstance(source.get("messages"), list) else []
                rows[key] = ValidationRow(
                    key, item_summary(source), messages, {k: v for k, v in source.items() if k != "messages"}
                )
            reward = reward_of(item)
            rows[key].cells[step] = {
                "status": item["status"],
                "score": reward.get("score") if reward else None,
                "grades": grades(item),
                "output": output_text(item),
            }
    yield from (rows[k] for k in sorted(rows))


@router.get("/jobs/{job_id}/validation", response_class=HTMLResponse)
def validation_page(
    request: Request, job_id: str, session: Session = Depends(signed_in), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    p = session.principal
    job = jobs_service.get_job(ctx, p, job_id)  # another project's job: NotFound, the refusal page
    eval_id = job.get("eval_id")
    step_runs: list[tuple[int, dict[str, Any]]] = []
    if eval_id:
        for run in all_runs(ctx, p, eval_id, console_url(request)):
            step = step_of(run)
            if step is not None:
                step_runs.append((step, run))
    step_runs.sort(key=lambda sr: sr[0])
    hidden = max(0, len(step_runs) - MAX_STEPS)
    step_runs = step_runs[hidden:]
    table = list(validation_table(ctx, p, eval_id, step_runs)) if eval_id else []
    summary = [
        {
            "step": step,
            "run": run,
            "mean": mean([row.cells[step]["score"] for row in table if step in row.cells]),
            "rate": percent((run["result_counts"]["passed"], run["result_counts"]["total"])),
        }
        for step, run in step_runs
    ]
    return render(
        request,
        "validation.html",
        session,
        title=f"Validation of {job_id}",
        job=job,
        eval_id=eval_id,
        steps=summary,
        table=table,
        hidden_steps=hidden,
        pretty=pretty,
        boot={"job_id": job_id, "status": job["status"], "steps": [s for s, _ in step_runs]},
    )


def mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return sum(numbers) / len(numbers) if numbers else None
