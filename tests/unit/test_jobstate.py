"""JobHandle: every write is fenced on the lease, finish() releases it, events keep their order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from openrft.context import AppContext, build_context
from openrft.ids import now_s
from openrft.jobstate import JobHandle, LeaseLost, fine_tuned_model_id
from openrft.settings import Settings
from openrft.store import schema


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    ctx = build_context(settings)
    yield ctx
    ctx.store.dispose()


def make_job(ctx: AppContext, job_id: str = "ftjob-test", **values: object) -> str:
    row = {
        "id": job_id,
        "project_id": "proj_default",
        "model": "smollm2-135m-instruct",
        "training_file": "file-x",
        "seed": 1,
        "method": {"type": "reinforcement", "reinforcement": {"grader": {}, "hyperparameters": {}}},
        "status": "running",
        "result_files": [],
        "created_at": now_s(),
        "attempts": 1,
        "lease_owner": "owner-a",
        "lease_expires_at": 1e12,
        **values,
    }
    with ctx.store.begin() as conn:
        conn.execute(schema.jobs.insert().values(**row))
    return job_id


def test_fine_tuned_model_id() -> None:
    assert fine_tuned_model_id("smol", "proj_1", "abc", "ftjob-9") == "ft:smol:proj_1:abc:ftjob-9"
    assert fine_tuned_model_id("smol", "proj_1", None, "ftjob-9") == "ft:smol:proj_1::ftjob-9"


def test_owner_writes_and_reads(ctx: AppContext) -> None:
    job = JobHandle(ctx.store, make_job(ctx), "owner-a")
    assert job.row()["model"] == "smollm2-135m-instruct" and job.control() is None
    job.update(estimated_finish=123, trained_tokens=5)
    assert job.row()["estimated_finish"] == 123
    first = job.event("step 1", type="metrics", data={"step": 1})
    second = job.event("step 2")
    assert first.startswith("ftevent-") and second != first
    with ctx.store.begin() as conn:
        order = conn.scalars(
            sa.select(schema.job_events.c.id)
            .where(schema.job_events.c.job_id == job.job_id)
            .order_by(schema.job_events.c.seq)
        ).all()
    assert order == [first, second]
    ckpt = job.add_checkpoint(step=3, path="/tmp/c3", metrics={"step": 3}, model_id="ft:x:ckpt-step-3")
    assert ckpt.startswith("ftckpt-")
    assert [c["step_number"] for c in job.checkpoints()] == [3] and job.checkpoints()[0]["path"] == "/tmp/c3"
    job.delete_checkpoint(ckpt)
    assert job.checkpoints() == []


def test_queue_columns_and_bad_values_are_refused(ctx: AppContext) -> None:
    job = JobHandle(ctx.store, make_job(ctx), "owner-a")
    with pytest.raises(ValueError, match="queue owns"):
        job.update(lease_owner="me")
    with pytest.raises(ValueError, match="unknown job columns"):
        job.update(colour="red")
    with pytest.raises(ValueError):
        job.event("x", level="debug")
    with pytest.raises(ValueError):
        job.finish("running")
    with pytest.raises(ValueError, match="needs an error"):
        job.finish("failed")


def test_stale_owner_gets_lease_lost_on_every_write(ctx: AppContext) -> None:
    job_id = make_job(ctx)
    stale = JobHandle(ctx.store, job_id, "owner-old")
    for write in (
        lambda: stale.update(trained_tokens=1),
        lambda: stale.event("hello"),
        lambda: stale.add_checkpoint(step=1, path="p", metrics={}, model_id="m"),
        lambda: stale.delete_checkpoint("ftckpt-x"),
        lambda: stale.finish("succeeded"),
        stale.control,
    ):
        with pytest.raises(LeaseLost):
            write()
    row = JobHandle(ctx.store, job_id, "owner-a").row()
    assert row["status"] == "running" and row["trained_tokens"] is None
    with ctx.store.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.job_events)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.checkpoints)).scalar_one() == 0


def test_finish_releases_the_lease(ctx: AppContext) -> None:
    job = JobHandle(ctx.store, make_job(ctx, control="cancel"), "owner-a")
    job.update(estimated_finish=123)
    job.finish("succeeded", fine_tuned_model="ft:m:p::ftjob-test", trained_tokens=42)
    row = job.row()
    assert row["estimated_finish"] is None  # nothing left to estimate
    assert row["status"] == "succeeded" and row["finished_at"] is not None and row["lease_owner"] is None
    assert row["fine_tuned_model"] == "ft:m:p::ftjob-test" and row["trained_tokens"] == 42
    assert row["control"] is None and row["lease_expires_at"] is None
    with pytest.raises(LeaseLost):  # finished: nobody owns it any more
        job.event("late")


def test_finish_paused_keeps_checkpoints_and_no_finished_at(ctx: AppContext) -> None:
    job = JobHandle(ctx.store, make_job(ctx, control="pause"), "owner-a")
    job.add_checkpoint(step=2, path="/c2", metrics={}, model_id="m2")
    job.finish("paused")
    row = job.row()
    assert row["status"] == "paused" and row["finished_at"] is None and row["control"] is None
    assert row["attempts"] == 0  # given back: pauses never use up max_attempts
    assert [c["step_number"] for c in job.checkpoints()] == [2]


def test_finish_failed_records_the_error(ctx: AppContext) -> None:
    job = JobHandle(ctx.store, make_job(ctx), "owner-a")
    job.finish("failed", error={"code": "grader_errors", "message": "too many grader errors"})
    row = job.row()
    assert row["error"] == {"code": "grader_errors", "message": "too many grader errors", "param": None}
