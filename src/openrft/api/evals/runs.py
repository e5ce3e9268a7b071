"""Eval runs and their output items: create (validated, then queued), read, cancel, delete.

A create checks the data source against its eval (openrft.evals.datasource), reads its rows (inline,
the project's "evals" file, or for a job's linked eval also the job's own training or validation file),
checks each item against the eval's item_schema and, for a jsonl source, that every row supplies the
sample a criterion reads; the model of a completions source must be one openrft serves to the project.
The run is then a `queued` row: the eval runner (openrft.evals.runner)
executes it on the worker side, never in this request.

Cancel follows OpenAI: a queued run is canceled at once; a running one is told to stop (`control`
"cancel") and stops at its next batch boundary; a finished run is returned unchanged. Delete removes the
run and its output items (a running run is told to stop too). `report_url` is the run's page in
openrft's console, `{base_url}/evals/{eval_id}/runs/{run_id}`, from the URL the request came in on.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from openrft.api.evals.service import (
    check_keys,
    check_metadata,
    check_name,
    get_eval_row,
    items,
    page,
    retire_runs,
    runs,
)
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import InvalidRequest, NotFound
from openrft.evals import criteria as crit
from openrft.evals import datasource, definitions
from openrft.evals.records import empty_counts, new_run_id
from openrft.ids import now_s
from openrft.inference import registry
from openrft.store import schema
from openrft.store.pages import keyset_page

EVALS_PURPOSE = "evals"
FINE_TUNE_PURPOSE = "fine-tune"  # a job's own files, accepted by the job's linked eval (_check_file)
RUN_STATUSES = ("queued", "in_progress", "completed", "canceled", "failed")


def run_object(row: Any, base_url: str) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "created_at": m["created_at"],
        "data_source": m["data_source"],
        "error": m["error"] or None,
        "eval_id": m["eval_id"],
        "metadata": m["metadata"],
        "model": m["model"],
        "name": m["name"],
        "object": "eval.run",
        "per_model_usage": m["per_model_usage"] or [],
        "per_testing_criteria_results": m["per_testing_criteria_results"] or [],
        "report_url": f"{base_url.rstrip('/')}/evals/{m['eval_id']}/runs/{m['id']}",
        "result_counts": m["result_counts"],
        "status": m["status"],
    }


def output_item_object(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "created_at": m["created_at"],
        "datasource_item": m["datasource_item"],
        "datasource_item_id": m["datasource_item_id"],
        "eval_id": m["eval_id"],
        "object": "eval.run.output_item",
        "results": m["results"],
        "run_id": m["run_id"],
        "sample": m["sample"],
        "status": m["status"],
    }


def _run_row(conn: sa.Connection, project_id: str, eval_id: str, run_id: str) -> Any:
    get_eval_row(conn, project_id, eval_id)
    row = conn.execute(
        sa.select(runs).where(
            runs.c.id == run_id,
            runs.c.eval_id == eval_id,
            runs.c.project_id == project_id,
            runs.c.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        raise NotFound(f"Run with id '{run_id}' not found in eval '{eval_id}'.", param="run_id")
    return row


# -- create ---------------------------------------------------------------------------------------------


def _check_file(ctx: AppContext, project_id: str, data_source: dict[str, Any], eval_row: Any) -> None:
    """A file with purpose "evals"; a job's linked eval also takes that job's own training or validation
    file (purpose "fine-tune"), whose lines ({"messages": [...], ...fields}) are items as they stand, so a
    checkpoint or the base model can be run on the job's validation set."""
    source = data_source["source"]
    if source["type"] != "file_id":
        return
    files = schema.files
    with ctx.store.begin() as conn:
        row = conn.execute(
            sa.select(files.c.purpose).where(
                files.c.id == source["id"], files.c.project_id == project_id, files.c.deleted_at.is_(None)
            )
        ).first()
        job_files: set[str] = set()
        if eval_row.job_id is not None:
            job = conn.execute(
                sa.select(schema.jobs.c.training_file, schema.jobs.c.validation_file).where(
                    schema.jobs.c.id == eval_row.job_id, schema.jobs.c.project_id == project_id
                )
            ).first()
            job_files = {f for f in (job or ()) if f}
    if row is None:
        raise NotFound(f"No such File object: {source['id']}", param="data_source.source.id")
    if row.purpose == FINE_TUNE_PURPOSE and source["id"] in job_files:
        return
    if row.purpose != EVALS_PURPOSE:
        linked = (
            f" (or, for this job's linked eval, the job's training or validation file: {', '.join(sorted(job_files))})"
            if job_files
            else ""
        )
        raise InvalidRequest(
            f"File {source['id']} has purpose {row.purpose!r}; a run's data source takes a file with purpose "
            f"'evals'{linked}.",
            param="data_source.source.id",
        )


def _check_model(ctx: AppContext, project_id: str, model: str) -> None:
    try:
        registry.get_row(ctx.store, project_id, model)
    except NotFound:
        raise InvalidRequest(
            f"The model '{model}' does not exist or you do not have access to it: a completions run takes a "
            "model openrft serves (a base model, an ft: model or one of its checkpoints; see GET /v1/models).",
            param="data_source.model",
            code="model_not_found",
        ) from None


def _row_param(data_source: dict[str, Any], i: int, field: str) -> str:
    if data_source["source"]["type"] == "file_content":
        return f"data_source.source.content[{i}].{field}"
    return "data_source.source.id"


def _check_rows(rows: list[dict[str, Any]], item_schema: dict[str, Any], data_source: dict[str, Any],
                criteria: list[dict[str, Any]]) -> None:  # fmt: skip
    """Each item against item_schema; for jsonl, each row has the sample the criteria read."""
    import jsonschema

    validator = jsonschema.validators.validator_for(item_schema)(item_schema)
    for i, row in enumerate(rows):
        problem = jsonschema.exceptions.best_match(validator.iter_errors(row["item"]))
        if problem is not None:
            where = "".join(f"[{p!r}]" for p in problem.absolute_path)
            raise InvalidRequest(
                f"item {i} (datasource_item_id {i}) does not match the eval's item_schema"
                f"{' at ' + where if where else ''}: {problem.message}",
                param=_row_param(data_source, i, "item"),
            )
    reader = crit.reads_sample(criteria) if data_source["type"] == "jsonl" else None
    if reader is not None:
        missing = next((i for i, row in enumerate(rows) if not row.get("sample")), None)
        if missing is not None:
            raise InvalidRequest(
                f"item {missing} (datasource_item_id {missing}) has no sample, and {reader} of the eval reads the "
                'sample: a jsonl data source must supply one per row ({"item": ..., "sample": '
                '{"output_text": ...}}), or run a completions data source to generate them.',
                param=_row_param(data_source, missing, "sample"),
            )


def create_run(ctx: AppContext, principal: Principal, eval_id: str, payload: Any, base_url: str) -> dict[str, Any]:
    project_id = principal.project_id
    body = check_keys(payload, ("data_source", "metadata", "name"))
    name, metadata = check_name(body.get("name")), check_metadata(body.get("metadata"))
    with ctx.store.begin() as conn:
        eval_row = get_eval_row(conn, project_id, eval_id)
    item_schema = definitions.item_schema_of(eval_row.data_source_config)
    data_source = datasource.parse_data_source(
        body.get("data_source"), properties=definitions.item_properties(item_schema)
    )
    _check_file(ctx, project_id, data_source, eval_row)
    model = data_source.get("model")
    if model is not None:
        _check_model(ctx, project_id, model)
    rows = datasource.load_items(ctx, project_id, data_source)
    _check_rows(rows, item_schema, data_source, eval_row.testing_criteria)
    run_id = new_run_id()
    with ctx.store.begin() as conn:
        conn.execute(
            runs.insert().values(
                id=run_id,
                eval_id=eval_id,
                project_id=project_id,
                name=name or run_id,
                model=model,
                data_source=data_source,
                status="queued",
                error=None,
                metadata=metadata,
                created_at=now_s(),
                attempts=0,
                **empty_counts(),
            )
        )
        return run_object(_run_row(conn, project_id, eval_id, run_id), base_url)


# -- read, cancel, delete -------------------------------------------------------------------------------


def get_run(ctx: AppContext, principal: Principal, eval_id: str, run_id: str, base_url: str) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        return run_object(_run_row(conn, principal.project_id, eval_id, run_id), base_url)


def list_runs(
    ctx: AppContext,
    principal: Principal,
    eval_id: str,
    *,
    after: str | None,
    limit: int,
    order: str,
    status: str | None,
    base_url: str,
) -> dict[str, Any]:
    scope = [runs.c.eval_id == eval_id, runs.c.project_id == principal.project_id, runs.c.deleted_at.is_(None)]
    if status is not None:
        scope.append(runs.c.status == status)
    with ctx.store.begin() as conn:
        get_eval_row(conn, principal.project_id, eval_id)
        rows, has_more = keyset_page(
            conn,
            runs,
            scope,
            keys=(runs.c.created_at, runs.c.id),
            id_column=runs.c.id,
            after=after,
            limit=limit,
            descending=order == "desc",
            unknown_after=f"Unknown cursor {after!r}: no such run in this list.",
        )
    return page([run_object(r, base_url) for r in rows], has_more)


def cancel_run(ctx: AppContext, principal: Principal, eval_id: str, run_id: str, base_url: str) -> dict[str, Any]:
    with ctx.store.begin_immediate() as conn:
        row = _run_row(conn, principal.project_id, eval_id, run_id)
        if row.status == "queued":
            values: dict[str, Any] = {"status": "canceled", "control": "cancel", "finished_at": now_s()}
            conn.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "queued").values(**values))
        elif row.status == "in_progress":
            conn.execute(runs.update().where(runs.c.id == run_id).values(control="cancel"))
        return run_object(_run_row(conn, principal.project_id, eval_id, run_id), base_url)


def delete_run(ctx: AppContext, principal: Principal, eval_id: str, run_id: str) -> dict[str, Any]:
    with ctx.store.begin_immediate() as conn:
        _run_row(conn, principal.project_id, eval_id, run_id)
        retire_runs(conn, [run_id])
    return {"object": "eval.run.deleted", "deleted": True, "run_id": run_id}


def list_output_items(
    ctx: AppContext,
    principal: Principal,
    eval_id: str,
    run_id: str,
    *,
    after: str | None,
    limit: int,
    order: str,
    status: str | None,
) -> dict[str, Any]:
    """Items in data-source order (datasource_item_id), `status` pass | fail."""
    scope = [items.c.run_id == run_id, items.c.eval_id == eval_id]
    if status is not None:
        scope.append(items.c.status == status)
    with ctx.store.begin() as conn:
        _run_row(conn, principal.project_id, eval_id, run_id)
        rows, has_more = keyset_page(
            conn,
            items,
            scope,
            keys=(items.c.datasource_item_id,),
            id_column=items.c.id,
            after=after,
            limit=limit,
            descending=order == "desc",
            unknown_after=f"Unknown cursor {after!r}: no such output item in this list.",
        )
    return page([output_item_object(r) for r in rows], has_more)


def get_output_item(ctx: AppContext, principal: Principal, eval_id: str, run_id: str, item_id: str) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        _run_row(conn, principal.project_id, eval_id, run_id)
        row = conn.execute(sa.select(items).where(items.c.id == item_id, items.c.run_id == run_id)).first()
    if row is None:
        raise NotFound(f"Output item with id '{item_id}' not found in run '{run_id}'.", param="output_item_id")
    return output_item_object(row)
