"""The job-state handle a trainer process uses to report on the job it runs.

The worker claims a job (a lease: `jobs.lease_owner` = a random token, `lease_expires_at` renewed by
the worker's heartbeat) and starts the trainer as a child process:

    [sys.executable, "-m", "openrft.training.run", JOB_ID, LEASE_OWNER]   (same OPENRFT_* env)

The trainer opens `JobHandle(store, job_id, lease_owner)` and writes everything through it. Every
write is *fenced*: it only applies while `jobs.lease_owner` is still this lease, so a trainer whose
worker lost the job (lease expired, another worker took over) can never move the job backwards;
such a write raises `LeaseLost` and the trainer must exit at once. `finish` changes the job's status
through `jobstatus.apply`, as every status change does (events trainer_succeeded, _failed, _cancelled,
_paused).

Contract with the trainer:
- Poll `control()` at each step boundary: "cancel" -> stop, `finish("cancelled")`; "pause" -> write a
  checkpoint, `finish("paused")` (the job resumes from it when the user resumes it).
- Exit 0 after calling `finish(...)`. Any other exit (crash, kill -9) makes the worker re-queue the job,
  and the next attempt resumes from the last checkpoint in `checkpoints()`.
- The worker asks Linux to SIGKILL the trainer when the worker dies (PR_SET_PDEATHSIG). As a second
  guard (other platforms, or a worker that dies between fork and prctl) the trainer calls
  `watch_parent()` once at start: a daemon thread that exits the process when its parent changes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from openrft import jobstatus
from openrft.ids import new_id, now_s
from openrft.jobstatus import LeaseLost
from openrft.store import schema
from openrft.store.db import Store

# The status a trainer ends its run with -> the event that records it (jobstatus.TABLE says the rest).
FINISH_EVENTS: dict[str, jobstatus.Event] = {
    "succeeded": "trainer_succeeded",
    "failed": "trainer_failed",
    "cancelled": "trainer_cancelled",
    "paused": "trainer_paused",
}
# Columns the queue and the state machine manage; a trainer never sets them through `update`.
_QUEUE_COLUMNS = jobstatus.STATE_COLUMNS | {"id", "project_id", "idempotency_key"}


def fine_tuned_model_id(base: str, project_id: str, suffix: str | None, job_id: str) -> str:
    """`ft:<base>:<project_id>:<suffix or "">:<job_id>`, OpenAI's fine-tuned model naming."""
    return f"ft:{base}:{project_id}:{suffix or ''}:{job_id}"


def insert_event(
    conn: sa.Connection,
    job_id: str,
    message: str,
    *,
    level: str = "info",
    type: str = "message",
    data: dict[str, Any] | None = None,
) -> str:
    """Append one event to a job's log (unfenced: the API and the worker use it inside their own checks)."""
    if level not in ("info", "warn", "error"):
        raise ValueError(f"event level must be info, warn or error, not {level!r}")
    if type not in ("message", "metrics"):
        raise ValueError(f"event type must be message or metrics, not {type!r}")
    event_id = new_id("ftevent-")
    conn.execute(
        schema.job_events.insert().values(
            id=event_id, job_id=job_id, created_at=now_s(), level=level, message=message, type=type, data=data
        )
    )
    return event_id


def checkpoint_object(row: Any) -> dict[str, Any]:
    """A checkpoints row as OpenAI's `fine_tuning.job.checkpoint` object."""
    return {
        "id": row.id,
        "object": "fine_tuning.job.checkpoint",
        "created_at": row.created_at,
        "fine_tuned_model_checkpoint": row.fine_tuned_model_checkpoint,
        "fine_tuning_job_id": row.job_id,
        "metrics": row.metrics or {},
        "step_number": row.step_number,
    }


class JobHandle:
    """Reads and fenced writes of one job, for the process holding its lease."""

    def __init__(self, store: Store, job_id: str, lease_owner: str):
        self.store = store
        self.job_id = job_id
        self.lease_owner = lease_owner

    # -- reads -------------------------------------------------------------------------------------

    def row(self) -> dict[str, Any]:
        with self.store.begin() as conn:
            row = conn.execute(sa.select(schema.jobs).where(schema.jobs.c.id == self.job_id)).first()
        if row is None:
            raise LeaseLost(f"job {self.job_id} does not exist")
        return dict(row._mapping)

    def control(self) -> str | None:
        """The control request of the API ("cancel" | "pause") or None; LeaseLost once the job isn't ours."""
        with self.store.begin() as conn:
            row = conn.execute(
                sa.select(schema.jobs.c.control, schema.jobs.c.lease_owner).where(schema.jobs.c.id == self.job_id)
            ).first()
        if row is None or row.lease_owner != self.lease_owner:
            raise LeaseLost(f"job {self.job_id} is no longer leased to {self.lease_owner}")
        return str(row.control) if row.control else None

    def checkpoints(self) -> list[dict[str, Any]]:
        """Live checkpoints, oldest step first: each the OpenAI object plus `path` and `metrics`."""
        c = schema.checkpoints.c
        with self.store.begin() as conn:
            rows = conn.execute(
                sa.select(schema.checkpoints)
                .where(c.job_id == self.job_id, c.deleted_at.is_(None))
                .order_by(c.step_number, c.created_at)
            ).all()
        return [{**checkpoint_object(r), "path": r.path} for r in rows]

    # -- fenced writes -----------------------------------------------------------------------------

    def _assert_owner(self, conn: sa.Connection) -> None:
        query = sa.select(schema.jobs.c.lease_owner).where(schema.jobs.c.id == self.job_id)
        owner = conn.execute(query.with_for_update()).scalar_one_or_none()  # held until this write commits
        if owner != self.lease_owner:
            raise LeaseLost(f"job {self.job_id} is no longer leased to {self.lease_owner}")

    def _fenced_update(self, conn: sa.Connection, values: dict[str, Any]) -> None:
        result = conn.execute(
            schema.jobs.update()
            .where(schema.jobs.c.id == self.job_id, schema.jobs.c.lease_owner == self.lease_owner)
            .values(**values)
        )
        if result.rowcount == 0:
            raise LeaseLost(f"job {self.job_id} is no longer leased to {self.lease_owner}")

    @contextmanager
    def fenced(self) -> Iterator[sa.Connection]:
        """A write transaction that holds while this lease owns the job (LeaseLost otherwise), for the trainer's
        own tables: e.g. a step's training samples and their retention, written together (training/samples.py)."""
        with self.store.begin_immediate() as conn:
            self._assert_owner(conn)
            yield conn

    def update(self, **fields: Any) -> None:
        """Set job columns (e.g. method with resolved hyperparameters, estimated_finish, trained_tokens)."""
        unknown = set(fields) - set(schema.jobs.c.keys())
        if unknown:
            raise ValueError(f"unknown job columns: {sorted(unknown)}")
        if forbidden := set(fields) & _QUEUE_COLUMNS:
            raise ValueError(f"the queue owns these job columns: {sorted(forbidden)}")
        with self.store.begin_immediate() as conn:
            self._fenced_update(conn, fields)

    def event(
        self, message: str, *, level: str = "info", type: str = "message", data: dict[str, Any] | None = None
    ) -> str:
        """Append an event (ids `ftevent-...`, ordered by insertion); returns its id."""
        with self.store.begin_immediate() as conn:
            self._assert_owner(conn)
            return insert_event(conn, self.job_id, message, level=level, type=type, data=data)

    def add_checkpoint(self, *, step: int, path: str, metrics: dict[str, Any], model_id: str) -> str:
        """Record a checkpoint written (atomically) at `path`; `model_id` is its `ft:...:ckpt-step-N` name."""
        checkpoint_id = new_id("ftckpt-")
        with self.store.begin_immediate() as conn:
            self._assert_owner(conn)
            conn.execute(
                schema.checkpoints.insert().values(
                    id=checkpoint_id,
                    job_id=self.job_id,
                    step_number=step,
                    fine_tuned_model_checkpoint=model_id,
                    metrics=metrics,
                    path=path,
                    created_at=now_s(),
                )
            )
        return checkpoint_id

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        """Hide a checkpoint (the trainer keeps the best few and deletes the folders of the others)."""
        with self.store.begin_immediate() as conn:
            self._assert_owner(conn)
            conn.execute(
                schema.checkpoints.update()
                .where(schema.checkpoints.c.id == checkpoint_id, schema.checkpoints.c.job_id == self.job_id)
                .values(deleted_at=now_s())
            )

    def finish(
        self,
        status: str,
        *,
        error: dict[str, Any] | None = None,
        fine_tuned_model: str | None = None,
        trained_tokens: int | None = None,
    ) -> None:
        """End this run: succeeded, failed, cancelled (terminal) or paused (resumable); releases the lease."""
        if status not in FINISH_EVENTS:
            raise ValueError(f"finish status must be one of {sorted(FINISH_EVENTS)}, not {status!r}")
        if status == "failed" and not error:
            raise ValueError("a failed job needs an error {code, message, param}")
        values: dict[str, Any] = {"estimated_finish": None}  # nothing is running any more
        if fine_tuned_model is not None:
            values["fine_tuned_model"] = fine_tuned_model
        if trained_tokens is not None:
            values["trained_tokens"] = trained_tokens
        message = {
            "succeeded": "The job has successfully completed",
            "failed": f"The job failed: {(error or {}).get('message')}",
            "cancelled": "The job was cancelled",
            "paused": "The job was paused",
        }[status]
        with self.store.begin_immediate() as conn:
            jobstatus.apply(
                conn, self.job_id, FINISH_EVENTS[status], lease_owner=self.lease_owner, error=error, values=values
            )
            insert_event(conn, self.job_id, message, level="error" if status == "failed" else "info")


def watch_parent(interval_s: float = 1.0, *, exit_code: int = 70) -> threading.Thread:
    """Exit this process (without cleanup) as soon as its parent process is gone.

    The trainer calls this once at start. When the worker dies, the child is re-parented (to init or a
    subreaper), so `os.getppid()` changes; we then `os._exit`, the lease expires, and another worker resumes
    the job from its last checkpoint.
    """
    parent = os.getppid()

    def _poll() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(exit_code)

    thread = threading.Thread(target=_poll, name="openrft-parent-watch", daemon=True)
    thread.start()
    return thread
