"""The startup sweep of unreachable file blobs, and `last_used_at` of API keys, on both backends."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from openrft.auth.keys import LAST_USED_RESOLUTION_S
from openrft.ids import now_s
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from openrft.store.sweep import ORPHAN_MIN_AGE_S, sweep_file_blobs
from tests.conftest import LiveServer
from tests.store.test_api_backends import TRAIN

HOURS_AGO = time.time() - ORPHAN_MIN_AGE_S - 60


@pytest.fixture
def store(backend_settings: Settings) -> Iterator[Store]:
    store = Store(backend_settings.db_url)
    yield store
    store.dispose()


def put(blobs: BlobStore, name: str, *, old: bool) -> None:
    path = blobs.path(f"files/{name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    if old:
        os.utime(path, (HOURS_AGO, HOURS_AGO))


def add_file_row(store: Store, file_id: str, *, deleted: bool = False) -> None:
    with store.begin() as conn:
        if conn.execute(sa.select(schema.projects.c.id)).first() is None:
            conn.execute(schema.projects.insert().values(id="proj_a", name="a", created_at=1))
        conn.execute(
            schema.files.insert().values(
                id=file_id, project_id="proj_a", purpose="fine-tune", filename="f", bytes=1, sha256="s",
                status="processed", created_at=1, deleted_at=now_s() if deleted else None,
            )
        )  # fmt: skip


def add_job(store: Store, job_id: str, training_file: str, status: str) -> None:
    with store.begin() as conn:
        conn.execute(
            schema.jobs.insert().values(
                id=job_id, project_id="proj_a", model="m", training_file=training_file, seed=1,
                method={"type": "reinforcement"}, status=status, result_files=[], created_at=1,
            )
        )  # fmt: skip


def test_sweep_removes_only_old_unreachable_blobs(store: Store, backend_settings: Settings) -> None:
    blobs = BlobStore(backend_settings.blobs_dir)
    assert sweep_file_blobs(store, blobs) == []  # no files/ folder yet
    add_file_row(store, "file-live")
    add_file_row(store, "file-deleted-running", deleted=True)
    add_file_row(store, "file-deleted-done", deleted=True)
    add_job(store, "ftjob-1", "file-deleted-running", "running")
    add_job(store, "ftjob-2", "file-deleted-done", "succeeded")
    for name in ("file-live", "file-deleted-running", "file-deleted-done", "file-no-row", ".tmp-crashed"):
        put(blobs, name, old=True)
    put(blobs, "file-uploading", old=False)  # bytes written, row not yet: another process's upload in flight
    put(blobs, ".tmp-in-flight", old=False)

    assert sweep_file_blobs(store, blobs) == [".tmp-crashed", "file-deleted-done", "file-no-row"]
    left = sorted(p.name for p in (blobs.root / "files").iterdir())
    assert left == [".tmp-in-flight", "file-deleted-running", "file-live", "file-uploading"]
    assert sweep_file_blobs(store, blobs) == []


def test_server_start_sweeps(backend_settings: Settings) -> None:
    blobs = BlobStore(backend_settings.blobs_dir)
    put(blobs, "file-orphan", old=True)
    from openrft.context import build_context

    ctx = build_context(backend_settings)
    ctx.store.dispose()
    assert not blobs.path("files/file-orphan").exists()


def last_used(settings: Settings, key_id: str) -> int | None:
    store = Store(settings.db_url)
    try:
        with store.begin() as conn:
            return conn.execute(
                sa.select(schema.api_keys.c.last_used_at).where(schema.api_keys.c.id == key_id)
            ).scalar_one()
    finally:
        store.dispose()


def test_last_used_at_is_recorded_at_most_once_a_minute(backend_server: LiveServer) -> None:
    settings = backend_server.settings
    admin = httpx.Client(headers={"Authorization": f"Bearer {backend_server.admin_key}"}, timeout=30)
    project = admin.post(backend_server.v1 + "/organization/projects", json={"name": "p"}).json()["id"]
    account = admin.post(
        backend_server.v1 + f"/organization/projects/{project}/service_accounts", json={"name": "ci"}
    ).json()
    key = account["api_key"]
    assert last_used(settings, key["id"]) is None
    client = backend_server.openai_client(api_key=key["value"])
    before = now_s()
    client.files.list()
    first = last_used(settings, key["id"])
    assert first is not None and before <= first <= now_s()
    listed = admin.get(backend_server.v1 + f"/organization/projects/{project}/api_keys/{key['id']}").json()
    assert listed["last_used_at"] == first

    store = Store(settings.db_url)
    try:
        stale = first - LAST_USED_RESOLUTION_S - 5
        with store.begin() as conn:  # pretend the last recorded use was a while ago ...
            conn.execute(schema.api_keys.update().where(schema.api_keys.c.id == key["id"]).values(last_used_at=stale))
        client.files.create(file=("t.jsonl", io.BytesIO(TRAIN)), purpose="fine-tune")
        renewed = last_used(settings, key["id"])
        assert renewed is not None and renewed >= first  # ... so this use is recorded
        recent = renewed - 10
        with store.begin() as conn:  # a use 10 s ago: the next one within the minute writes nothing
            conn.execute(schema.api_keys.update().where(schema.api_keys.c.id == key["id"]).values(last_used_at=recent))
        client.files.list()
        assert last_used(settings, key["id"]) == recent
    finally:
        store.dispose()
        admin.close()
