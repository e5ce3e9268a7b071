"""A training job run in this process, as a worker would hand it to the trainer: the benches' openrft side.

`leased_job` makes a private OPENRFT_HOME, registers the base model folder as `bench-base`, stores the rows as
the training file and inserts a job row already leased to the caller, so `training.run.run_job` trains it
exactly as `openrft serve` would, without a server or a worker in between.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

LEASE_S = 86_400


def leased_job(prefix: str, base: Path | str, rows: list[dict[str, Any]], method: dict[str, Any], seed: int) -> Any:
    """(settings, store, JobHandle) of a new job with `method` on `rows`, leased for a day."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["OPENRFT_HOME"] = str(home)
    from openrft.ids import now_s
    from openrft.inference import registry
    from openrft.jobstate import JobHandle
    from openrft.settings import Settings
    from openrft.store import schema
    from openrft.store.blobs import BlobStore
    from openrft.store.db import Store

    settings = Settings(home=home)
    store = Store.from_settings(settings)
    registry.add_base_model(store, settings, "bench-base", base)
    BlobStore(settings.blobs_dir).put("files/file-bench", b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    job_id, lease = f"ftjob-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_bench", name="bench", created_at=now_s()))
        conn.execute(
            schema.jobs.insert().values(
                id=job_id,
                project_id="proj_bench",
                model="bench-base",
                training_file="file-bench",
                seed=seed,
                method=method,
                status="running",
                result_files=[],
                created_at=now_s(),
                lease_owner=lease,
                lease_expires_at=now_s() + LEASE_S,
                attempts=1,
            )
        )
    return settings, store, JobHandle(store, job_id, lease)
