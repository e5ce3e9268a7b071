"""`GET /v1/fine_tuning/jobs/{id}/metrics` (openrft's extension): a job's metrics events as columns.

How it stays fast at 10,000 steps: the series names are read from a few whole events (`_names`: the first,
the last, the last evaluation step, the first after each audit event), then one statement has the database
extract every series' number from every metrics event by its JSON path (`_points_sql`), so no event is
parsed in Python; the rows become columns with one `zip`. A database that refuses an event's JSON (SQLite
and a NaN the trainer wrote) falls back to parsing the events here (`_points_python`). A step written twice
(a resumed run replays the steps after its checkpoint) keeps its last event: the one the run went on from.
The warn and audit events (a few per job) are read whole; an audit event's step is the first metrics event
after it (training/trainer.py record_audit writes it while grading that step).

Series names (docs/api.md, "Job metrics"): the fixed ones of `SCALARS`, then by prefix
`grader.NAME` / `grader_valid.NAME` (each grader's train / validation mean), `component.NAME` and
`penalty.NAME` (the reward's parts, as the monitor splits them), `guard.NAME` (guard graders' validation
score), `signal.NAME` (the monitor's rollout signals), `reward_hacking.NAME` (each detector's value),
`timing.NAME` (seconds per phase) and `metric.NAME` (any other number the grader reported). A name only
events between those `_names` reads carry is missed (names change with the grader, which writes an audit
event when it does).

`after_step` keeps only later steps (and the warnings and audit entries written since that step's event),
so a page polling a live job reads only what is new; the SQL does that filtering.
"""

from __future__ import annotations

import bisect
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


Path = tuple[str | int, ...]


def _at(data: Any, path: Path) -> Any:
    value = data
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and key < len(value) else None
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def paths(data: dict[str, Any]) -> dict[str, Path]:
    """Where each series of a metrics event sits in its data (module docstring); the reward-hacking detectors
    are named even while their value is null (a detector has no value until it has seen enough steps)."""
    out: dict[str, Path] = {name: path for name, path in SCALARS.items() if _num(_at(data, path)) is not None}
    scores = _dict(data.get("scores"))
    for i, grader in enumerate(scores.get("graders") or []):
        if isinstance(grader, dict) and isinstance(grader.get("name"), str):
            for key, prefix in (("train_reward_mean", "grader."), ("valid_reward_mean", "grader_valid.")):
                if _num(grader.get(key)) is not None:
                    out[prefix + grader["name"]] = ("scores", "graders", i, key)
    for i, guard in enumerate(scores.get("guards") or []):
        if (
            isinstance(guard, dict)
            and isinstance(guard.get("name"), str)
            and _num(guard.get("valid_score_mean")) is not None
        ):
            out["guard." + guard["name"]] = ("scores", "guards", i, "valid_score_mean")
    signals = _dict(data.get("signals"))
    groups: list[tuple[str, Path, dict[str, Any], bool]] = [
        ("component.", ("signals", "components"), _dict(signals.get("components")), False),
        ("penalty.", ("signals", "penalties"), _dict(signals.get("penalties")), False),
        ("signal.", ("signals",), {k: v for k, v in signals.items() if k not in SIGNALS_ELSEWHERE}, False),
        ("reward_hacking.", ("reward_hacking",), _dict(data.get("reward_hacking")), True),
        (
            "timing.",
            ("timing", "step"),
            {k: v for k, v in _dict(_at(data, ("timing", "step"))).items() if k != "full_iteration"},
            False,
        ),
    ]
    parts = set(groups[0][2]) | set(groups[1][2])
    groups.append(("metric.", (), {k: v for k, v in data.items() if k not in KNOWN_TOP and k not in parts}, False))
    for prefix, base, values, nullable in groups:
        for key, value in values.items():
            if _num(value) is not None or (nullable and value is None):
                out[prefix + key] = (*base, key)
    return out


def flatten(data: dict[str, Any]) -> dict[str, float]:
    """One metrics event's numbers under their series names."""
    return {name: v for name, path in paths(data).items() if (v := _num(_at(data, path))) is not None}


def _check_after_step(after_step: int | None) -> None:
    if after_step is not None and after_step < 0:
        raise InvalidRequest(f"Invalid 'after_step': must be an integer >= 0, got {after_step}.", param="after_step")


def _cut(job_id: str, after_step: int | None) -> Any:
    """The seq after which events are new to a poller that has seen steps <= after_step (None: all are).

    Read newest first and stopped at the first match, so a live poll looks at a row or two, not every step."""
    if not after_step:
        return None
    e = schema.job_events.c
    last_seen = (
        sa.select(e.seq)
        .where(e.job_id == job_id, e.type == "metrics", e.data["step"].as_integer() <= after_step)
        .order_by(e.seq.desc())
        .limit(1)
    )
    return sa.func.coalesce(last_seen.scalar_subquery(), 0)


def _notes(conn: sa.Connection, job_id: str, cut: Any) -> list[Any]:
    """The warn and audit events (a few per job), whole."""
    e = schema.job_events.c
    wanted = sa.or_(e.level == "warn", e.message.startswith(AUDIT_PREFIX, autoescape=True))
    query = sa.select(e.seq, e.id, e.type, e.level, e.message, e.created_at, e.data).where(
        e.job_id == job_id, e.type == "message", wanted
    )
    return list(conn.execute((query if cut is None else query.where(e.seq > cut)).order_by(e.seq)))


def _names(conn: sa.Connection, job_id: str, audit_seqs: list[int]) -> dict[str, Path]:
    """The series a job's metrics events carry, read from a few whole events: the first, the last, the last
    evaluation step, and the first after each audit event (a grader that changes, and with it its metrics
    names, writes one). A name seen only in between those is missed."""
    e = schema.job_events.c
    metrics = sa.and_(e.job_id == job_id, e.type == "metrics")
    evaluated = e.data[("scores", "valid_reward_mean")].as_float().is_not(None)
    last_evaluated = sa.select(e.seq).where(metrics, evaluated).order_by(e.seq.desc()).limit(1)  # stops early
    picks: list[sa.Select[Any]] = [
        sa.select(sa.func.min(e.seq)).where(metrics),
        sa.select(sa.func.max(e.seq)).where(metrics),
        sa.select(last_evaluated.scalar_subquery()),
    ]
    picks += [sa.select(sa.func.min(e.seq)).where(metrics, e.seq > seq) for seq in audit_seqs[-50:]]
    seqs = sa.union(*picks).subquery()
    found: dict[str, Path] = {}
    for data in conn.execute(sa.select(e.data).where(e.seq.in_(sa.select(seqs.c[0])))).scalars():
        found |= paths(_dict(data))
    return found


def _points_sql(conn: sa.Connection, job_id: str, cut: Any, names: dict[str, Path]) -> list[tuple[Any, ...]]:
    """(seq, step, total_steps, value per name...) of each metrics event, extracted by the database."""
    e = schema.job_events.c
    columns = [e.seq, e.data["step"].as_integer(), e.data["total_steps"].as_integer()]
    columns += [e.data[path].as_float() for path in names.values()]
    query = sa.select(*columns).where(e.job_id == job_id, e.type == "metrics")
    return [tuple(r) for r in conn.execute((query if cut is None else query.where(e.seq > cut)).order_by(e.seq))]


def _points_python(conn: sa.Connection, job_id: str, cut: Any) -> tuple[dict[str, Path], list[tuple[Any, ...]]]:
    """Names and rows with each event parsed here: for data the database's JSON functions refuse (a NaN)."""
    e = schema.job_events.c
    query = sa.select(e.seq, e.data).where(e.job_id == job_id, e.type == "metrics")
    events = [
        (seq, _dict(d)) for seq, d in conn.execute((query if cut is None else query.where(e.seq > cut)).order_by(e.seq))
    ]
    names: dict[str, Path] = {}
    for _, d in events:
        names |= paths(d)
    rows = [(seq, d.get("step"), d.get("total_steps"), *(_num(_at(d, p)) for p in names.values())) for seq, d in events]
    return names, rows


def job_metrics(
    ctx: AppContext, principal: Principal, job_id: str, *, after_step: int | None, series: list[str] | None
) -> dict[str, Any]:
    """The job's metrics as columns, its warnings and its audit trail (module docstring)."""
    _check_after_step(after_step)
    floor = after_step or 0
    cut = _cut(job_id, after_step)
    with ctx.store.begin() as conn:
        job = get_row(conn, principal.project_id, job_id)
        notes = _notes(conn, job_id, cut)
        audit_events = [
            r for r in notes if r.message.startswith(AUDIT_PREFIX) and isinstance(_dict(r.data).get("audit"), list)
        ]
        keep = set(series) if series is not None else None
        try:
            with conn.begin_nested():
                names = _names(conn, job_id, [r.seq for r in audit_events])
                names = {n: p for n, p in names.items() if keep is None or n in keep}
                rows = _points_sql(conn, job_id, cut, names)
        except sa.exc.DBAPIError:  # SQLite's JSON functions refuse a NaN the trainer wrote: parse here
            names, rows = _points_python(conn, job_id, cut)
        stored = sample_steps(conn, job_id)

    # A step written twice (a resumed run replays the steps after its checkpoint) keeps its last event.
    last_of_step = {r[1]: r for r in rows if isinstance(r[1], int) and r[1] > floor}
    steps = sorted(last_of_step)
    chosen = [last_of_step[s] for s in steps]
    columns = list(zip(*chosen, strict=True)) if chosen else []
    series_out = {
        name: list(columns[3 + i])
        for i, name in enumerate(names)
        if columns and (keep is None or name in keep) and any(v is not None for v in columns[3 + i])
    }
    totals = [t for t in (columns[2] if columns else ()) if isinstance(t, int)]
    seqs = [r[0] for r in rows]  # ascending: the first metrics event after an audit event is the step it graded
    audit = []
    for row in audit_events:
        entry = _audit_entry(row, _dict(row.data))
        i = bisect.bisect_right(seqs, row.seq)
        entry["step"] = rows[i][1] if i < len(rows) else None
        audit.append(entry)
    warnings = [
        {"step": d["step"], "signal": d["signal"], "message": r.message, "event_id": r.id, "data": d}
        for r in notes
        if r.level == "warn" and isinstance((d := _dict(r.data)).get("signal"), str) and isinstance(d.get("step"), int)
    ]  # a warning is written after its step's metrics event: kept even when its step == after_step
    return {
        "object": OBJECT,
        "fine_tuning_job_id": job_id,
        "status": job.status,
        "total_steps": totals[-1] if totals else None,
        "last_step": steps[-1] if steps else after_step,
        "steps": steps,
        "series": dict(sorted(series_out.items())),
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
