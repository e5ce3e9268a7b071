"""What the registry's modules share: the tables, row reads, references and the code blobs."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from openrft.functions.arn import InvalidReference, account_id, function_arn, parse_ref
from openrft.functions.package import FunctionSpec, code_sha256, invalid, not_found, precondition_failed
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store

LATEST = "$LATEST"
CONFIG_FIELDS = ("runtime", "handler", "timeout_s", "memory_mb", "environment", "description", "role")

fv = schema.function_versions
fa = schema.function_aliases
fn = schema.functions


def now_aws() -> str:
    """LastModified in AWS's format: 2024-05-01T12:00:00.000+0000."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def blob_key(project_id: str, name: str, zip_bytes: bytes) -> str:
    return f"functions/{project_id}/{name}/{hashlib.sha256(zip_bytes).hexdigest()}.zip"


def spec_values(spec: FunctionSpec) -> dict[str, Any]:
    return {
        "runtime": spec.runtime,
        "handler": spec.handler,
        "timeout_s": spec.timeout_s,
        "memory_mb": spec.memory_mb,
        "environment": dict(spec.environment),
        "description": spec.description,
        "role": spec.role,
    }


def code_values(blobs: BlobStore, project_id: str, name: str, zip_bytes: bytes) -> dict[str, Any]:
    key = blob_key(project_id, name, zip_bytes)
    if not blobs.exists(key):
        blobs.put(key, zip_bytes)
    return {"code_sha256": code_sha256(zip_bytes), "code_size": len(zip_bytes), "code_blob": key}


def check_name(name: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        raise invalid(f"Function name {name!r} must be 1-64 letters, digits, hyphens or underscores")


def split_ref(project_id: str, ref: str) -> tuple[str, str | None]:
    """A path's FunctionName (name, partial ARN or ARN, maybe with `:qualifier`) -> (name, qualifier)."""
    try:
        parsed = parse_ref(ref)
    except InvalidReference as exc:
        raise invalid(str(exc)) from exc
    if parsed.account is not None and parsed.account != account_id(project_id):
        raise not_found(f"Function not found: {ref}")
    return parsed.name, parsed.qualifier


def version_row(conn: sa.Connection, project_id: str, name: str, version: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(fv).where(fv.c.project_id == project_id, fv.c.function_name == name, fv.c.version == version)
    ).first()
    return dict(row._mapping) if row else None


def alias_row(conn: sa.Connection, project_id: str, name: str, alias: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(fa).where(fa.c.project_id == project_id, fa.c.function_name == name, fa.c.name == alias)
    ).first()
    return dict(row._mapping) if row else None


def require_function(conn: sa.Connection, project_id: str, name: str) -> dict[str, Any]:
    row = version_row(conn, project_id, name, LATEST)
    if row is None:
        raise not_found(f"Function not found: {function_arn(project_id, name)}")
    return row


def get_version(store: Store, project_id: str, name: str, qualifier: str | None = None) -> dict[str, Any]:
    """The version row a qualifier names ($LATEST when None; an alias resolves to its version)."""
    with store.begin() as conn:
        require_function(conn, project_id, name)
        return resolve_qualifier(conn, project_id, name, qualifier)


def resolve_qualifier(conn: sa.Connection, project_id: str, name: str, qualifier: str | None) -> dict[str, Any]:
    version = qualifier or LATEST
    if qualifier and not qualifier.isdigit() and qualifier != LATEST:
        alias = alias_row(conn, project_id, name, qualifier)
        if alias is None:
            raise not_found(f"Function not found: {function_arn(project_id, name, qualifier)}")
        version = alias["function_version"]
    row = version_row(conn, project_id, name, version)
    if row is None:
        raise not_found(f"Function not found: {function_arn(project_id, name, qualifier)}")
    return row


def read_code(blobs: BlobStore, row: dict[str, Any]) -> bytes:
    return blobs.get(row["code_blob"])


def check_revision(row: dict[str, Any], revision_id: str | None) -> None:
    """AWS's optimistic locking: a RevisionId given must be the row's current one."""
    if revision_id is not None and revision_id != row["revision_id"]:
        raise precondition_failed()
