"""Files: validate an upload, store it as blob `files/{file_id}`, and list, read and delete it.

A "fine-tune" file is checked for its syntax as openrft.datasets reads it (`method=None`: JSON Lines of
rows some method accepts: chat conversations or preference pairs); job creation checks it again against
the job's method (supervised, dpo, reinforcement). An "evals" file is checked as a run's data source
reads it (openrft.evals.datasource: each line {"item", "sample"?} or a bare item).

An upload is validated completely before anything is written: a rejected file leaves no blob and no
row. The blob is written atomically (BlobStore.put) and the row inserted after it; if the insert
fails the blob is removed again. Every query is scoped to the caller's project: another project's
file does not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from openrft.api.files.schemas import PURPOSES, FileDeleted, FileList, FileObject
from openrft.api.files.upload import Upload
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.datasets import DatasetError, count_finetune_rows
from openrft.errors import InvalidRequest, NotFound
from openrft.evals.datasource import count_eval_rows
from openrft.ids import new_id, now_s
from openrft.jobstatus import STATUSES, TERMINAL_STATUSES
from openrft.store import schema
from openrft.store.pages import keyset_page

CHUNK_BYTES = 1024 * 1024
MAX_LIST_LIMIT = 10_000
ACTIVE_JOB_STATUSES = sorted(set(STATUSES) - TERMINAL_STATUSES)  # jobs that may still read their files

files = schema.files
# Each purpose's validator (it names the line at fault) and what its error calls the file's use.
COUNTERS: dict[str, tuple[Callable[[Iterator[bytes]], int], str]] = {
    "fine-tune": (lambda chunks: count_finetune_rows(chunks, method=None), "fine-tuning"),
    "evals": (count_eval_rows, "evals"),
}


def blob_key(file_id: str) -> str:
    return f"files/{file_id}"


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    stream.seek(0)
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def to_object(values: Mapping[Any, Any]) -> FileObject:
    """A files row (or the dict just inserted) -> the wire object."""
    return FileObject.model_validate({name: values[name] for name in FileObject.model_fields if name != "object"})


def _validate_upload(upload: Upload) -> tuple[str, IO[bytes], int]:
    """The checks that need no storage; returns (purpose, stream, example count)."""
    purpose = upload.fields.get("purpose")
    if not purpose:
        raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
    if purpose not in PURPOSES:
        raise InvalidRequest(f"Invalid purpose {purpose!r}: openrft accepts {', '.join(PURPOSES)}.", param="purpose")
    if upload.file is None:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file")
    if upload.size == 0:
        raise InvalidRequest("The file is empty (0 bytes).", param="file", code="invalid_file_format")
    count_rows, what = COUNTERS[purpose]
    try:
        count = count_rows(_chunks(upload.file))
    except DatasetError as exc:
        raise InvalidRequest(
            f"Invalid file format for {what}: {exc.message}", param="file", code="invalid_file_format"
        ) from None
    return purpose, upload.file, count


def create_file(ctx: AppContext, principal: Principal, upload: Upload) -> FileObject:
    purpose, stream, count = _validate_upload(upload)
    file_id = new_id("file-")
    digest = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in _chunks(stream):
            digest.update(chunk)
            yield chunk

    ctx.blobs.put(blob_key(file_id), hashed())
    row = {
        "id": file_id,
        "project_id": principal.project_id,
        "purpose": purpose,
        "filename": Path(upload.filename or "upload").name[:512],
        "bytes": upload.size,
        "sha256": digest.hexdigest(),
        "line_count": count,
        "status": "processed",
        "status_details": None,
        "created_at": now_s(),
        "expires_at": None,
    }
    try:
        with ctx.store.begin() as conn:
            conn.execute(files.insert().values(**row))
    except BaseException:
        ctx.blobs.delete(blob_key(file_id))
        raise
    return to_object(row)


def _get_row(conn: sa.Connection, principal: Principal, file_id: str) -> Any:
    row = conn.execute(
        sa.select(files).where(
            files.c.id == file_id, files.c.project_id == principal.project_id, files.c.deleted_at.is_(None)
        )
    ).first()
    if row is None:
        raise NotFound(f"No such File object: {file_id}", param="id")
    return row


def get_file(ctx: AppContext, principal: Principal, file_id: str) -> FileObject:
    with ctx.store.begin() as conn:
        return to_object(_get_row(conn, principal, file_id)._mapping)


def content_path(ctx: AppContext, principal: Principal, file_id: str) -> tuple[Path, str]:
    """The blob path of a file's bytes and its filename."""
    with ctx.store.begin() as conn:
        row = _get_row(conn, principal, file_id)
    path = ctx.blobs.path(blob_key(file_id))
    if not path.exists():
        raise NotFound(f"The content of {file_id} is no longer available.", param="id")
    return path, row.filename


def list_files(
    ctx: AppContext,
    principal: Principal,
    *,
    purpose: str | None,
    after: str | None,
    limit: int,
    order: str,
) -> FileList:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}.", param="limit")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
    scope = [files.c.project_id == principal.project_id, files.c.deleted_at.is_(None)]
    if purpose:
        scope.append(files.c.purpose == purpose)
    with ctx.store.begin() as conn:
        rows, has_more = keyset_page(
            conn,
            files,
            scope,
            keys=(files.c.created_at, files.c.id),
            id_column=files.c.id,
            after=after,
            limit=limit,
            descending=order == "desc",
            unknown_after=f"Unknown cursor {after!r}: no such file in this list.",
        )
    data = [to_object(r._mapping) for r in rows]
    return FileList(
        data=data,
        has_more=has_more,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
    )


def _eval_run_reads(ctx: AppContext, project_id: str, file_id: str) -> bool:
    """Whether an eval run that has not finished reads this file (its data source names it)."""
    runs = schema.eval_runs
    with ctx.store.begin() as conn:
        sources = conn.execute(
            sa.select(runs.c.data_source).where(
                runs.c.project_id == project_id, runs.c.status.in_(("queued", "in_progress"))
            )
        ).scalars()
        return any((source or {}).get("source", {}).get("id") == file_id for source in sources)


def delete_file(ctx: AppContext, principal: Principal, file_id: str) -> FileDeleted:
    """Mark the file deleted; its bytes go too, unless a job or an eval run that may still read them uses it."""
    jobs = schema.jobs
    with ctx.store.begin_immediate() as conn:
        _get_row(conn, principal, file_id)
        conn.execute(files.update().where(files.c.id == file_id).values(deleted_at=now_s()))
        in_use = conn.execute(
            sa.select(jobs.c.id)
            .where(
                jobs.c.project_id == principal.project_id,
                jobs.c.status.in_(ACTIVE_JOB_STATUSES),
                sa.or_(jobs.c.training_file == file_id, jobs.c.validation_file == file_id),
            )
            .limit(1)
        ).first()
    if in_use is None and not _eval_run_reads(ctx, principal.project_id, file_id):
        ctx.blobs.delete(blob_key(file_id))
    return FileDeleted(id=file_id)
