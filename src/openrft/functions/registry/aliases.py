"""Aliases: a name for a published version (or `$LATEST`), resolved at each call."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from openrft.functions.arn import ALIAS_RE, function_arn
from openrft.functions.package import conflict, invalid, not_found
from openrft.functions.registry.rows import LATEST, alias_row, check_revision, fa, require_function, version_row
from openrft.store.db import Store


def _check_alias_target(conn: sa.Connection, project_id: str, name: str, version: str) -> None:
    if version != LATEST and (not version.isdigit() or version_row(conn, project_id, name, version) is None):
        raise not_found(f"Function not found: {function_arn(project_id, name, version)}")


def create_alias(
    store: Store, project_id: str, name: str, alias: str, version: str, description: str = ""
) -> dict[str, Any]:
    if not ALIAS_RE.match(alias) or alias == LATEST:
        raise invalid(f"Alias name {alias!r} must be 1-128 letters, digits, '-' or '_' and not only digits")
    with store.begin_immediate() as conn:
        require_function(conn, project_id, name)
        _check_alias_target(conn, project_id, name, version)
        if alias_row(conn, project_id, name, alias) is not None:
            raise conflict(f"Alias already exists: {function_arn(project_id, name, alias)}")
        row = {
            "project_id": project_id,
            "function_name": name,
            "name": alias,
            "function_version": version,
            "description": description,
            "revision_id": str(uuid.uuid4()),
        }
        conn.execute(fa.insert().values(**row))
    return row


def get_alias(store: Store, project_id: str, name: str, alias: str) -> dict[str, Any]:
    with store.begin() as conn:
        require_function(conn, project_id, name)
        row = alias_row(conn, project_id, name, alias)
    if row is None:
        raise not_found(f"Alias not found: {function_arn(project_id, name, alias)}")
    return row


def update_alias(
    store: Store,
    project_id: str,
    name: str,
    alias: str,
    *,
    version: str | None,
    description: str | None,
    revision_id: str | None,
) -> dict[str, Any]:
    with store.begin_immediate() as conn:
        require_function(conn, project_id, name)
        row = alias_row(conn, project_id, name, alias)
        if row is None:
            raise not_found(f"Alias not found: {function_arn(project_id, name, alias)}")
        check_revision(row, revision_id)
        if version is not None:
            _check_alias_target(conn, project_id, name, version)
            row["function_version"] = version
        if description is not None:
            row["description"] = description
        row["revision_id"] = str(uuid.uuid4())
        conn.execute(
            fa.update()
            .where(fa.c.project_id == project_id, fa.c.function_name == name, fa.c.name == alias)
            .values(
                function_version=row["function_version"],
                description=row["description"],
                revision_id=row["revision_id"],
            )
        )
    return row


def list_aliases(store: Store, project_id: str, name: str, version: str | None = None) -> list[dict[str, Any]]:
    with store.begin() as conn:
        require_function(conn, project_id, name)
        query = sa.select(fa).where(fa.c.project_id == project_id, fa.c.function_name == name)
        if version is not None:
            query = query.where(fa.c.function_version == version)
        return [dict(r._mapping) for r in conn.execute(query.order_by(fa.c.name))]


def delete_alias(store: Store, project_id: str, name: str, alias: str) -> None:
    with store.begin_immediate() as conn:
        require_function(conn, project_id, name)
        if alias_row(conn, project_id, name, alias) is None:
            raise not_found(f"Alias not found: {function_arn(project_id, name, alias)}")
        conn.execute(fa.delete().where(fa.c.project_id == project_id, fa.c.function_name == name, fa.c.name == alias))
