"""Evals: create (validate everything, then one insert), read, rename, delete, for the caller's project.

An eval is a row of `evals`; its data_source_config and testing_criteria are stored in their returned
form. Criteria are validated by openrft.evals.criteria (shape, templates, pass_threshold), then each
one goes through the graders service's `checked_grader` as a job's grader does (the operator's outbound
policy, the project's reward functions), and every `{{item.x}}` must name a property of item_schema.
Another project's eval does not exist (404). Runs are in runs.py.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from openrft.api.graders.service import checked_grader
from openrft.api.jobs.schemas import MAX_METADATA_KEY, MAX_METADATA_PAIRS, MAX_METADATA_VALUE
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import InvalidRequest, NotFound
from openrft.evals import criteria as crit
from openrft.evals import definitions
from openrft.evals.records import new_eval_id
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.pages import keyset_page

evals = schema.evals
runs = schema.eval_runs
items = schema.eval_output_items
ACTIVE_RUN_STATUSES = ("queued", "in_progress")
MAX_NAME = 512


# -- shapes ---------------------------------------------------------------------------------------------


def eval_object(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "created_at": m["created_at"],
        "data_source_config": m["data_source_config"],
        "metadata": m["metadata"],
        "name": m["name"],
        "object": "eval",
        "testing_criteria": m["testing_criteria"],
    }


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


# -- checks shared with runs ----------------------------------------------------------------------------


def check_keys(payload: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    extra = [k for k in payload if k not in allowed]
    if extra:
        raise InvalidRequest(f"Unrecognized request argument supplied: {extra[0]}", param=extra[0])
    return payload


def check_name(name: Any) -> str | None:
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        raise InvalidRequest(f"'name' must be a string of at most {MAX_NAME} characters.", param="name")
    return name


def check_metadata(metadata: Any) -> dict[str, str] | None:
    """OpenAI's metadata rules: at most 16 pairs, string keys up to 64 and values up to 512 characters."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InvalidRequest("'metadata' must be an object of string values.", param="metadata")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequest(f"'metadata': at most {MAX_METADATA_PAIRS} pairs, got {len(metadata)}.", param="metadata")
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(f"'metadata': key '{key[:20]}...' is over {MAX_METADATA_KEY} characters.",
                                 param="metadata")  # fmt: skip
        if len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(f"'metadata.{key}': value is over {MAX_METADATA_VALUE} characters.",
                                 param=f"metadata.{key}")  # fmt: skip
    return metadata


def get_eval_row(conn: sa.Connection, project_id: str, eval_id: str) -> Any:
    row = conn.execute(
        sa.select(evals).where(evals.c.id == eval_id, evals.c.project_id == project_id, evals.c.deleted_at.is_(None))
    ).first()
    if row is None:
        raise NotFound(f"Eval with id '{eval_id}' not found.", param="eval_id")
    return row


# -- create ---------------------------------------------------------------------------------------------


def _reroot(exc: InvalidRequest, head: str, param: str) -> InvalidRequest:
    """An error of `checked_grader` (rooted at `head`, e.g. "grader") rooted at the criterion's param."""
    where = exc.param or head
    exc.param = param + where.removeprefix(head) if where.startswith(head) else f"{param}.{where}"
    exc.message = exc.message.replace(head, param, 1) if exc.message.startswith(head) else exc.message
    exc.args = (exc.message,)
    return exc


def check_outbound(ctx: AppContext, project_id: str, criterion: dict[str, Any], param: str) -> None:
    """The graders service's checks of one criterion: outbound policy and reward functions that exist."""
    grader = {k: v for k, v in criterion.items() if k not in ("id", "pass_threshold")}
    head = "grader"
    if grader["type"] == "label_model":  # the grader service takes label_model only inside a multi
        grader = {"type": "multi", "name": "label", "calculate_output": "label", "graders": {"label": grader}}
        head = "grader.graders.label"
    try:
        checked_grader(ctx, project_id, grader)
    except InvalidRequest as exc:
        raise _reroot(exc, head, param) from None


def create_eval(ctx: AppContext, principal: Principal, payload: Any) -> dict[str, Any]:
    body = check_keys(payload, ("data_source_config", "testing_criteria", "metadata", "name"))
    name, metadata = check_name(body.get("name")), check_metadata(body.get("metadata"))
    config = definitions.parse_data_source_config(body.get("data_source_config"))
    if "testing_criteria" not in body:
        raise InvalidRequest("Missing required parameter: 'testing_criteria'.", param="testing_criteria")
    criteria = crit.parse_criteria(body["testing_criteria"])
    for i, criterion in enumerate(criteria):
        check_outbound(ctx, principal.project_id, criterion, f"testing_criteria[{i}]")
    definitions.check_item_variables(definitions.item_schema_of(config), crit.template_variables(criteria))
    eval_id = new_eval_id()
    row = {
        "id": eval_id,
        "project_id": principal.project_id,
        "name": name or eval_id,
        "data_source_config": config,
        "testing_criteria": criteria,
        "metadata": metadata,
        "job_id": None,
        "created_at": now_s(),
        "deleted_at": None,
    }
    with ctx.store.begin() as conn:
        conn.execute(evals.insert().values(**row))
        return eval_object(get_eval_row(conn, principal.project_id, eval_id))


# -- read, update, delete -------------------------------------------------------------------------------


def get_eval(ctx: AppContext, principal: Principal, eval_id: str) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        return eval_object(get_eval_row(conn, principal.project_id, eval_id))


def list_evals(
    ctx: AppContext, principal: Principal, *, after: str | None, limit: int, order: str, order_by: str
) -> dict[str, Any]:
    if order_by != "created_at":
        # An eval changes only by rename or new metadata, and the table keeps no update time.
        raise InvalidRequest("order_by 'updated_at' is not supported here: evals list by created_at.",
                             param="order_by")  # fmt: skip
    scope = [evals.c.project_id == principal.project_id, evals.c.deleted_at.is_(None)]
    with ctx.store.begin() as conn:
        rows, has_more = keyset_page(
            conn,
            evals,
            scope,
            keys=(evals.c.created_at, evals.c.id),
            id_column=evals.c.id,
            after=after,
            limit=limit,
            descending=order == "desc",
            unknown_after=f"Unknown cursor {after!r}: no such eval in this list.",
        )
    return page([eval_object(r) for r in rows], has_more)


def update_eval(ctx: AppContext, principal: Principal, eval_id: str, payload: Any) -> dict[str, Any]:
    body = check_keys(payload, ("name", "metadata"))
    values: dict[str, Any] = {}
    if body.get("name") is not None:
        values["name"] = check_name(body["name"])
    if "metadata" in body:
        values["metadata"] = check_metadata(body["metadata"])
    with ctx.store.begin_immediate() as conn:
        get_eval_row(conn, principal.project_id, eval_id)
        if values:
            conn.execute(evals.update().where(evals.c.id == eval_id).values(**values))
        return eval_object(get_eval_row(conn, principal.project_id, eval_id))


def retire_runs(conn: sa.Connection, run_ids: list[str]) -> None:
    """Runs deleted: a queued one is canceled, a running one told to stop; their output items go."""
    if not run_ids:
        return
    now = now_s()
    conn.execute(
        runs.update()
        .where(runs.c.id.in_(run_ids), runs.c.status == "queued")
        .values(status="canceled", finished_at=now, control="cancel")
    )
    conn.execute(runs.update().where(runs.c.id.in_(run_ids), runs.c.status == "in_progress").values(control="cancel"))
    conn.execute(runs.update().where(runs.c.id.in_(run_ids)).values(deleted_at=now))
    conn.execute(items.delete().where(items.c.run_id.in_(run_ids)))


def delete_eval(ctx: AppContext, principal: Principal, eval_id: str) -> dict[str, Any]:
    with ctx.store.begin_immediate() as conn:
        get_eval_row(conn, principal.project_id, eval_id)
        run_ids = list(
            conn.execute(sa.select(runs.c.id).where(runs.c.eval_id == eval_id, runs.c.deleted_at.is_(None))).scalars()
        )
        retire_runs(conn, run_ids)
        conn.execute(evals.update().where(evals.c.id == eval_id).values(deleted_at=now_s()))
    return {"object": "eval.deleted", "deleted": True, "eval_id": eval_id}
