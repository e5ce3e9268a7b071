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
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openrft.api.deps import AppContext
from openrft.ids import now_s, random_token
from openrft.jobstate import insert_event
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


class Worker:
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.child: subprocess.Popen[bytes] | None = None  # the running child, for tests and `stop`

    # -- lifecycle ---------------------------------------------------------------------------------

    def start_background(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run_forever, name=self.worker_id, daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop now: a running child is terminated and its job goes back to the queue (attempt not counted)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def run_forever(self) -> None:
        log.info("worker %s polling every %.1fs", self.worker_id, self.settings.poll_s)
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # a broken job or a database hiccup must not end the worker
                log.exception("worker %s: error while running a job", self.worker_id)
                worked = False
            if not worked:
                self._stop.wait(self.settings.poll_s)

    def run_once(self) -> bool:
        """Claim one job and run it to the end of this attempt; False when there was nothing to do."""
        claim = self.claim()
        if claim is None:
            return False
        if self.command is None and not _module_exists(self.trainer_module):
            self._release(
                claim,
                status="failed",
                error={
                    "code": "training_unavailable",
                    "message": "training is not available in this installation yet",
                    "param": None,
                },
                message="training is not available in this installation yet",
                level="error",
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
                    sa.select(jobs.id, jobs.attempts, jobs.control, jobs.status, jobs.started_at)
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
                    insert_event(conn, row.id, "The job's worker stopped responding; re-queued", level="warn")
                if row.control in ("cancel", "pause"):  # requested while no worker ran it
                    self._settle_control(conn, row.id, row.control)
                    continue
                attempt = (row.attempts or 0) + 1
                if attempt > self.settings.max_attempts:
                    self._give_up(conn, row.id, attempt - 1)
                    continue
                lease_owner = random_token(24)
                conn.execute(
                    schema.jobs.update()
                    .where(jobs.id == row.id)
                    .values(
                        status="running",
                        lease_owner=lease_owner,
                        lease_expires_at=now + self.settings.lease_s,
                        attempts=attempt,
                        started_at=row.started_at or now_s(),
                    )
                )
                insert_event(conn, row.id, f"Fine-tuning job started (attempt {attempt}, {self.worker_id})")
                return Claim(job_id=row.id, lease_owner=lease_owner, attempt=attempt)

    def _give_up(self, conn: sa.Connection, job_id: str, attempts: int) -> None:
        message = f"the job failed {attempts} times; giving up (see the job's events)"
        error = {"code": "max_attempts_exceeded", "message": message, "param": None}
        conn.execute(
            schema.jobs.update()
            .where(schema.jobs.c.id == job_id)
            .values(status="failed", error=error, finished_at=now_s(), lease_owner=None, lease_expires_at=None)
        )
        insert_event(conn, job_id, message, level="error")

    def _settle_control(self, conn: sa.Connection, job_id: str, control: str) -> None:
        status = "cancelled" if control == "cancel" else "paused"
        values: dict[str, Any] = {
            "status": status,
            "control": None,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if status == "cancelled":
            values["finished_at"] = now_s()
        conn.execute(schema.jobs.update().where(schema.jobs.c.id == job_id).values(**values))
        insert_event(conn, job_id, f"The job was {status}")

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

    def _release(
        self,
        claim: Claim,
        *,
        status: str,
        message: str,
        level: str = "info",
        error: dict[str, Any] | None = None,
        attempts_delta: int = 0,
    ) -> bool:
        """Fenced end of this attempt: set the status and clear the lease. False if the lease was lost."""
        jobs = schema.jobs.c
        values: dict[str, Any] = {"status": status, "lease_owner": None, "lease_expires_at": None}
        if status in ("cancelled", "failed", "succeeded"):
            values["finished_at"] = now_s()
        if status in ("cancelled", "paused"):
            values["control"] = None
        if error is not None:
            values["error"] = error
        if attempts_delta:
            values["attempts"] = jobs.attempts + attempts_delta
        with self.ctx.store.begin_immediate() as conn:
            result = conn.execute(
                schema.jobs.update()
                .where(jobs.id == claim.job_id, jobs.lease_owner == claim.lease_owner)
                .values(**values)
            )
            if result.rowcount == 0:
                return False
            insert_event(conn, claim.job_id, message, level=level)
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
            message = f"worker attempt {claim.attempt} failed: could not start the trainer: {exc}"
            self._release(claim, status="queued", message=message, level="error")
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
            self._release(
                claim,
                status="queued",
                message="The worker shut down; the job is back in the queue",
                attempts_delta=-1,
            )
            return
        if outcome in ("cancel", "pause"):
            status = "cancelled" if outcome == "cancel" else "paused"
            self._release(
                claim,
                status=status,
                message=f"The job was {status} (the trainer was stopped after the grace period)",
                attempts_delta=-1 if status == "paused" else 0,
            )
            return
        # The child exited on its own. After finish(...) the lease is released and _release finds nothing.
        control = self._current_control(claim)
        if control in ("cancel", "pause"):
            status = "cancelled" if control == "cancel" else "paused"
            self._release(
                claim, status=status, message=f"The job was {status}", attempts_delta=-1 if status == "paused" else 0
            )
        elif returncode == 0:
            self._release(
                claim,
                status="failed",
                error={
                    "code": "trainer_no_result",
                    "message": "the trainer exited without a result",
                    "param": None,
                },
                message="The trainer exited without recording a result",
                level="error",
            )
        else:
            detail = f"exit code {returncode}" + (f": {tail}" if tail else "")
            self._release(
                claim,
                status="queued",
                message=f"worker attempt {claim.attempt} failed: {detail}",
                level="error",
            )

    def _current_control(self, claim: Claim) -> str | None:
        jobs = schema.jobs.c
        with self.ctx.store.begin() as conn:
            row = conn.execute(
                sa.select(jobs.control).where(jobs.id == claim.job_id, jobs.lease_owner == claim.lease_owner)
            ).first()
        return str(row.control) if row is not None and row.control else None


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
