"""Published versions: immutable snapshots `1, 2, ...` of `$LATEST`'s code and configuration."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from openrft.functions.package import invalid
from openrft.functions.registry.rows import CONFIG_FIELDS, LATEST, check_revision, fn, fv, now_aws, require_function
from openrft.store.db import Store


def list_versions(store: Store, project_id: str, name: str) -> list[dict[str, Any]]:
    """$LATEST first, then published versions in number order (as AWS lists them)."""
    with store.begin() as conn:
        require_function(conn, project_id, name)
        rows = conn.execute(sa.select(fv).where(fv.c.project_id == project_id, fv.c.function_name == name)).all()
    out = [dict(r._mapping) for r in rows]
    return sorted(out, key=lambda r: -1 if r["version"] == LATEST else int(r["version"]))


def publish_version(
    store: Store,
    project_id: str,
    name: str,
    *,
    expected_sha256: str | None = None,
    description: str | None = None,
    revision_id: str | None = None,
) -> dict[str, Any]:
    """Snapshot `$LATEST` as the next version; unchanged since the last publish -> that version again."""
    with store.begin_immediate() as conn:
        latest = require_function(conn, project_id, name)
        check_revision(latest, revision_id)
        if expected_sha256 is not None and expected_sha256 != latest["code_sha256"]:
            raise invalid(
                f"CodeSHA256 ({expected_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest['code_sha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        return publish_latest(conn, project_id, name, latest, description=description)


def publish_latest(
    conn: sa.Connection, project_id: str, name: str, latest: dict[str, Any], *, description: str | None
) -> dict[str, Any]:
    # Lock the function row first (FOR UPDATE on Postgres; SQLite's writer lock is already held), so two
    # concurrent publishes neither take the same number nor both decide that nothing changed.
    number = conn.execute(
        sa.select(fn.c.next_version).where(fn.c.project_id == project_id, fn.c.name == name).with_for_update()
    ).scalar_one()
    rows = conn.execute(
        sa.select(fv).where(fv.c.project_id == project_id, fv.c.function_name == name, fv.c.version != LATEST)
    ).all()
    if rows:
        last = dict(max(rows, key=lambda r: int(r.version))._mapping)
        # $LATEST unchanged since the last publish (a version's own description aside): AWS returns it.
        if all(last[k] == latest[k] for k in (*CONFIG_FIELDS, "code_sha256") if k != "description"):
            return last
    conn.execute(fn.update().where(fn.c.project_id == project_id, fn.c.name == name).values(next_version=number + 1))
    version = {
        **latest,
        "version": str(number),
        "description": latest["description"] if description is None else description,
        "revision_id": str(uuid.uuid4()),
        "last_modified": now_aws(),
    }
    conn.execute(fv.insert().values(**version))
    return version
