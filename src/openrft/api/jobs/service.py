"""Fine-tuning jobs: create (validate everything, then write in one transaction), read, and control.

Methods are OpenAI's: supervised (also a job without `method`), dpo and reinforcement; a reinforcement
job gets a linked eval of its grader. `model` may be a base model or, for a chained job, a fine-tuned
model or checkpoint of the project: the row records it as `parent_model` with the job that trained it.

A job is a row of `jobs`; the worker (worker.py) runs it. The API never touches a running job's
lease: cancel and pause of a running job set `jobs.control`, which the trainer acts on at its next
step boundary (the worker enforces a grace period).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from openrft import jobstatus
from openrft.api.authz import RequestInfo
from openrft.api.jobs import checks
from openrft.api.jobs.checks import CheckedMethod, StartModel
from openrft.api.jobs.schemas import MAX_SEED, JobCreate
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import Conflict, InvalidRequest, NotFound
from openrft.evals import records
from openrft.ids import now_s, random_token
from openrft.jobstate import checkpoint_object, insert_event
from openrft.jobstatus import TERMINAL_STATUSES, ImpossibleTransition
from openrft.store import schema
from openrft.store.pages import keyset_page
from openrft.training import samples

jobs = schema.jobs
MAX_IDEMPOTENCY_KEY = 255
_B36 = string.digits + string.ascii_lowercase


def new_job_id() -> str:
    """`ftjob-` + 10 base-36 chars of microseconds + 14 random: ids sort by creation time (a total order)."""
    micros = time.time_ns() // 1000
    stamp = ""
    for _ in range(10):
        micros, digit = divmod(micros, 36)
        stamp = _B36[digit] + stamp
    return "ftjob-" + stamp + random_token(14)


# -- output shapes ----------------------------------------------------------------------------------


def job_object(row: Any) -> dict[str, Any]:
    """A jobs row as openai.types.fine_tuning.FineTuningJob (plus status "paused")."""
    m = row._mapping
    method = m["method"] or {}
    hp = (method.get(method.get("type")) or {}).get("hyperparameters") or {}
    return {
        "id": m["id"],
        "created_at": m["created_at"],
        "error": m["error"] or None,
        "fine_tuned_model": m["fine_tuned_model"],
        "finished_at": m["finished_at"],
        "hyperparameters": {k: hp.get(k, "auto") for k in ("batch_size", "learning_rate_multiplier", "n_epochs")},
        "model": m["model"],
        "object": "fine_tuning.job",
        "organization_id": m["project_id"],
        "result_files": m["result_files"] or [],
        "seed": m["seed"],
        "status": m["status"],
        "trained_tokens": m["trained_tokens"],
        "training_file": m["training_file"],
        "validation_file": m["validation_file"],
        "estimated_finish": m["estimated_finish"],
        "integrations": m["integrations"],
        "metadata": m["metadata"],
        "method": method,
        "eval_id": m["eval_id"],  # openrft's extension: the job's linked eval
        "identity": m["identity"],  # openrft's extension: who its grader calls act as
        "parent_model": m["parent_model"],  # openrft's extension: the ft:/checkpoint model a chained job starts from
        "parent_job": m["parent_job"],  # openrft's extension: the job that trained parent_model
    }


def event_object(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at,
        "level": row.level,
        "message": row.message,
        "object": "fine_tuning.job.event",
        "data": row.data,
        "type": row.type,
    }


def page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": has_more}


def _request_sha256(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _by_idempotency_key(conn: sa.Connection, project_id: str, key: str, digest: str) -> Any:
    row = conn.execute(sa.select(jobs).where(jobs.c.project_id == project_id, jobs.c.idempotency_key == key)).first()
    if row is not None and row.request_sha256 != digest:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body.",
            param="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return row


# -- create ---------------------------------------------------------------------------------------


def _method_object(
    method: CheckedMethod, grader: dict[str, Any] | None, guards: list[dict[str, Any]]
) -> dict[str, Any]:
    """The stored `method`, as FineTuningJob.method shows it: {"type": T, T: {"hyperparameters": ..., ...}}."""
    body: dict[str, Any] = {"hyperparameters": method.hyperparameters}
    rft = method.reinforcement
    if rft is not None:
        body = {"grader": grader, **body, "response_format": rft.response_format}
        if rft.guard_graders is not None:  # openrft's extension fields, stored only when the request sets them
            body["guard_graders"] = guards
        if rft.penalty_metrics is not None:
            body["penalty_metrics"] = list(rft.penalty_metrics)
    return {"type": method.type, method.type: body}


def _job_row(project_id: str, body: JobCreate, start: StartModel, method_object: dict[str, Any]) -> dict[str, Any]:
    """The new jobs row; "auto" hyperparameters stay until the trainer resolves and writes them back."""
    return {
        "id": new_job_id(),
        "project_id": project_id,
        "model": body.model,
        "training_file": body.training_file,
        "validation_file": body.validation_file,
        "suffix": body.suffix,
        "seed": body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1),
        "metadata": body.metadata,
        "method": method_object,
        "status": jobstatus.NEW_JOB_STATUS,
        "result_files": [],
        "integrations": [i.model_dump(exclude_none=True) for i in body.integrations] if body.integrations else None,
        "created_at": now_s(),
        "attempts": 0,
        "parent_model": start.parent_model,
        "parent_job": start.parent_job,
    }


def _check_reinforcement(
    ctx: AppContext, project_id: str, body: JobCreate, method: CheckedMethod, start: StartModel
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A reinforcement job's own checks; returns its checked grader and guard graders."""
    rft = method.reinforcement
    assert rft is not None
    grader = checks.check_grader(ctx, project_id, rft.grader)
    guards = checks.check_guards(ctx, project_id, rft.guard_graders or [])
    checks.check_linked_eval(grader, guards)
    checks.check_response_format(rft.response_format)
    checks.check_budget(ctx, start.base_model, rft.hyperparameters)
    checks.check_early_stopping(rft.hyperparameters, body.validation_file)
    return grader, guards


def create_job(
    ctx: AppContext, principal: Principal, payload: dict[str, Any], idempotency_key: str | None, info: RequestInfo
) -> dict[str, Any]:
    """Validate everything first (no lock held while files parse), then write the job in one transaction."""
    project_id = principal.project_id
    digest = _request_sha256(payload)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.", param="Idempotency-Key"
            )
        with ctx.store.begin() as conn:
            existing = _by_idempotency_key(conn, project_id, idempotency_key, digest)
        if existing is not None:
            return job_object(existing)

    try:
        body = JobCreate.model_validate(payload)
    except ValidationError as exc:
        raise checks.invalid(exc) from exc
    checks.check_metadata(body.metadata)
    method = checks.check_method(body)
    start = checks.check_model(ctx, project_id, body.model)
    grader: dict[str, Any] | None = None
    guards: list[dict[str, Any]] = []
    if method.type == "reinforcement":
        grader, guards = _check_reinforcement(ctx, project_id, body, method, start)
    else:
        if body.role_arn is not None:
            raise InvalidRequest(
                f"role_arn is the identity of a reinforcement job's grader calls; a {method.type} job makes none.",
                param="role_arn",
            )
        checks.check_max_length(ctx, start.base_model, method)
    checks.check_file(ctx, project_id, body.training_file, "training_file", method.type)
    if body.validation_file is not None:
        checks.check_file(ctx, project_id, body.validation_file, "validation_file", method.type)

    row = _job_row(project_id, body, start, _method_object(method, grader, guards)) | {
        "idempotency_key": idempotency_key,
        "request_sha256": digest,
    }
    job_id = row["id"]
    graders = [grader, *guards] if grader is not None else []
    row["identity"] = checks.check_identity(ctx, principal, info, body.role_arn, job_id, graders)
    with ctx.store.begin_immediate() as conn:
        if idempotency_key is not None:  # a concurrent twin may have committed since the first look
            existing = _by_idempotency_key(conn, project_id, idempotency_key, digest)
            if existing is not None:
                return job_object(existing)
        if start.parent_model is not None:
            _parent_still_there(conn, project_id, start.parent_model)
        conn.execute(jobs.insert().values(**row))
        if grader is not None:
            records.create_linked_eval(conn, project_id=project_id, job_id=job_id, grader=grader, guard_graders=guards)
        insert_event(conn, job_id, f"Validating training file: {body.training_file}")
        jobstatus.apply(conn, job_id, "files_validated")
        insert_event(conn, job_id, "Files validated, job queued")
        created = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
    return job_object(created)


def _parent_still_there(conn: sa.Connection, project_id: str, model_id: str) -> None:
    """The parent was not deleted while the request was checked (delete_model refuses once the job exists)."""
    m = schema.models.c
    alive = conn.execute(
        sa.select(m.id).where(m.id == model_id, m.project_id == project_id, m.deleted_at.is_(None))
    ).first()
    if alive is None:
        raise InvalidRequest(
            f"The model '{model_id}' does not exist or is not available for fine-tuning.",
            param="model",
            code="model_not_available",
        )


# -- reads ----------------------------------------------------------------------------------------


def get_row(conn: sa.Connection, project_id: str, job_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(jobs).where(jobs.c.id == job_id, jobs.c.project_id == project_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(
            f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id", code="fine_tune_not_found"
        )
    return row


def get_job(ctx: AppContext, principal: Principal, job_id: str) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        return job_object(get_row(conn, principal.project_id, job_id))


def list_jobs(
    ctx: AppContext, principal: Principal, *, after: str | None, limit: int, metadata: dict[str, str]
) -> dict[str, Any]:
    """Newest first; `metadata` keeps jobs whose metadata holds every given pair."""
    c = jobs.c

    def has_metadata(row: Any) -> bool:
        stored = row._mapping["metadata"] or {}
        return all(stored.get(k) == v for k, v in metadata.items())

    with ctx.store.begin() as conn:
        rows, has_more = keyset_page(
            conn,
            jobs,
            [c.project_id == principal.project_id],
            keys=(c.created_at, c.id),
            id_column=c.id,
            after=after,
            limit=limit,
            descending=True,
            unknown_after=f"Invalid 'after': no fine-tuning job '{after}'.",
            keep=has_metadata if metadata else None,
        )
    return page([job_object(r) for r in rows], has_more)


def list_events(ctx: AppContext, principal: Principal, job_id: str, *, after: str | None, limit: int) -> dict[str, Any]:
    """Newest first, as OpenAI returns them; `after` is the id of the last event already seen."""
    e = schema.job_events.c
    with ctx.store.begin() as conn:
        get_row(conn, principal.project_id, job_id)
        rows, has_more = keyset_page(
            conn,
            schema.job_events,
            [e.job_id == job_id],
            keys=(e.seq,),
            id_column=e.id,
            after=after,
            limit=limit,
            descending=True,
            unknown_after=f"Invalid 'after': no event '{after}' in job {job_id}.",
        )
    return page([event_object(r) for r in rows], has_more)


def list_checkpoints(
    ctx: AppContext, principal: Principal, job_id: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    """Newest step first; deleted checkpoints (the trainer keeps the best few) are not listed."""
    k = schema.checkpoints.c
    with ctx.store.begin() as conn:
        get_row(conn, principal.project_id, job_id)
        rows, has_more = keyset_page(
            conn,
            schema.checkpoints,
            [k.job_id == job_id, k.deleted_at.is_(None)],
            keys=(k.step_number, k.id),
            id_column=k.id,
            after=after,
            limit=limit,
            descending=True,
            unknown_after=f"Invalid 'after': no checkpoint '{after}' in job {job_id}.",
        )
    return page([checkpoint_object(r) for r in rows], has_more)


# Sample orders -> (keys, descending): each ends with the insertion order `seq`, so it is a total order.
_SAMPLE_ORDERS: dict[str, tuple[tuple[sa.Column[Any], ...], bool]] = {
    "step": ((schema.job_samples.c.seq,), False),
    "-step": ((schema.job_samples.c.seq,), True),
    "reward": ((schema.job_samples.c.reward_mean, schema.job_samples.c.seq), False),
    "-reward": ((schema.job_samples.c.reward_mean, schema.job_samples.c.seq), True),
}


def list_samples(
    ctx: AppContext,
    principal: Principal,
    job_id: str,
    *,
    step: int | None,
    after: str | None,
    limit: int,
    order_by: str,
) -> dict[str, Any]:
    """A job's stored training samples (training/samples.py), one object per group; `step` keeps one step's.

    order_by: "step" (the default: oldest step first, groups in batch order), "-step" (newest first),
    "reward" / "-reward" (by the group's mean reward, lowest / highest first). `after` is the id of the
    last sample already seen, in the same order.
    """
    t = schema.job_samples.c
    keys, descending = _SAMPLE_ORDERS[order_by]
    scope = [t.job_id == job_id] + ([t.step == step] if step is not None else [])
    with ctx.store.begin() as conn:
        get_row(conn, principal.project_id, job_id)
        rows, has_more = keyset_page(
            conn,
            schema.job_samples,
            scope,
            keys=keys,
            id_column=t.id,
            after=after,
            limit=limit,
            descending=descending,
            unknown_after=f"Invalid 'after': no sample '{after}' in job {job_id}"
            + (f" at step {step}." if step is not None else "."),
        )
    data = [samples.sample_object(r) for r in rows]
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def sample_steps(conn: sa.Connection, job_id: str) -> list[int]:
    """The steps of a job that have stored samples, oldest first (the caller checked the job's project)."""
    t = schema.job_samples.c
    return [
        int(s) for s in conn.execute(sa.select(t.step).where(t.job_id == job_id).distinct().order_by(t.step)).scalars()
    ]


def list_sample_steps(ctx: AppContext, principal: Principal, job_id: str) -> list[int]:
    with ctx.store.begin() as conn:
        get_row(conn, principal.project_id, job_id)
        return sample_steps(conn, job_id)


# -- control --------------------------------------------------------------------------------------


def _impossible(row: Any, action: str) -> InvalidRequest:
    if row.status in TERMINAL_STATUSES:
        reason = f"has already {row.status}" if row.status != "cancelled" else "has already been cancelled"
    else:
        reason = f"is {row.status}"
    return InvalidRequest(f"Job {row.id} {reason} and cannot be {action}.", param="fine_tuning_job_id")


# action -> the event it is, and the job event it records for each status it leads to.
_ACTIONS: dict[str, tuple[jobstatus.Event, dict[str, str]]] = {
    "cancel": (
        "cancel_requested",
        {"cancelled": "The job was cancelled", "running": "Cancellation requested; the trainer stops at the next step"},
    ),
    "pause": (
        "pause_requested",
        {"paused": "The job was paused", "running": "Pause requested; the trainer checkpoints at the next step"},
    ),
    "resume": (
        "resume_requested",
        {"queued": "The job was resumed and is queued", "running": "Pause request withdrawn; the job keeps running"},
    ),
}


def _refused(row: Any, action: str) -> InvalidRequest:
    if action == "pause" and row.status == "running":
        return InvalidRequest(f"Job {row.id} is being cancelled and cannot be paused.", param="fine_tuning_job_id")
    if action == "pause" and row.status == "paused":
        return InvalidRequest(f"Job {row.id} is already paused.", param="fine_tuning_job_id")
    label = {"cancel": "cancelled", "pause": "paused", "resume": "resumed (only a paused job can be)"}[action]
    return _impossible(row, label)


def _transition(ctx: AppContext, principal: Principal, job_id: str, action: str) -> dict[str, Any]:
    """cancel | pause | resume: immediate when no trainer runs the job, a control request when one does."""
    event, messages = _ACTIONS[action]
    with ctx.store.begin_immediate() as conn:
        row = get_row(conn, principal.project_id, job_id, for_update=True)  # vs. a worker claiming it
        try:
            moved = jobstatus.apply(conn, job_id, event)
        except ImpossibleTransition as exc:
            raise _refused(row, action) from exc
        if not moved.changed:
            return job_object(row)  # the same request again: nothing new to record
        insert_event(conn, job_id, messages[moved.status])
        return job_object(conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one())


def cancel_job(ctx: AppContext, principal: Principal, job_id: str) -> dict[str, Any]:
    return _transition(ctx, principal, job_id, "cancel")


def pause_job(ctx: AppContext, principal: Principal, job_id: str) -> dict[str, Any]:
    return _transition(ctx, principal, job_id, "pause")


def resume_job(ctx: AppContext, principal: Principal, job_id: str) -> dict[str, Any]:
    return _transition(ctx, principal, job_id, "resume")
