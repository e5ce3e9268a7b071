"""The function registry: Lambda-style functions of a project, their versions, aliases and code.

A function has a mutable `$LATEST` and immutable published versions `1, 2, ...` (snapshots of
`$LATEST`'s code and configuration); an alias names a published version (or `$LATEST`). Code is a
zip stored once per content as blob `functions/<project>/<name>/<sha256 hex>.zip`; `CodeSha256` is
`base64(sha256(zip))`, as AWS reports it.

Errors are raised as `AwsError` with AWS's exception names, because the Lambda API is the main caller;
graders catch them as ordinary exceptions. Every query is scoped to a project: another project's
function simply does not exist.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from openrft.functions.arn import ALIAS_RE, InvalidReference, account_id, function_arn, parse_ref
from openrft.functions.package import (  # re-exported: the API and graders import them from here
    RUNTIMES,
    FunctionSpec,
    code_sha256,
    conflict,
    invalid,
    not_found,
    precondition_failed,
    validate_spec,
    validate_zip,
)
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store

LATEST = "$LATEST"
CONFIG_FIELDS = ("runtime", "handler", "timeout_s", "memory_mb", "environment", "description", "role")

fv = schema.function_versions
fa = schema.function_aliases
fn = schema.functions
__all__ = [
    "LATEST",
    "RUNTIMES",
    "FunctionSpec",
    "ResolvedFunction",
    "code_sha256",
    "conflict",
    "invalid",
    "not_found",
    "precondition_failed",
    "resolve_function",
    "validate_spec",
    "validate_zip",
]


def _now_aws() -> str:
    """LastModified in AWS's format: 2024-05-01T12:00:00.000+0000."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def blob_key(project_id: str, name: str, zip_bytes: bytes) -> str:
    return f"functions/{project_id}/{name}/{hashlib.sha256(zip_bytes).hexdigest()}.zip"


def _spec_values(spec: FunctionSpec) -> dict[str, Any]:
    return {
        "runtime": spec.runtime,
        "handler": spec.handler,
        "timeout_s": spec.timeout_s,
        "memory_mb": spec.memory_mb,
        "environment": dict(spec.environment),
        "description": spec.description,
        "role": spec.role,
    }


def _code_values(blobs: BlobStore, project_id: str, name: str, zip_bytes: bytes) -> dict[str, Any]:
    key = blob_key(project_id, name, zip_bytes)
    if not blobs.exists(key):
        blobs.put(key, zip_bytes)
    return {"code_sha256": code_sha256(zip_bytes), "code_size": len(zip_bytes), "code_blob": key}


def _check_name(name: str) -> None:
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


# ---- reads -----------------------------------------------------------------------------------------


def _version_row(conn: sa.Connection, project_id: str, name: str, version: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(fv).where(fv.c.project_id == project_id, fv.c.function_name == name, fv.c.version == version)
    ).first()
    return dict(row._mapping) if row else None


def _alias_row(conn: sa.Connection, project_id: str, name: str, alias: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(fa).where(fa.c.project_id == project_id, fa.c.function_name == name, fa.c.name == alias)
    ).first()
    return dict(row._mapping) if row else None


def _require_function(conn: sa.Connection, project_id: str, name: str) -> dict[str, Any]:
    row = _version_row(conn, project_id, name, LATEST)
    if row is None:
        raise not_found(f"Function not found: {function_arn(project_id, name)}")
    return row


def get_version(store: Store, project_id: str, name: str, qualifier: str | None = None) -> dict[str, Any]:
    """The version row a qualifier names ($LATEST when None; an alias resolves to its version)."""
    with store.begin() as conn:
        _require_function(conn, project_id, name)
        return _resolve_qualifier(conn, project_id, name, qualifier)


def _resolve_qualifier(conn: sa.Connection, project_id: str, name: str, qualifier: str | None) -> dict[str, Any]:
    version = qualifier or LATEST
    if qualifier and not qualifier.isdigit() and qualifier != LATEST:
        alias = _alias_row(conn, project_id, name, qualifier)
        if alias is None:
            raise not_found(f"Function not found: {function_arn(project_id, name, qualifier)}")
        version = alias["function_version"]
    row = _version_row(conn, project_id, name, version)
    if row is None:
        raise not_found(f"Function not found: {function_arn(project_id, name, qualifier)}")
    return row


def list_latest(store: Store, project_id: str) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = conn.execute(
            sa.select(fv).where(fv.c.project_id == project_id, fv.c.version == LATEST).order_by(fv.c.function_name)
        ).all()
    return [dict(r._mapping) for r in rows]


def list_versions(store: Store, project_id: str, name: str) -> list[dict[str, Any]]:
    """$LATEST first, then published versions in number order (as AWS lists them)."""
    with store.begin() as conn:
        _require_function(conn, project_id, name)
        rows = conn.execute(sa.select(fv).where(fv.c.project_id == project_id, fv.c.function_name == name)).all()
    out = [dict(r._mapping) for r in rows]
    return sorted(out, key=lambda r: -1 if r["version"] == LATEST else int(r["version"]))


def read_code(blobs: BlobStore, row: dict[str, Any]) -> bytes:
    return blobs.get(row["code_blob"])


# ---- writes ----------------------------------------------------------------------------------------


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
    _check_name(name)
    validate_spec(spec)
    validate_zip(zip_bytes, spec.handler)
    code = _code_values(blobs, project_id, name, zip_bytes)
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
            **_spec_values(spec),
            **code,
            "revision_id": str(uuid.uuid4()),
            "last_modified": _now_aws(),
        }
        conn.execute(fv.insert().values(**latest))
        if publish:
            return _publish(conn, project_id, name, latest, description=None)
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
        handler = _require_function(conn, project_id, name)["handler"]
    validate_zip(zip_bytes, handler)
    code = _code_values(blobs, project_id, name, zip_bytes)
    with store.begin_immediate() as conn:
        latest = _require_function(conn, project_id, name)
        if revision_id is not None and revision_id != latest["revision_id"]:
            raise precondition_failed()
        latest.update(code, revision_id=str(uuid.uuid4()), last_modified=_now_aws())
        _write_latest(conn, latest)
        if publish:
            return _publish(conn, project_id, name, latest, description=None)
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
        latest = _require_function(conn, project_id, name)
        if revision_id is not None and revision_id != latest["revision_id"]:
            raise precondition_failed()
        spec = FunctionSpec(**{k: latest[k] for k in CONFIG_FIELDS})
        for key, value in changes.items():
            setattr(spec, key, value)
        validate_spec(spec)
        if spec.handler != latest["handler"]:
            validate_zip(read_code(blobs, latest), spec.handler)
        latest.update(_spec_values(spec), revision_id=str(uuid.uuid4()), last_modified=_now_aws())
        _write_latest(conn, latest)
    return latest


def _write_latest(conn: sa.Connection, latest: dict[str, Any]) -> None:
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
        latest = _require_function(conn, project_id, name)
        if revision_id is not None and revision_id != latest["revision_id"]:
            raise precondition_failed()
        if expected_sha256 is not None and expected_sha256 != latest["code_sha256"]:
            raise invalid(
                f"CodeSHA256 ({expected_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest['code_sha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        return _publish(conn, project_id, name, latest, description=description)


def _publish(
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
        "last_modified": _now_aws(),
    }
    conn.execute(fv.insert().values(**version))
    return version


def delete_function(store: Store, blobs: BlobStore, project_id: str, name: str, qualifier: str | None) -> None:
    """Delete the whole function, or one published version (not `$LATEST`, not one an alias names)."""
    with store.begin_immediate() as conn:
        _require_function(conn, project_id, name)
        scope = (fv.c.project_id == project_id, fv.c.function_name == name)
        if qualifier is None:
            doomed = {r.code_blob for r in conn.execute(sa.select(fv.c.code_blob).where(*scope))}
            conn.execute(fa.delete().where(fa.c.project_id == project_id, fa.c.function_name == name))
            conn.execute(fv.delete().where(*scope))
            conn.execute(fn.delete().where(fn.c.project_id == project_id, fn.c.name == name))
        else:
            if qualifier == LATEST or not qualifier.isdigit():
                raise invalid("Deletion of aliases or $LATEST is not supported by DeleteFunction; use a version")
            row = _version_row(conn, project_id, name, qualifier)
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


# ---- aliases ---------------------------------------------------------------------------------------


def _check_alias_target(conn: sa.Connection, project_id: str, name: str, version: str) -> None:
    if version != LATEST and (not version.isdigit() or _version_row(conn, project_id, name, version) is None):
        raise not_found(f"Function not found: {function_arn(project_id, name, version)}")


def create_alias(
    store: Store, project_id: str, name: str, alias: str, version: str, description: str = ""
) -> dict[str, Any]:
    if not ALIAS_RE.match(alias) or alias == LATEST:
        raise invalid(f"Alias name {alias!r} must be 1-128 letters, digits, '-' or '_' and not only digits")
    with store.begin_immediate() as conn:
        _require_function(conn, project_id, name)
        _check_alias_target(conn, project_id, name, version)
        if _alias_row(conn, project_id, name, alias) is not None:
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
        _require_function(conn, project_id, name)
        row = _alias_row(conn, project_id, name, alias)
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
        _require_function(conn, project_id, name)
        row = _alias_row(conn, project_id, name, alias)
        if row is None:
            raise not_found(f"Alias not found: {function_arn(project_id, name, alias)}")
        if revision_id is not None and revision_id != row["revision_id"]:
            raise precondition_failed()
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
        _require_function(conn, project_id, name)
        query = sa.select(fa).where(fa.c.project_id == project_id, fa.c.function_name == name)
        if version is not None:
            query = query.where(fa.c.function_version == version)
        return [dict(r._mapping) for r in conn.execute(query.order_by(fa.c.name))]


def delete_alias(store: Store, project_id: str, name: str, alias: str) -> None:
    with store.begin_immediate() as conn:
        _require_function(conn, project_id, name)
        if _alias_row(conn, project_id, name, alias) is None:
            raise not_found(f"Alias not found: {function_arn(project_id, name, alias)}")
        conn.execute(fa.delete().where(fa.c.project_id == project_id, fa.c.function_name == name, fa.c.name == alias))


# ---- resolution for callers (Invoke, graders) --------------------------------------------------------


@dataclass(frozen=True)
class ResolvedFunction:
    """One exact function version, ready to run in the sandbox."""

    project_id: str
    name: str
    version: str  # the version that runs: $LATEST or a number (an alias resolved)
    qualifier: str | None  # as asked: None, a version or an alias name
    code_sha256: str
    handler: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    arn: str  # ARN as invoked (with the qualifier asked for)
    code_blob: str
    zip_bytes: bytes

    @property
    def bundle(self) -> Any:
        from openrft.functions.sandbox import CodeBundle  # runtime owned by its own module

        key = f"{self.project_id}/{self.name}/{self.version}/{self.code_blob.rsplit('/', 1)[-1][:-4]}"
        return CodeBundle(key=key, zip_bytes=self.zip_bytes)

    @property
    def limits(self) -> Any:
        from openrft.functions.sandbox import Limits

        return Limits(timeout_s=float(self.timeout_s), memory_mb=self.memory_mb)

    def audit(self) -> dict[str, Any]:
        return {
            "function_name": self.name,
            "version": self.version,
            "code_sha256": self.code_sha256,
            "arn": self.arn,
        }


def resolve_function(store: Store, project_id: str, ref: str, blobs: BlobStore | None = None) -> ResolvedFunction:
    """NAME | NAME:VERSION | NAME:ALIAS | (partial) ARN of this project -> the exact version to run.

    `blobs` defaults to the blob store of the process settings (pass it whenever you have one).
    """
    name, qualifier = split_ref(project_id, ref)
    row = get_version(store, project_id, name, qualifier)
    if blobs is None:
        from openrft.settings import get_settings

        blobs = BlobStore(get_settings().blobs_dir)
    return resolved_from_row(project_id, row, qualifier, read_code(blobs, row))


def resolved_from_row(
    project_id: str, row: dict[str, Any], qualifier: str | None, zip_bytes: bytes
) -> ResolvedFunction:
    name = row["function_name"]
    return ResolvedFunction(
        project_id=project_id,
        name=name,
        version=row["version"],
        qualifier=qualifier,
        code_sha256=row["code_sha256"],
        handler=row["handler"],
        timeout_s=int(row["timeout_s"]),
        memory_mb=int(row["memory_mb"]),
        environment=dict(row["environment"] or {}),
        arn=function_arn(project_id, name, qualifier),
        code_blob=row["code_blob"],
        zip_bytes=zip_bytes,
    )
