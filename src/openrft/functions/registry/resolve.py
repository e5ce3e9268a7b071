"""Resolution for callers (Invoke, graders): a reference -> the exact version to run, with its code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openrft.functions.arn import function_arn
from openrft.functions.registry.rows import get_version, read_code, split_ref
from openrft.store.blobs import BlobStore
from openrft.store.db import Store


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
    role: str | None = None  # the version's execution role (openrft.functions.execution_env)

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
        role=row.get("role"),
        arn=function_arn(project_id, name, qualifier),
        code_blob=row["code_blob"],
        zip_bytes=zip_bytes,
    )
