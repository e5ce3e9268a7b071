"""`GET /v1/fine_tuning/jobs/{id}/metrics` (openrft's extension): a job's metrics events as columns.

One query reads the job's metrics events, its reward-hacking warnings and its audit events (the trainer's
"Grading with ..." events naming the reward function, version and CodeSha256) in event order. Each metrics
event is flattened into named numbers (`flatten`), then every name becomes one column aligned with
`steps`: null where a step did not measure it (validation reward off evaluation steps, say). A step written
twice (a resumed run replays the steps after its checkpoint) keeps its last event: the one the run went
on from.

Series names (docs/api.md, "Job metrics"): the fixed ones of `SCALARS`, then by prefix
`grader.NAME` / `grader_valid.NAME` (each grader's train / validation mean), `component.NAME` and
`penalty.NAME` (the reward's parts, as the monitor splits them), `guard.NAME` (guard graders' validation
score), `signal.NAME` (the monitor's rollout signals), `reward_hacking.NAME` (each detector's value),
`timing.NAME` (seconds per phase) and `metric.NAME` (any other number the grader reported).

`after_step` keeps only later steps (and the warnings and audit entries from the step after it on), so a
page polling a live job reads only what is new; the SQL does that filtering, so a poll parses only new rows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa

from openrft.api.jobs.service import get_row, sample_steps
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import InvalidRequest
from openrft.store import schema

OBJECT = "fine_tuning.job.metrics"
AUDIT_PREFIX = "Grading with "  # training/trainer.py record_audit's message

# series name -> path in a metrics event's data
SCALARS: dict[str, tuple[str, ...]] = {
    "train_reward_mean": ("scores", "train_reward_mean"),
    "valid_reward_mean": ("scores", "valid_reward_mean"),
    "entropy": ("actor_entropy",),
    "kl": ("actor_kl",),
    "kl_eval": ("kl_eval",),
    "response_length_mean": ("response_length_mean",),
    "grad_norm": ("actor_grad_norm",),
    "loss": ("actor_pg_loss",),
    "advantage_mean": ("critic_advantages_mean",),
    "frac_reward_zero_std": ("frac_reward_zero_std",),
    "learning_rate": ("learning_rate",),
    "step_time_s": ("timing", "step", "full_iteration"),
}
# Top-level keys of a metrics event that are not a grader's extra metric (training/metrics.py step_event).
KNOWN_TOP = {
    "step", "total_steps", "train_mean_reward", "full_valid_mean_reward", "completion_tokens_mean",
    "critic_rewards_mean", "critic_advantages_mean", "actor_pg_loss", "actor_entropy", "actor_grad_norm",
    "actor_kl", "response_length_mean", "frac_reward_zero_std", "learning_rate", "kl_eval", "eval_run_id",
    "scores", "errors", "usage", "timing", "model_graders_token_usage", "reward_hacking", "signals",
}  # fmt: skip
# StepRecord fields already named by a fixed series, or dicts handled by prefix.
SIGNALS_ELSEWHERE = {
    "train_reward", "response_length", "entropy", "frac_zero_std", "valid_reward", "kl_eval",
    "components", "penalties", "guards",
}  # fmt: skip


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None  # absent, not a number, or NaN / infinite (JSON has no such numbers)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _at(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _numbers(out: dict[str, float], prefix: str, values: Any) -> None:
    if isinstance(values, dict):
        for name, value in values.items():
            if (v := _num(value)) is not None:
                out[prefix + name] = v


def flatten(data: dict[str, Any]) -> dict[str, float]:
    """One metrics event's numbers under their series names (module docstring)."""
    out: dict[str, float] = {}
    for name, path in SCALARS.items():
        if (v := _num(_at(data, path))) is not None:
            out[name] = v
    scores = _dict(data.get("scores"))
    for grader in scores.get("graders") or []:
        if isinstance(grader, dict) and isinstance(grader.get("name"), str):
            if (v := _num(grader.get("train_reward_mean"))) is not None:
                out["grader." + grader["name"]] = v
            if (v := _num(grader.get("valid_reward_mean"))) is not None:
                out["grader_valid." + grader["name"]] = v
    for guard in scores.get("guards") or []:
        if (
            isinstance(guard, dict)
            and isinstance(guard.get("name"), str)
            and (v := _num(guard.get("valid_score_mean"))) is not None
        ):
            out["guard." + guard["name"]] = v
    signals = _dict(data.get("signals"))
    _numbers(out, "component.", signals.get("components"))
    _numbers(out, "penalty.", signals.get("penalties"))
    _numbers(out, "signal.", {k: v for k, v in signals.items() if k not in SIGNALS_ELSEWHERE})
    _numbers(out, "reward_hacking.", data.get("reward_hacking"))
    step_timing = _at(data, ("timing", "step"))
    if isinstance(step_timing, dict):
        _numbers(out, "timing.", {k: v for k, v in step_timing.items() if k != "full_iteration"})
    parts = set(signals.get("components") or {}) | set(signals.get("penalties") or {})
    _numbers(out, "metric.", {k: v for k, v in data.items() if k not in KNOWN_TOP and k not in parts})
    return out


def _check_after_step(after_step: int | None) -> None:
    if after_step is not None and after_step < 0:
        raise InvalidRequest(f"Invalid 'after_step': must be an integer >= 0, got {after_step}.", param="after_step")


def _rows(conn: sa.Connection, job_id: str, after_step: int | None) -> list[Any]:
    """The job's metrics, warn and audit events in event order; with `after_step`, those after the last
    metrics event of a step <= after_step (one statement: the cut-off is a scalar subquery)."""
    e = schema.job_events.c
    wanted = sa.or_(e.type == "metrics", e.level == "warn", e.message.startswith(AUDIT_PREFIX, autoescape=True))
    query = sa.select(e.seq, e.id, e.type, e.level, e.message, e.created_at, e.data).where(e.job_id == job_id, wanted)
    if after_step is not None and after_step > 0:
        cut = (
            sa.select(sa.func.max(e.seq))
            .where(e.job_id == job_id, e.type == "metrics", e.data["step"].as_integer() <= after_step)
            .scalar_subquery()
        )
        query = query.where(e.seq > sa.func.coalesce(cut, 0))
    return list(conn.execute(query.order_by(e.seq)))


def job_metrics(
    ctx: AppContext, principal: Principal, job_id: str, *, after_step: int | None, series: list[str] | None
) -> dict[str, Any]:
    """The job's metrics as columns, its warnings and its audit trail (module docstring)."""
    _check_after_step(after_step)
    floor = after_step or 0
    with ctx.store.begin() as conn:
        job = get_row(conn, principal.project_id, job_id)
        rows = _rows(conn, job_id, after_step)
        stored = sample_steps(conn, job_id)
    by_step: dict[int, dict[str, float]] = {}
    total_steps: int | None = None
    warnings: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    pending_audit: list[dict[str, Any]] = []  # audit events wait for the step they graded
    for row in rows:
        data = _dict(row.data)
        if row.type == "metrics":
            step = data.get("step")
            if not isinstance(step, int) or step <= floor:
                continue
            by_step[step] = flatten(data)
            total_steps = data.get("total_steps") if isinstance(data.get("total_steps"), int) else total_steps
            for entry in pending_audit:
                entry["step"] = step
            pending_audit = []
        elif row.level == "warn" and isinstance(data.get("signal"), str):
            step = data.get("step")
            if isinstance(step, int):  # written after its step's metrics event: kept even when step == after_step
                warnings.append(
                    {"step": step, "signal": data["signal"], "message": row.message, "event_id": row.id, "data": data}
                )
        elif row.message.startswith(AUDIT_PREFIX) and isinstance(data.get("audit"), list):
            entry = _audit_entry(row, data)
            audit.append(entry)
            pending_audit.append(entry)
    steps = sorted(by_step)
    points = [by_step[s] for s in steps]
    names = sorted({name for p in points for name in p})
    if series is not None:
        wanted = set(series)
        names = [n for n in names if n in wanted]
    columns = {name: [p.get(name) for p in points] for name in names}
    return {
        "object": OBJECT,
        "fine_tuning_job_id": job_id,
        "status": job.status,
        "total_steps": total_steps,
        "last_step": steps[-1] if steps else after_step,
        "steps": steps,
        "series": columns,
        "warnings": warnings,
        "audit": audit,
        "sample_steps": stored,
    }


def _audit_entry(row: Any, data: dict[str, Any]) -> dict[str, Any]:
    """One reward-grader audit event: the step it first graded (null until that step's metrics are written)
    and each lambda function it called, with version and CodeSha256."""
    functions = [
        {"function_name": a.get("function_name"), "version": a.get("version"), "code_sha256": a.get("code_sha256")}
        for a in data["audit"]
        if isinstance(a, dict) and a.get("function_name")
    ]
    grader = _dict(data.get("grader"))
    return {
        "step": None,
        "event_id": row.id,
        "created_at": row.created_at,
        "grader": {"type": grader.get("type"), "name": grader.get("name")},
        "functions": functions,
        "message": row.message,
    }


def dumps(body: dict[str, Any]) -> bytes:
    """The answer's JSON, compact (10,000 steps x 50 series are half a million numbers)."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
