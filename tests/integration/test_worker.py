"""The queue: claims, leases, crash recovery, cancel/pause of a running child, fencing.

The child is a small fake trainer (FAKE_TRAINER below) that speaks the jobstate contract, so these
tests exercise the real worker, real subprocesses and real signals in a few seconds each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from openrft.api.jobs import service
from openrft.auth.keys import Principal
from openrft.context import AppContext, build_context
from openrft.ids import now_s
from openrft.jobstate import JobHandle, LeaseLost
from openrft.settings import Settings
from openrft.store import schema
from openrft.worker import Worker, _tail

PRINCIPAL = Principal(key_id="admin", project_id="proj_default", is_admin=True)

# argv: MODE PID_FILE JOB_ID LEASE_OWNER (the worker appends the last two).
FAKE_TRAINER = textwrap.dedent(
    """
    import os, sys, time
    from openrft.jobstate import JobHandle, fine_tuned_model_id, watch_parent
    from openrft.settings import Settings
    from openrft.store.db import Store

    mode, pid_file, job_id, owner = sys.argv[1:5]
    watch_parent(0.2)
    job = JobHandle(Store.from_settings(Settings()), job_id, owner)
    row = job.row()
    with open(pid_file, "a") as f:
        f.write(f"{os.getpid()} {row['attempts']}\\n")
    if mode in ("finish", "finish_slow") or (mode == "hang_first" and row["attempts"] > 1):
        job.event("trained")
        job.finish("succeeded", fine_tuned_model=fine_tuned_model_id(row["model"], row["project_id"], None, job_id))
        if mode == "finish_slow":  # a real trainer takes a while to tear down after finish()
            time.sleep(1.5)
            print("clean exit", flush=True)
        sys.exit(0)
    if mode == "crash":
        print("Traceback: something broke in the trainer", file=sys.stderr)
        sys.exit(3)
    if mode == "exit0":
        sys.exit(0)
    if mode == "crash_on_control":  # dies as it reads the request, before honouring it
        while job.control() is None:
            time.sleep(0.1)
        sys.exit(3)
    if mode == "obey":  # a trainer that checks control at each step boundary
        while True:
            control = job.control()
            if control == "cancel":
                job.finish("cancelled")
                sys.exit(0)
            if control == "pause":
                job.add_checkpoint(step=1, path="/tmp/ckpt", metrics={}, model_id="m")
                job.finish("paused")
                sys.exit(0)
            time.sleep(0.1)
    if mode == "deaf":  # ignores control and SIGTERM
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:  # hang / hang_first (first attempt) / deaf
        time.sleep(0.1)
    """
)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    ctx = build_context(settings)
    yield ctx
    ctx.store.dispose()


@pytest.fixture
def trainer(tmp_path: Path) -> Callable[[str], list[str]]:
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    pid_file = tmp_path / "pids.txt"

    def command(mode: str) -> list[str]:
        return [sys.executable, str(script), mode, str(pid_file)]

    return command


def pids(tmp_path: Path) -> list[tuple[int, int]]:
    path = tmp_path / "pids.txt"
    if not path.exists():
        return []
    return [(int(p), int(a)) for p, a in (line.split() for line in path.read_text().splitlines())]


def make_job(ctx: AppContext, job_id: str, created_at: int | None = None) -> str:
    with ctx.store.begin() as conn:
        conn.execute(
            schema.jobs.insert().values(
                id=job_id,
                project_id="proj_default",
                model="smollm2-135m-instruct",
                training_file="file-x",
                seed=1,
                method={"type": "reinforcement", "reinforcement": {"grader": {}, "hyperparameters": {}}},
                status="queued",
                result_files=[],
                created_at=created_at or now_s(),
                attempts=0,
            )
        )
    return job_id


def job(ctx: AppContext, job_id: str) -> dict[str, object]:
    with ctx.store.begin() as conn:
        return dict(conn.execute(sa.select(schema.jobs).where(schema.jobs.c.id == job_id)).one()._mapping)


def messages(ctx: AppContext, job_id: str) -> list[str]:
    e = schema.job_events.c
    with ctx.store.begin() as conn:
        return list(conn.scalars(sa.select(e.message).where(e.job_id == job_id).order_by(e.seq)))


def wait_for(predicate: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie waiting for init to reap it has stopped running


# -- (a) no trainer installed ---------------------------------------------------------------------


def test_job_fails_clearly_when_training_is_unavailable(ctx: AppContext) -> None:
    make_job(ctx, "ftjob-a")
    worker = Worker(ctx, trainer_module="openrft.training.no_such_trainer")
    assert worker.run_once() is True
    row = job(ctx, "ftjob-a")
    assert row["status"] == "failed" and row["finished_at"] is not None
    assert row["error"] == {
        "code": "training_unavailable",
        "message": "training is not available in this installation yet",
        "param": None,
    }
    assert row["fine_tuned_model"] is None and row["lease_owner"] is None
    assert worker.run_once() is False  # nothing left to do


def test_claims_oldest_first_and_runs_to_success(ctx: AppContext, trainer: Callable[[str], list[str]]) -> None:
    make_job(ctx, "ftjob-new", created_at=now_s())
    make_job(ctx, "ftjob-old", created_at=now_s() - 100)
    worker = Worker(ctx, command=trainer("finish"))
    claim = worker.claim()
    assert claim is not None and claim.job_id == "ftjob-old" and claim.attempt == 1
    row = job(ctx, "ftjob-old")
    assert row["status"] == "running" and row["lease_owner"] == claim.lease_owner and row["attempts"] == 1
    assert row["started_at"] is not None
    assert worker.run_once() is True  # takes the other one and runs it
    row = job(ctx, "ftjob-new")
    assert (
        row["status"] == "succeeded" and row["fine_tuned_model"] == "ft:smollm2-135m-instruct:proj_default::ftjob-new"
    )
    assert "trained" in messages(ctx, "ftjob-new")


def test_a_trainer_slow_to_exit_after_finish_is_not_treated_as_lost(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path
) -> None:
    make_job(ctx, "ftjob-slow")
    Worker(ctx, command=trainer("finish_slow")).run_once()
    assert job(ctx, "ftjob-slow")["status"] == "succeeded"
    assert messages(ctx, "ftjob-slow")[-1] == "The job has successfully completed"
    log_file = ctx.settings.home / "logs" / "ftjob-slow-attempt1.log"
    assert "clean exit" in log_file.read_text()  # the worker let it finish instead of killing it


# -- (b) crashes: the child dies, the worker dies ------------------------------------------------


def test_crashed_child_is_requeued_with_its_stderr_then_fails_after_max_attempts(
    ctx: AppContext, trainer: Callable[[str], list[str]]
) -> None:
    ctx.settings.max_attempts = 2
    make_job(ctx, "ftjob-c")
    worker = Worker(ctx, command=trainer("crash"))
    assert worker.run_once() is True
    row = job(ctx, "ftjob-c")
    assert row["status"] == "queued" and row["attempts"] == 1 and row["lease_owner"] is None
    failure = messages(ctx, "ftjob-c")[-1]
    assert failure.startswith("worker attempt 1 failed: exit code 3") and "something broke" in failure
    worker.run_once()
    assert job(ctx, "ftjob-c")["attempts"] == 2
    worker.run_once()  # a third claim is over max_attempts
    row = job(ctx, "ftjob-c")
    assert row["status"] == "failed" and row["error"]["code"] == "max_attempts_exceeded"  # type: ignore[index]


def test_kill_9_of_the_child_requeues_and_the_next_attempt_finishes(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path
) -> None:
    make_job(ctx, "ftjob-k")
    worker = Worker(ctx, command=trainer("hang_first"))
    worker.start_background()
    try:
        wait_for(lambda: pids(tmp_path))
        os.kill(pids(tmp_path)[0][0], signal.SIGKILL)
        wait_for(lambda: job(ctx, "ftjob-k")["status"] == "succeeded")
    finally:
        worker.stop()
    assert [a for _, a in pids(tmp_path)] == [1, 2]
    assert job(ctx, "ftjob-k")["attempts"] == 2
    assert any(m.startswith("worker attempt 1 failed: exit code -9") for m in messages(ctx, "ftjob-k"))


def test_a_dead_workers_job_is_reclaimed_after_its_lease_expires(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path, settings: Settings
) -> None:
    make_job(ctx, "ftjob-d")
    script = (
        "import sys\n"
        "from openrft.context import build_context\n"
        "from openrft.settings import Settings\n"
        "from openrft.worker import Worker\n"
        "Worker(build_context(Settings(lease_s=3, heartbeat_s=0.5)), command=sys.argv[1:]).run_once()\n"
    )
    env = {**os.environ, "OPENRFT_HOME": str(settings.home)}
    other = subprocess.Popen([sys.executable, "-c", script, *trainer("hang_first")], env=env)
    try:
        wait_for(lambda: pids(tmp_path))
        child_pid = pids(tmp_path)[0][0]
        other.kill()  # kill -9 of the worker process holding the lease
        other.wait()
        killed = time.monotonic()
        survivor = Worker(ctx, command=trainer("hang_first"))
        assert survivor.claim() is None  # its last heartbeat was < 0.5 s ago: the lease (3 s) still holds
        wait_for(lambda: process_gone(child_pid), timeout_s=5)  # the trainer dies with its worker
        row = job(ctx, "ftjob-d")
        assert row["status"] == "running" and row["attempts"] == 1
        wait_for(survivor.run_once, timeout_s=15)
        assert time.monotonic() - killed < 10  # lease_s = 3, plus a slow machine's slack
    finally:
        if other.poll() is None:
            other.kill()
    row = job(ctx, "ftjob-d")
    assert row["status"] == "succeeded" and row["attempts"] == 2
    assert "The job's worker stopped responding; re-queued" in messages(ctx, "ftjob-d")


# -- (c) cancel and pause of a running job -------------------------------------------------------


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("pause", "paused")])
def test_trainer_obeys_control(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path, action: str, status: str
) -> None:
    make_job(ctx, "ftjob-o")
    worker = Worker(ctx, command=trainer("obey"))
    worker.start_background()
    try:
        wait_for(lambda: pids(tmp_path))
        getattr(service, f"{action}_job")(ctx, PRINCIPAL, "ftjob-o")
        wait_for(lambda: job(ctx, "ftjob-o")["status"] == status, timeout_s=10)
        wait_for(lambda: worker.child is None, timeout_s=5)
    finally:
        worker.stop()
    assert process_gone(pids(tmp_path)[0][0])
    row = job(ctx, "ftjob-o")
    assert row["control"] is None and row["lease_owner"] is None
    assert (row["finished_at"] is None) == (status == "paused")
    assert row["attempts"] == (0 if status == "paused" else 1)  # a pause doesn't use up max_attempts
    if status == "paused":
        assert len(JobHandle(ctx.store, "ftjob-o", "x").checkpoints()) == 1
        assert service.resume_job(ctx, PRINCIPAL, "ftjob-o")["status"] == "queued"


def test_a_deaf_trainer_is_killed_after_the_grace_period(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path
) -> None:
    make_job(ctx, "ftjob-deaf")
    worker = Worker(ctx, command=trainer("deaf"), cancel_grace_s=1.0)
    worker.start_background()
    try:
        wait_for(lambda: pids(tmp_path))
        requested = time.monotonic()
        service.cancel_job(ctx, PRINCIPAL, "ftjob-deaf")
        wait_for(lambda: job(ctx, "ftjob-deaf")["status"] == "cancelled", timeout_s=10)
        elapsed = time.monotonic() - requested
    finally:
        worker.stop()
    assert 1.0 <= elapsed < 10.0  # grace 1 s + a heartbeat + SIGTERM ignored for 2 s (slack for load)
    assert process_gone(pids(tmp_path)[0][0])
    assert job(ctx, "ftjob-deaf")["finished_at"] is not None


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("pause", "paused")])
def test_a_trainer_that_crashes_with_a_request_pending_has_it_honoured(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path, action: str, status: str
) -> None:
    make_job(ctx, "ftjob-cc")
    worker = Worker(ctx, command=trainer("crash_on_control"))
    worker.start_background()
    try:
        wait_for(lambda: pids(tmp_path))
        getattr(service, f"{action}_job")(ctx, PRINCIPAL, "ftjob-cc")
        wait_for(lambda: job(ctx, "ftjob-cc")["status"] == status, timeout_s=10)
    finally:
        worker.stop()
    row = job(ctx, "ftjob-cc")
    assert row["control"] is None and row["lease_owner"] is None
    assert row["attempts"] == (0 if status == "paused" else 1)  # the crash of a run being paused isn't counted
    assert messages(ctx, "ftjob-cc")[-1] == f"The job was {status}"
    assert len(pids(tmp_path)) == 1  # not re-queued and run again


def test_exit_0_without_a_result_is_a_failure_not_a_success(
    ctx: AppContext, trainer: Callable[[str], list[str]]
) -> None:
    make_job(ctx, "ftjob-z")
    Worker(ctx, command=trainer("exit0")).run_once()
    row = job(ctx, "ftjob-z")
    assert row["status"] == "failed" and row["error"]["code"] == "trainer_no_result"  # type: ignore[index]


def test_stop_puts_the_running_job_back_in_the_queue(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path
) -> None:
    make_job(ctx, "ftjob-s")
    worker = Worker(ctx, command=trainer("hang"))
    worker.start_background()
    wait_for(lambda: pids(tmp_path))
    lease = job(ctx, "ftjob-s")["lease_expires_at"]
    wait_for(lambda: job(ctx, "ftjob-s")["lease_expires_at"] > lease, timeout_s=3)  # type: ignore[operator]
    worker.stop()
    assert process_gone(pids(tmp_path)[0][0])
    row = job(ctx, "ftjob-s")
    assert row["status"] == "queued" and row["lease_owner"] is None and row["attempts"] == 0


# -- (d) fencing ----------------------------------------------------------------------------------


def test_a_stale_owner_cannot_write_after_another_worker_took_over(
    ctx: AppContext, trainer: Callable[[str], list[str]]
) -> None:
    make_job(ctx, "ftjob-f")
    first = Worker(ctx, command=trainer("finish")).claim()
    assert first is not None
    stale = JobHandle(ctx.store, "ftjob-f", first.lease_owner)
    stale.event("still mine")
    with ctx.store.begin() as conn:  # the first worker stops heartbeating: its lease runs out
        conn.execute(schema.jobs.update().where(schema.jobs.c.id == "ftjob-f").values(lease_expires_at=time.time() - 1))
    second = Worker(ctx, command=trainer("finish")).claim()
    assert second is not None and second.job_id == "ftjob-f" and second.attempt == 2
    with pytest.raises(LeaseLost):
        stale.update(trained_tokens=1)
    with pytest.raises(LeaseLost):
        stale.finish("succeeded")
    JobHandle(ctx.store, "ftjob-f", second.lease_owner).finish("succeeded")
    assert job(ctx, "ftjob-f")["status"] == "succeeded"


def test_a_worker_that_lost_its_lease_kills_its_child_and_writes_nothing(
    ctx: AppContext, trainer: Callable[[str], list[str]], tmp_path: Path
) -> None:
    make_job(ctx, "ftjob-l")
    worker = Worker(ctx, command=trainer("hang"))
    worker.start_background()
    try:
        wait_for(lambda: pids(tmp_path))
        with ctx.store.begin() as conn:  # another worker took the job over
            conn.execute(schema.jobs.update().where(schema.jobs.c.id == "ftjob-l").values(lease_owner="usurper"))
        wait_for(lambda: process_gone(pids(tmp_path)[0][0]), timeout_s=5)
    finally:
        worker.stop()
    row = job(ctx, "ftjob-l")
    assert row["status"] == "running" and row["lease_owner"] == "usurper"


@pytest.mark.parametrize(("control", "status"), [("cancel", "cancelled"), ("pause", "paused")])
def test_control_requested_while_the_worker_was_dead_is_settled_on_claim(
    ctx: AppContext, control: str, status: str
) -> None:
    make_job(ctx, "ftjob-r")
    with ctx.store.begin() as conn:
        conn.execute(
            schema.jobs.update()
            .where(schema.jobs.c.id == "ftjob-r")
            .values(status="running", lease_owner="dead", lease_expires_at=time.time() - 1, control=control)
        )
    assert Worker(ctx, command=["true"]).claim() is None
    row = job(ctx, "ftjob-r")
    assert row["status"] == status and row["control"] is None and row["lease_owner"] is None


def test_a_trainer_that_cannot_start_is_a_failed_attempt(ctx: AppContext) -> None:
    make_job(ctx, "ftjob-x")
    Worker(ctx, command=["no-such-trainer-binary"]).run_once()
    row = job(ctx, "ftjob-x")
    assert row["status"] == "queued" and row["attempts"] == 1 and row["lease_owner"] is None
    assert "could not start the trainer" in messages(ctx, "ftjob-x")[-1]


def test_log_tail_keeps_the_last_state_of_progress_bars(tmp_path: Path) -> None:
    log = tmp_path / "job-attempt1.log"
    log.write_bytes(b"start\nLoading:   0%|  | 0/21\rLoading: 100%|##| 21/21\n\nTraceback: boom\n")
    assert _tail(log) == "start\nLoading: 100%|##| 21/21\nTraceback: boom"
    log.write_bytes(b"x" * 10_000)
    assert _tail(log) == "x" * 2000
    assert _tail(tmp_path / "missing.log") == ""
