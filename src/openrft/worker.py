"""The job queue's worker: claim a job, run the trainer in a child process, keep the lease alive.

A job is a row. A worker claims the oldest `queued` job, or a `running` job whose lease expired (its
worker died: this is the reaper), in one `BEGIN IMMEDIATE` transaction: status running, a fresh random
`lease_owner`, `lease_expires_at = now + lease_s`, `attempts + 1` (past `max_attempts` the job fails for
good; a run that ends paused, or that this worker's shutdown stopped, gives its attempt back). While
the child runs, the worker renews the lease every `heartbeat_s` with a fenced update
(`WHERE lease_owner = me`); 0 rows means another worker owns the job now, so the child is killed.

The child is `[sys.executable, "-m", "openrft.training.run", JOB_ID, LEASE_OWNER]` (see jobstate.py for
its side of the contract). It dies with the worker: on Linux a tiny launcher sets PR_SET_PDEATHSIG
before exec'ing it, and the trainer also watches its parent pid. Exit 0 means the trainer recorded the
outcome itself; any other exit is a failed attempt: the stderr tail goes into an error event and the job
is re-queued so the next attempt resumes from the last checkpoint.

Cancel and pause requests (`jobs.control`) are the trainer's to honour at its next step boundary; if
the child hasn't exited `cancel_grace_s` after the request, the worker kills it and records the outcome.
Every status change goes through `jobstatus.apply` (events claimed, attempts_exhausted, lease_expired,
trainer_crashed, trainer_no_result, grace_expired, worker_stopped); its table decides the lease,
attempts, control and finished_at of each.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openrft import jobstatus
from openrft.context import AppContext
from openrft.ids import random_token
from openrft.jobstate import insert_event
from openrft.jobstatus import Applied, Lease, LeaseLost
from openrft.polling import PollingThread
from openrft.store import schema

log = logging.getLogger(__name__)

TRAINER_MODULE = "openrft.training.run"
STDERR_TAIL_CHARS = 2000

# Runs as `python -c LAUNCHER EXPECTED_PARENT_PID CMD...`: ask the kernel to SIGKILL us when the worker
# thread that started us dies, make sure it hadn't died already, then become the real command.
_LAUNCHER = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(70)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


@dataclass(frozen=True)
class Claim:
    job_id: str
    lease_owner: str
    attempt: int


class Worker(PollingThread):
    """Runs queued jobs one at a time; start several (threads or `openrft worker` processes) for more."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        command: Sequence[str] | None = None,
        trainer_module: str = TRAINER_MODULE,
        cancel_grace_s: float = 60.0,
        worker_id: str | None = None,
    ):
        self.ctx = ctx
        self.settings = ctx.settings
        self.worker_id = worker_id or f"worker-{os.getpid()}-{random_token(6)}"
        # The child is `command + [job_id, lease_owner]`; None means the real trainer.
        self.command = list(command) if command is not None else None
        self.trainer_module = trainer_module
        self.cancel_grace_s = cancel_grace_s
        super().__init__()
        self.child: subprocess.Popen[bytes] | None = None  # the running child, for tests and `stop`

    # -- lifecycle ---------------------------------------------------------------------------------

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop now: a running child is terminated and its job goes back to the queue (attempt not counted)."""
        super().stop(timeout_s)

    def run_once(self) -> bool:
        """Claim one job and run it to the end of this attempt; False when there was nothing to do."""
        claim = self.claim()
        if claim is None:
            return False
        if self.command is None and not _module_exists(self.trainer_module):
            message = "training is not available in this installation yet"
            self._end_run(
                claim,
                "trainer_failed",  # recorded for the trainer there is none of
                error={"code": "training_unavailable", "message": message, "param": None},
                message=lambda _: (message, "error"),
            )
            return True
        self._run_child(claim)
        return True

    # -- queue -------------------------------------------------------------------------------------

    def claim(self) -> Claim | None:
        """Take the oldest queued job or a running one whose lease expired (its worker died)."""
        jobs = schema.jobs.c
        now = time.time()
        with self.ctx.store.begin_immediate() as conn:
            while True:
                row = conn.execute(
                    sa.select(jobs.id, jobs.attempts, jobs.status)
                    .where(
                        sa.or_(
                            jobs.status == "queued",
                            sa.and_(
                                jobs.status == "running",
                                sa.or_(jobs.lease_expires_at < now, jobs.lease_expires_at.is_(None)),
                            ),
                        )
                    )
                    .order_by(jobs.created_at, jobs.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)  # Postgres: two workers never take one job (SQLite: the lock)
                ).first()
                if row is None:
                    return None
                if row.status == "running":
                    jobstatus.apply(conn, row.id, "lease_expired")
                    insert_event(conn, row.id, "The job's worker stopped responding; re-queued", level="warn")
                attempt = (row.attempts or 0) + 1
                if attempt > self.settings.max_attempts:
                    message = f"the job failed {attempt - 1} times; giving up (see the job's events)"
                    error = {"code": "max_attempts_exceeded", "message": message, "param": None}
                    moved = jobstatus.apply(conn, row.id, "attempts_exhausted", error=error)
                    _note(conn, row.id, _settled(moved) or (message, "error"))
                    continue
                lease = Lease(owner=random_token(24), expires_at=now + self.settings.lease_s)
                moved = jobstatus.apply(conn, row.id, "claimed", lease=lease)
                if settled := _settled(moved):  # a cancel or pause requested while no worker ran it
                    _note(conn, row.id, settled)
                    continue
                insert_event(conn, row.id, f"Fine-tuning job started (attempt {attempt}, {self.worker_id})")
                return Claim(job_id=row.id, lease_owner=lease.owner, attempt=attempt)

    def _heartbeat(self, claim: Claim) -> str | None:
        """Renew the lease; returns the control request, or raises _LeaseLost when the job isn't ours."""
        jobs = schema.jobs.c
        with self.ctx.store.begin_immediate() as conn:
            result = conn.execute(
                schema.jobs.update()
                .where(jobs.id == claim.job_id, jobs.lease_owner == claim.lease_owner)
                .values(lease_expires_at=time.time() + self.settings.lease_s)
            )
            if result.rowcount == 0:
                owner = conn.execute(sa.select(jobs.lease_owner).where(jobs.id == claim.job_id)).scalar()
                raise _LeaseLost(released=owner is None)
            control = conn.execute(sa.select(jobs.control).where(jobs.id == claim.job_id)).scalar_one()
        return str(control) if control else None

    def _end_run(
        self,
        claim: Claim,
        event: jobstatus.Event,
        *,
        message: Callable[[Applied], tuple[str, str]],
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Fenced end of this attempt; `message` gives the event's (message, level) for the state reached.

        False if the lease was lost (another worker owns the job, or the trainer recorded its outcome).
        """
        with self.ctx.store.begin_immediate() as conn:
            try:
                moved = jobstatus.apply(conn, claim.job_id, event, lease_owner=claim.lease_owner, error=error)
            except LeaseLost:
                return False
            _note(conn, claim.job_id, message(moved))
        return True

    # -- the child ---------------------------------------------------------------------------------

    def _argv(self, claim: Claim) -> list[str]:
        base = self.command if self.command is not None else [sys.executable, "-m", self.trainer_module]
        argv = [*base, claim.job_id, claim.lease_owner]
        if sys.platform.startswith("linux"):
            exe = argv[0] if os.path.isabs(argv[0]) else _which(argv[0])
            argv = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), exe, *argv[1:]]
        return argv

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["OPENRFT_HOME"] = str(self.settings.home)
        env["OPENRFT_DATABASE_URL"] = self.settings.db_url
        env["OPENRFT_PUBLIC_URL"] = self.settings.api_url  # where reward functions reach this server's API
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _log_path(self, claim: Claim) -> Path:
        path = self.settings.home / "logs" / f"{claim.job_id}-attempt{claim.attempt}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _run_child(self, claim: Claim) -> None:
        log_path = self._log_path(claim)
        try:
            with open(log_path, "ab") as log_file:  # a paused or stopped run's attempt number comes again
                child = subprocess.Popen(
                    self._argv(claim),
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: one signal stops it and its helpers
                )
        except OSError as exc:  # counted as a failed attempt; max_attempts ends the retries
            failure = f"worker attempt {claim.attempt} failed: could not start the trainer: {exc}"
            self._end_run(claim, "trainer_crashed", message=lambda moved: _settled(moved) or (failure, "error"))
            return
        self.child = child
        log.info("worker %s: job %s attempt %d pid %d", self.worker_id, claim.job_id, claim.attempt, child.pid)
        try:
            outcome = self._supervise(claim, child)
        finally:
            _kill_group(child)
            self.child = None
        self._record_outcome(claim, child.returncode, outcome, _tail(log_path))

    def _supervise(self, claim: Claim, child: subprocess.Popen[bytes]) -> str:
        """Wait for the child while heartbeating: 'exited' | 'lease_lost' | 'stopped' | 'cancel' | 'pause'."""
        requested_at: float | None = None
        while True:
            try:
                child.wait(timeout=self.settings.heartbeat_s)
                return "exited"
            except subprocess.TimeoutExpired:
                pass
            if self._stop.is_set():
                _terminate(child, grace_s=5.0)
                return "stopped"
            try:
                control = self._heartbeat(claim)
            except _LeaseLost as lost:
                if lost.released:  # the trainer called finish(...) and is exiting: give it a moment
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        child.wait(timeout=self.settings.lease_s)
                    return "exited"
                log.warning("worker %s lost the lease of %s; killing its child", self.worker_id, claim.job_id)
                return "lease_lost"
            except sa.exc.OperationalError:  # a busy or briefly unreachable database: try again next beat
                log.warning("worker %s: heartbeat of %s failed; retrying", self.worker_id, claim.job_id, exc_info=True)
                continue
            if control in ("cancel", "pause"):
                requested_at = requested_at or time.monotonic()
                if time.monotonic() - requested_at > self.cancel_grace_s:
                    _terminate(child, grace_s=2.0)
                    return control

    def _record_outcome(self, claim: Claim, returncode: int | None, outcome: str, tail: str) -> None:
        if outcome == "lease_lost":
            return
        if outcome == "stopped":
            self._end_run(
                claim,
                "worker_stopped",
                message=lambda _: ("The worker shut down; the job is back in the queue", "info"),
            )
        elif outcome in ("cancel", "pause"):
            self._end_run(
                claim,
                "grace_expired",
                message=lambda moved: (
                    f"The job was {moved.status} (the trainer was stopped after the grace period)"
                    if moved.status != "queued"
                    else "The trainer was stopped after the grace period; the request was withdrawn, so the job "
                    "is back in the queue",
                    "info",
                ),
            )
        elif returncode == 0:  # after finish(...) the lease is released and _end_run finds nothing to do
            self._end_run(
                claim,
                "trainer_no_result",
                error={"code": "trainer_no_result", "message": "the trainer exited without a result", "param": None},
                message=lambda moved: _settled(moved) or ("The trainer exited without recording a result", "error"),
            )
        else:
            detail = f"exit code {returncode}" + (f": {tail}" if tail else "")
            failure = f"worker attempt {claim.attempt} failed: {detail}"
            self._end_run(claim, "trainer_crashed", message=lambda moved: _settled(moved) or (failure, "error"))


def _note(conn: sa.Connection, job_id: str, note: tuple[str, str]) -> None:
    message, level = note
    insert_event(conn, job_id, message, level=level)


def _settled(moved: Applied) -> tuple[str, str] | None:
    """The event of a job whose pending cancel or pause was honoured instead of what happened, else None."""
    if moved.status in ("cancelled", "paused"):
        return f"The job was {moved.status}", "info"
    return None


class _LeaseLost(Exception):
    def __init__(self, *, released: bool):
        super().__init__("released" if released else "taken over")
        self.released = released  # nobody holds the lease: the trainer recorded its outcome


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"command not found: {name}")
    return found


def _terminate(child: subprocess.Popen[bytes], *, grace_s: float) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it is still there after `grace_s`."""
    if child.poll() is not None:
        return
    _signal_group(child, signal.SIGTERM)
    try:
        child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _kill_group(child)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    _signal_group(child, signal.SIGKILL)
    child.wait()


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def _tail(path: Path) -> str:
    """The end of a child's log for an error event; a progress bar's redraws (`\r`) keep only their last state."""
    try:
        data = path.read_bytes()[-4 * STDERR_TAIL_CHARS :]
    except OSError:
        return ""
    lines = [line.rsplit("\r", 1)[-1] for line in data.decode("utf-8", errors="replace").split("\n")]
    return "\n".join(line for line in lines if line.strip()).strip()[-STDERR_TAIL_CHARS:]
