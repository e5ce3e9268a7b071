"""Functions: create, change `$LATEST` (code or configuration), list, delete."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from openrft.functions.arn import function_arn
from openrft.functions.package import FunctionSpec, conflict, invalid, not_found, validate_spec, validate_zip
from openrft.functions.registry.rows import (
    CONFIG_FIELDS,
    LATEST,
    check_name,
    check_revision,
    code_values,
    fa,
    fn,
    fv,
    now_aws,
    read_code,
    require_function,
    spec_values,
    version_row,
)
from openrft.functions.registry.versions import publish_latest
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store


def list_latest(store: Store, project_id: str) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(
            sa.select(fv).where(fv.c.project_id == project_id, fv.c.version == LATEST).order_by(fv.c.function_name)
        ).all()
    return [dict(r._mapping) for r in rows]


def create_function(
    store: Store,
    blobs: BlobStore,
    project_id: str,
    name: str,
    spec: FunctionSpec,
    zip_bytes: bytes,
    *,
    publish: bool,
) -> dict[str, Any]:
    """Create `$LATEST` (and version 1 when `publish`); returns the row of what was created last."""
    check_name(name)
    validate_spec(spec)
    validate_zip(zip_bytes, spec.handler)
    code = code_values(blobs, project_id, name, zip_bytes)
    try:
        return _insert_function(store, project_id, name, spec, code, publish=publish)
    except sa.exc.IntegrityError as exc:  # a concurrent create won the race (Postgres)
        raise conflict(f"Function already exist: {name}") from exc


def _insert_function(
    store: Store, project_id: str, name: str, spec: FunctionSpec, code: dict[str, Any], *, publish: bool
) -> dict[str, Any]:
    with store.begin_immediate() as conn:
        exists = conn.execute(sa.select(fn.c.name).where(fn.c.project_id == project_id, fn.c.name == name)).first()
        if exists is not None:
            raise conflict(f"Function already exist: {name}")
        conn.execute(fn.insert().values(project_id=project_id, name=name, created_at=now_s(), next_version=1))
        latest = {
            "project_id": project_id,
            "function_name": name,
            "version": LATEST,
            **spec_values(spec),
            **code,
            "revision_id": str(uuid.uuid4()),
            "last_modified": now_aws(),
        }
        conn.execute(fv.insert().values(**latest))
        if publish:
            return publish_latest(conn, project_id, name, latest, description=None)
    return latest


def update_code(
    store: Store,
    blobs: BlobStore,
    project_id: str,
    name: str,
    zip_bytes: bytes,
    *,
    publish: bool,
    revision_id: str | None = None,
) -> dict[str, Any]:
    """Replace `$LATEST`'s code; published versions keep theirs."""
    with store.begin() as conn:
        handler = require_function(conn, project_id, name)["handler"]
    validate_zip(zip_bytes, handler)
    code = code_values(blobs, project_id, name, zip_bytes)
    with store.begin_immediate() as conn:
        latest = require_function(conn, project_id, name)
        check_revision(latest, revision_id)
        latest.update(code, revision_id=str(uuid.uuid4()), last_modified=now_aws())
        write_latest(conn, latest)
        if publish:
            return publish_latest(conn, project_id, name, latest, description=None)
    return latest


def update_configuration(
    store: Store,
    blobs: BlobStore,
    project_id: str,
    name: str,
    changes: dict[str, Any],
    *,
    revision_id: str | None,
) -> dict[str, Any]:
    """Change `$LATEST`'s configuration fields (keys of FunctionSpec); the handler must exist in the zip."""
    with store.begin_immediate() as conn:
        latest = require_function(conn, project_id, name)
        check_revision(latest, revision_id)
        spec = FunctionSpec(**{k: latest[k] for k in CONFIG_FIELDS})
        for key, value in changes.items():
            setattr(spec, key, value)
        validate_spec(spec)
        if spec.handler != latest["handler"]:
            validate_zip(read_code(blobs, latest), spec.handler)
        latest.update(spec_values(spec), revision_id=str(uuid.uuid4()), last_modified=now_aws())
        write_latest(conn, latest)
    return latest


def write_latest(conn: sa.Connection, latest: dict[str, Any]) -> None:
    values = {k: v for k, v in latest.items() if k not in ("project_id", "function_name", "version")}
    conn.execute(
        fv.update()
        .where(
            fv.c.project_id == latest["project_id"],
            fv.c.function_name == latest["function_name"],
            fv.c.version == LATEST,
        )
        .values(**values)
    )


def delete_function(store: Store, blobs: BlobStore, project_id: str, name: str, qualifier: str | None) -> None:
    """Delete the whole function, or one published version (not `$LATEST`, not one an alias names)."""
    with store.begin_immediate() as conn:
        require_function(conn, project_id, name)
        scope = (fv.c.project_id == project_id, fv.c.function_name == name)
        if qualifier is None:
            doomed = {r.code_blob for r in conn.execute(sa.select(fv.c.code_blob).where(*scope))}
            conn.execute(fa.delete().where(fa.c.project_id == project_id, fa.c.function_name == name))
            conn.execute(fv.delete().where(*scope))
            conn.execute(fn.delete().where(fn.c.project_id == project_id, fn.c.name == name))
            perms = schema.function_permissions  # its resource policy goes with it
            conn.execute(perms.delete().where(perms.c.project_id == project_id, perms.c.function_name == name))
        else:
            if qualifier == LATEST or not qualifier.isdigit():
                raise invalid("Deletion of aliases or $LATEST is not supported by DeleteFunction; use a version")
            row = version_row(conn, project_id, name, qualifier)
            if row is None:
                raise not_found(f"Function not found: {function_arn(project_id, name, qualifier)}")
            users = conn.execute(
                sa.select(fa.c.name).where(
                    fa.c.project_id == project_id,
                    fa.c.function_name == name,
                    fa.c.function_version == qualifier,
                )
            ).all()
            if users:
                raise conflict(f"Unable to delete version because aliases reference it: {[u.name for u in users]}")
            conn.execute(fv.delete().where(*scope, fv.c.version == qualifier))
            still = conn.execute(sa.select(fv.c.version).where(*scope, fv.c.code_blob == row["code_blob"])).first()
            doomed = set() if still else {row["code_blob"]}
    for key in doomed:
        blobs.delete(key)
