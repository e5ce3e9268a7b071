"""`openrft audit` lists the audit trail; `openrft audit verify` checks its hash chain.

    openrft audit [--type T] [--project P] [--actor A] [--resource R] [--since T] [--until T] [--limit N]
    openrft audit verify

The list is a client of `GET /v1/organization/audit_logs` (`--base-url`, `--api-key`), newest first.
`verify` reads this machine's installation directly (`OPENRFT_HOME` / `OPENRFT_DATABASE_URL`), like
`openrft models add`: the check must not depend on the server it audits. It exits 1 and prints the
first bad row when the chain is broken, 0 with the row count and the head hash otherwise (write the
head hash down elsewhere: a later verify that no longer reaches it shows a rewritten or cut tail).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from openrft.cli.common import (
    JsonOption,
    api_errors,
    checked,
    console,
    err_console,
    get_config,
    print_json,
    print_table,
    timestamp,
)

audit_app = typer.Typer(help="The audit trail: list events, verify the hash chain.")
PAGE_LIMIT = 100


def unix_seconds(value: str) -> int:
    """Unix seconds from `1767225600` or an ISO-8601 time (`2026-01-01`, `2026-01-01T12:00:00Z`; UTC if naive)."""
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is neither Unix seconds nor an ISO-8601 time") from exc
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


@audit_app.callback(invoke_without_command=True)
def list_events(
    ctx: typer.Context,
    event_type: Annotated[list[str] | None, typer.Option("--type", help="Event type (repeatable).")] = None,
    project: Annotated[list[str] | None, typer.Option("--project", help="Project id (repeatable).")] = None,
    actor: Annotated[list[str] | None, typer.Option("--actor", help="Key, service account or ARN.")] = None,
    resource: Annotated[list[str] | None, typer.Option("--resource", help="Resource ARN or id.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (Unix seconds or ISO-8601), inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time, inclusive.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Events to show, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List audit events, newest first (the admin key sees every project, a project key its own)."""
    if ctx.invoked_subcommand is not None:
        return
    params: dict[str, Any] = {
        "event_types[]": event_type or [],
        "project_ids[]": project or [],
        "actor_ids[]": actor or [],
        "resource_ids[]": resource or [],
    }
    if since is not None:
        params["effective_at[gte]"] = unix_seconds(since)
    if until is not None:
        params["effective_at[lte]"] = unix_seconds(until)
    events: list[dict[str, Any]] = []
    with api_errors(), get_config(ctx).http() as http:
        while len(events) < limit:
            page = checked(http.get("/organization/audit_logs", params={**params, "limit": min(PAGE_LIMIT, limit)}))
            events += page["data"]
            if not page["has_more"]:
                break
            params["after"] = page["last_id"]
    events = events[:limit]
    if as_json:
        print_json(events)
        return
    rows = [
        (
            timestamp(e["effective_at"]),
            e["type"],
            (e.get("project") or {}).get("id"),
            ((e.get("actor") or {}).get("api_key") or {}).get("id"),
            e["openrft"].get("action"),
            e["openrft"].get("resource"),
            e["openrft"]["outcome"],
        )
        for e in events
    ]
    print_table("Audit log", ("time", "type", "project", "key", "action", "resource", "outcome"), rows)


@audit_app.command("verify")
def verify_chain(as_json: JsonOption = False) -> None:
    """Recompute the hash chain of this installation's audit log; exit 1 at the first bad row."""
    import sqlalchemy as sa

    from openrft.auth.audit import verify
    from openrft.settings import get_settings
    from openrft.store import schema
    from openrft.store.db import Store

    store = Store.from_settings(get_settings())
    try:
        result = verify(store)
        bad_row = None
        if result.first_bad_seq is not None:
            with store.begin() as conn:
                found = conn.execute(sa.select(schema.audit_log).where(schema.audit_log.c.seq == result.first_bad_seq))
                bad_row = found.mappings().first()
    finally:
        store.dispose()
    if as_json:
        print_json({**vars(result), "bad_row": dict(bad_row) if bad_row else None})
    elif result.ok:
        console.print(f"audit log ok: {result.checked} row(s), head hash {result.head_hash or '-'}")
    else:
        err_console.print(f"[red]audit log broken at seq {result.first_bad_seq}:[/] {result.reason}")
        if bad_row is not None:
            err_console.print_json(data=dict(bad_row))
    if not result.ok:
        raise typer.Exit(1)
