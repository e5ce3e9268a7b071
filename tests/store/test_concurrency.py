"""`Store.begin_immediate()` serializes read-modify-write transactions on both backends.

The worker's claim (read the oldest queued job, then mark it running) relies on it: two workers
must never claim one job. Each test would fail with a plain `BEGIN` on PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from openrft.auth.keys import KeyCipher
from openrft.context import AppContext
from openrft.ids import now_s
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store, create_engine

THREADS = 8


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_a", name="a", created_at=now_s()))
    yield store
    store.dispose()


def run_threads(target: Callable[[], None], count: int = THREADS) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def wrapped() -> None:
        barrier.wait()
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrapped) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_read_modify_write_loses_no_update(store: Store) -> None:
    functions = schema.functions.c
    with store.begin() as conn:
        conn.execute(schema.functions.insert().values(project_id="proj_a", name="f", created_at=1, next_version=1))

    def bump() -> None:
        with store.begin_immediate() as conn:
            current = conn.execute(sa.select(functions.next_version).where(functions.name == "f")).scalar_one()
            time.sleep(0.02)  # widen the window between the read and the write
            conn.execute(schema.functions.update().where(functions.name == "f").values(next_version=current + 1))

    assert run_threads(bump) == []
    with store.begin() as conn:
        assert conn.execute(sa.select(functions.next_version)).scalar_one() == 1 + THREADS


def test_concurrent_worker_claims_take_each_job_once(store: Store, tmp_path: Path) -> None:
    from openrft.worker import Worker  # the worker's claim query, as it is

    jobs = 5
    with store.begin() as conn:
        for n in range(jobs):
            conn.execute(
                schema.jobs.insert().values(
                    id=f"ftjob-{n}", project_id="proj_a", model="m", training_file="file-a", seed=1,
                    method={"type": "reinforcement"}, status="queued", result_files=[], created_at=now_s() + n,
                )
            )  # fmt: skip
    settings = Settings(home=tmp_path / "home", database_url=store.url, lease_s=60.0)
    ctx = AppContext(
        settings=settings,
        store=store,
        blobs=BlobStore(settings.blobs_dir),
        cipher=KeyCipher(settings.master_key_path),
    )
    claimed: list[str] = []

    def claim_until_empty() -> None:
        worker = Worker(ctx)
        while (claim := worker.claim()) is not None:
            claimed.append(claim.job_id)

    assert run_threads(claim_until_empty) == []
    assert Counter(claimed) == {f"ftjob-{n}": 1 for n in range(jobs)}
    with store.begin() as conn:
        rows = conn.execute(sa.select(schema.jobs.c.status, schema.jobs.c.attempts)).all()
    assert sorted(rows) == [("running", 1)] * jobs


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    # The API server, `openrft worker` processes and trainer children all open (and migrate) the store.
    from openrft.store.migrations import MIGRATIONS, migrate

    engines = [create_engine(database_url) for _ in range(4)]
    applied: list[list[str]] = []
    try:
        targets = iter(engines)
        lock = threading.Lock()

        def run() -> None:
            with lock:
                engine = next(targets)
            applied.append(migrate(engine))

        assert run_threads(run, count=len(engines)) == []
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(applied, key=len) == [[], [], [], [m.__name__ for m in MIGRATIONS]]
