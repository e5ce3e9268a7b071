"""Fine-tuning jobs: create (validate everything, then write in one transaction), read, and control.

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

from openrft import datasets, jobstatus
from openrft.api.graders.service import checked_grader
from openrft.api.jobs.schemas import (
    MAX_METADATA_KEY,
    MAX_METADATA_PAIRS,
    MAX_METADATA_VALUE,
    MAX_SEED,
    JobCreate,
    ReinforcementMethod,
    RFTHyperparameters,
)
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import Conflict, InvalidRequest, NotFound, field_error
from openrft.ids import now_s, random_token
from openrft.inference import registry
from openrft.jobstate import checkpoint_object, insert_event
from openrft.jobstatus import TERMINAL_STATUSES, ImpossibleTransition
from openrft.store import schema
from openrft.store.pages import keyset_page
from openrft.training import hparams, samples

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
    hp = (method.get("reinforcement") or {}).get("hyperparameters") or {}
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


# -- validation of a create request ---------------------------------------------------------------


def _invalid(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first pydantic error as a 400 naming the full param path."""
    err = field_error(exc.errors(), prefix=prefix or None)
    param, parts, kind = err.param, err.parts, err.kind
    if kind == "extra_forbidden" and parts[-2:-1] == ["hyperparameters"]:
        message = f"Unknown hyperparameter '{parts[-1]}' (param {param})."
    elif kind == "extra_forbidden" and not prefix:
        message = f"Unrecognized request argument supplied: {param}"
    elif kind == "extra_forbidden":
        message = f"Unknown parameter '{param}'."
    elif kind == "missing":
        message = f"Missing required parameter: '{param}'."
    else:
        message = f"Invalid '{param}': {err.message}."
    return InvalidRequest(message, param=param)


def _check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequest(
            f"Invalid 'metadata': at most {MAX_METADATA_PAIRS} pairs, got {len(metadata)}.", param="metadata"
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(
                f"Invalid 'metadata': key '{key[:20]}...' is over {MAX_METADATA_KEY} characters.", param="metadata"
            )
        if len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"Invalid 'metadata.{key}': value is over {MAX_METADATA_VALUE} characters.", param=f"metadata.{key}"
            )


def _check_method(body: JobCreate) -> ReinforcementMethod:
    """Only reinforcement: supervised, dpo and the top-level (supervised) hyperparameters are refused."""
    method = body.method or {}
    kind = method.get("type")
    if kind != "reinforcement":
        got = f"method.type {kind!r}" if body.method is not None else "no method (defaults to supervised)"
        if body.method is None and body.hyperparameters is not None:
            got = "top-level 'hyperparameters' (a supervised job)"
        raise InvalidRequest(
            f"only reinforcement fine-tuning is supported (got {got}); send method="
            '{"type": "reinforcement", "reinforcement": {"grader": ..., "hyperparameters": ...}}',
            param="method.type",
        )
    if body.hyperparameters is not None:
        raise InvalidRequest(
            "top-level 'hyperparameters' is for supervised jobs; put them in method.reinforcement.hyperparameters",
            param="hyperparameters",
        )
    for key, value in method.items():
        if key not in ("type", "reinforcement") and value is not None:
            raise InvalidRequest(f"Unknown parameter 'method.{key}' for a reinforcement job.", param=f"method.{key}")
    raw = method.get("reinforcement")
    if not isinstance(raw, dict):
        raise InvalidRequest("Missing required parameter: 'method.reinforcement'.", param="method.reinforcement")
    try:
        return ReinforcementMethod.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc, "method.reinforcement") from exc


def _check_grader(ctx: AppContext, project_id: str, grader: dict[str, Any]) -> dict[str, Any]:
    prefix = "method.reinforcement.grader"
    if grader.get("type") == "label_model":
        raise InvalidRequest(
            "a label_model grader is only allowed inside a multi grader, not as the job's grader",
            param=f"{prefix}.type",
        )
    try:
        return checked_grader(ctx, project_id, grader)
    except InvalidRequest as exc:
        param = exc.param or "grader"
        exc.param = prefix + param.removeprefix("grader") if param.startswith("grader") else f"{prefix}.{param}"
        raise


def _check_response_format(response_format: dict[str, Any] | None) -> None:
    if response_format is None:
        return
    param = "method.reinforcement.response_format"
    kind = response_format.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            f"Invalid '{param}.type': must be text, json_object or json_schema.", param=f"{param}.type"
        )
    if kind == "json_schema":
        # OpenAI's nested form {"json_schema": {"name", "schema"}} or Azure's flat {"name", "schema"}.
        nested = response_format.get("json_schema")
        schema_obj = nested.get("schema") if isinstance(nested, dict) else response_format.get("schema")
        if not isinstance(schema_obj, dict):
            raise InvalidRequest(
                f"'{param}' of type json_schema needs a JSON schema object.", param=f"{param}.json_schema"
            )


def _check_model(ctx: AppContext, project_id: str, model: str) -> None:
    """A base model: the trainer starts a fresh adapter on one, never on a fine-tuned model or checkpoint."""
    try:
        row = registry.get_row(ctx.store, project_id, model)
    except NotFound:
        raise InvalidRequest(
            f"The model '{model}' does not exist or is not available for fine-tuning.",
            param="model",
            code="model_not_available",
        ) from None
    if row["kind"] != "base":
        bases = ", ".join(r["id"] for r in registry.list_models(ctx.store, project_id) if r["kind"] == "base")
        raise InvalidRequest(
            f"The model '{model}' is a {row['kind'].replace('_', '-')} model; reinforcement fine-tuning starts "
            f"from a base model ({bases}).",
            param="model",
            code="model_not_available",
        )


def _check_budget(ctx: AppContext, model: str, hp: RFTHyperparameters | None) -> None:
    """The request resolved as the trainer will (`hparams.check_request`: work per step, derived values),
    and a completion budget that leaves room for a prompt in the base model's context."""
    param = "method.reinforcement.hyperparameters"
    try:
        resolved = hparams.check_request(hp.model_dump(exclude_none=True) if hp is not None else None)
    except hparams.HParamsError as exc:
        raise InvalidRequest(str(exc), param=f"{param}.{exc.param}") from None
    budget, effort = resolved.completion_budget, resolved.reasoning_effort
    context = registry.context_length(ctx.store, ctx.settings, model)
    if budget >= context:
        raise InvalidRequest(
            f"max_completion_tokens gives a completion budget of {budget} tokens (reasoning_effort {effort}), which "
            f"leaves no room for the prompt in the {context}-token context of {model}",
            param=f"{param}.max_completion_tokens",
        )


def _check_file(ctx: AppContext, project_id: str, file_id: str, param: str) -> None:
    """The file exists in the project, is a fine-tune file and parses; the 400 names the line at fault."""
    f = schema.files.c
    with ctx.store.begin() as conn:
        row = conn.execute(
            sa.select(schema.files).where(f.id == file_id, f.project_id == project_id, f.deleted_at.is_(None))
        ).first()
    if row is None:
        raise InvalidRequest(f"Invalid '{param}': file '{file_id}' does not exist.", param=param, code="file_not_found")
    if row.purpose != "fine-tune":
        raise InvalidRequest(
            f"Invalid '{param}': file '{file_id}' has purpose '{row.purpose}'; a job needs a 'fine-tune' file.",
            param=param,
            code="invalid_file_purpose",
        )
    try:
        datasets.load_file_rows(ctx, file_id)
    except datasets.DatasetError as exc:
        raise InvalidRequest(
            f"Invalid '{param}': file '{file_id}' is not a valid fine-tune file: {exc}",
            param=param,
            code="invalid_file",
        ) from exc
    except FileNotFoundError as exc:
        raise InvalidRequest(
            f"Invalid '{param}': the content of file '{file_id}' is missing.", param=param, code="invalid_file"
        ) from exc


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


def _job_row(project_id: str, body: JobCreate, method: ReinforcementMethod, grader: dict[str, Any]) -> dict[str, Any]:
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
        "method": {
            "type": "reinforcement",
            "reinforcement": {
                "grader": grader,
                "hyperparameters": method.hyperparameters.model_dump(exclude_none=True),
                "response_format": method.response_format,
            },
        },
        "status": jobstatus.NEW_JOB_STATUS,
        "result_files": [],
        "integrations": [i.model_dump(exclude_none=True) for i in body.integrations] if body.integrations else None,
        "created_at": now_s(),
        "attempts": 0,
    }


def create_job(
    ctx: AppContext, principal: Principal, payload: dict[str, Any], idempotency_key: str | None
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
        raise _invalid(exc) from exc
    _check_metadata(body.metadata)
    method = _check_method(body)
    _check_model(ctx, project_id, body.model)
    grader = _check_grader(ctx, project_id, method.grader)
    _check_response_format(method.response_format)
    _check_budget(ctx, body.model, method.hyperparameters)
    _check_file(ctx, project_id, body.training_file, "training_file")
    if body.validation_file is not None:
        _check_file(ctx, project_id, body.validation_file, "validation_file")

    row = _job_row(project_id, body, method, grader) | {"idempotency_key": idempotency_key, "request_sha256": digest}
    job_id = row["id"]
    with ctx.store.begin_immediate() as conn:
        if idempotency_key is not None:  # a concurrent twin may have committed since the first look
            existing = _by_idempotency_key(conn, project_id, idempotency_key, digest)
            if existing is not None:
                return job_object(existing)
        conn.execute(jobs.insert().values(**row))
        insert_event(conn, job_id, f"Validating training file: {body.training_file}")
        jobstatus.apply(conn, job_id, "files_validated")
        insert_event(conn, job_id, "Files validated, job queued")
        created = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
    return job_object(created)


# -- reads ----------------------------------------------------------------------------------------


def _get_row(conn: sa.Connection, project_id: str, job_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(jobs).where(jobs.c.id == job_id, jobs.c.project_id == project_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(
            f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id", code="fine_tune_not_found"
        )
    return row


def get_job(ctx: AppContext, principal: Principal, job_id: str) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        return job_object(_get_row(conn, principal.project_id, job_id))


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
        _get_row(conn, principal.project_id, job_id)
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
        _get_row(conn, principal.project_id, job_id)
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
        _get_row(conn, principal.project_id, job_id)
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
        row = _get_row(conn, principal.project_id, job_id, for_update=True)  # vs. a worker claiming it
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
