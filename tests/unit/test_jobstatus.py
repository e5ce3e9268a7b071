"""The job state machine: every (status, control, event), the impossible ones included, applied to a real row.

Each outcome is checked against what the table means (terminal jobs never change, finished_at is set
exactly on entering a terminal status, a lease is held exactly while running, a pause never costs an
attempt, ...), not against the table's own cells, so a wrong row fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from openrft import jobstatus
from openrft.api.jobs import service
from openrft.jobstatus import (
    CONTROLS,
    EVENTS,
    STATUSES,
    TERMINAL_STATUSES,
    Control,
    Event,
    ImpossibleTransition,
    Lease,
    LeaseLost,
    Status,
)
from openrft.store import schema

OWNER = "owner-a"
NEW_LEASE = Lease(owner="owner-b", expires_at=2e12)
ERROR = {"code": "boom", "message": "it broke", "param": None}
API_EVENTS: frozenset[Event] = frozenset({"files_validated", "cancel_requested", "pause_requested", "resume_requested"})
# Events about a run in progress: only a running job has one.
RUN_EVENTS: frozenset[Event] = frozenset(
    {
        "lease_expired",
        "trainer_crashed",
        "trainer_no_result",
        "grace_expired",
        "worker_stopped",
        "trainer_succeeded",
        "trainer_failed",
        "trainer_cancelled",
        "trainer_paused",
    }
)
# A run that ends without an outcome of its own: a pending cancel or pause is honoured instead.
NO_OUTCOME_EVENTS: frozenset[Event] = frozenset({"trainer_crashed", "trainer_no_result", "grace_expired"})
_ids = itertools.count()


@pytest.fixture
def conn() -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    schema.metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def put(conn: sa.Connection, status: Status, control: Control | None) -> str:
    """A job in this state, as the code leaves one: a lease while running, finished_at once terminal."""
    job_id = f"ftjob-{next(_ids)}"
    running = status == "running"
    conn.execute(
        schema.jobs.insert().values(
            id=job_id,
            project_id="proj_default",
            model="m",
            training_file="file-x",
            seed=1,
            method={},
            status=status,
            control=control,
            result_files=[],
            created_at=1,
            attempts=1,
            lease_owner=OWNER if running else None,
            lease_expires_at=1e12 if running else None,
            started_at=100 if running or status in TERMINAL_STATUSES else None,
            finished_at=200 if status in TERMINAL_STATUSES else None,
            error=ERROR if status == "failed" else None,
        )
    )
    return job_id


def row(conn: sa.Connection, job_id: str) -> dict[str, Any]:
    return dict(conn.execute(sa.select(schema.jobs).where(schema.jobs.c.id == job_id)).one()._mapping)


def apply(conn: sa.Connection, job_id: str, event: Event) -> jobstatus.Applied:
    lease = NEW_LEASE if event == "claimed" else None
    return jobstatus.apply(conn, job_id, event, lease=lease, error={**ERROR, "message": f"{event} failed"})


STATES = list(itertools.product(STATUSES, CONTROLS))  # with every event below: all 7 x 3 x 15


@pytest.mark.parametrize(("status", "control"), STATES)
def test_every_event_against_what_the_table_means(conn: sa.Connection, status: Status, control: Control | None) -> None:
    for event in EVENTS:
        job_id = put(conn, status, control)
        before = row(conn, job_id)
        try:
            moved = apply(conn, job_id, event)
        except ImpossibleTransition as exc:
            assert (exc.status, exc.control, exc.event) == (status, control, event)
            assert row(conn, job_id) == before, f"{status}/{control}/{event}: refused but wrote"
            _check_refusal(status, control, event)
            continue
        after = row(conn, job_id)
        _check_move(event, before, after, moved)


def _check_refusal(status: Status, control: Control | None, event: Event) -> None:
    """The events that must always be possible are."""
    where = f"{status}/{control}/{event}"
    if status in TERMINAL_STATUSES:
        return  # a terminal job never changes
    assert event != "cancel_requested", f"{where}: a user can always cancel an unfinished job"
    if status == "validating_files":
        assert event != "files_validated", where
    if status == "running":
        assert event not in RUN_EVENTS, f"{where}: a running job's run can always end or be lost"
    if status == "queued":
        assert event not in ("claimed", "attempts_exhausted", "pause_requested"), where
    if status == "paused":
        assert event != "resume_requested", where


def _check_move(event: Event, before: dict[str, Any], after: dict[str, Any], moved: jobstatus.Applied) -> None:
    was, now = before["status"], after["status"]
    where = f"{was}/{before['control']}/{event} -> {now}"
    assert was not in TERMINAL_STATUSES, f"{where}: a terminal job changed"
    assert (moved.status, moved.control, moved.attempts) == (now, after["control"], after["attempts"]), where
    assert moved.changed == (after != before), f"{where}: `changed` must say whether the row changed"

    # finished_at is set exactly when the job enters a terminal status.
    assert (after["finished_at"] is not None) == (now in TERMINAL_STATUSES), where
    # The error is recorded exactly when the job enters failed.
    assert after["error"] == (
        {"code": "boom", "message": f"{event} failed", "param": None} if now == "failed" else None
    )

    # A lease is held exactly while running: a claim takes the new one, a running job keeps its own.
    lease = (after["lease_owner"], after["lease_expires_at"])
    if now != "running":
        assert lease == (None, None), f"{where}: the lease must be cleared when the job leaves running"
    elif was == "running":
        assert lease == (before["lease_owner"], before["lease_expires_at"]), f"{where}: the lease changed"
    else:
        assert lease == NEW_LEASE and event == "claimed", where
    # started_at: the first time it runs, and never again.
    if was != "running" and now == "running":
        assert after["started_at"] is not None
    else:
        assert after["started_at"] == before["started_at"], where

    # Attempts count runs: +1 when one starts; a pause, or a run the worker stopped itself, gives it back.
    delta = after["attempts"] - before["attempts"]
    if was != "running" and now == "running":
        assert delta == 1, where
    elif was == "running" and now != "running":
        gives_back = now == "paused" or event == "worker_stopped" or (event == "grace_expired" and now == "queued")
        assert delta == (-1 if gives_back else 0), f"{where}: attempts {delta:+d}"
    else:
        assert delta == 0, f"{where}: attempts {delta:+d} without a run starting or ending"
    if now == "paused":  # a pause never costs an attempt: the paused run's own is given back
        assert after["attempts"] == before["attempts"] - (was == "running"), where

    # Control is a request to a running trainer: recorded only by the API, and only while one runs.
    if now not in ("running", "queued"):
        assert after["control"] is None, f"{where}: control left pending on a {now} job"
    if after["control"] != before["control"] and after["control"] is not None:
        assert was == "running" and event in ("cancel_requested", "pause_requested"), where
    if before["control"] == "cancel" and now == "running":
        assert after["control"] == "cancel", f"{where}: a pending cancel was dropped"
    # The API never touches a running job's status or lease: it only records a request.
    if event in API_EVENTS and was == "running":
        assert now == "running", where
    # Run events happen to running jobs only; claims to queued ones; file validation to new ones.
    if event in RUN_EVENTS:
        assert was == "running", where
    if event in ("claimed", "attempts_exhausted"):
        assert was == "queued", where
    if event == "files_validated":
        assert (was, now) == (jobstatus.NEW_JOB_STATUS, "queued"), where
    # When a run or a claim ends with no outcome of its own, a pending cancel or pause is honoured.
    pending = before["control"]
    if pending and event in (NO_OUTCOME_EVENTS | {"claimed", "attempts_exhausted"}):
        assert now == {"cancel": "cancelled", "pause": "paused"}[pending], where
    # The trainer's own outcome stands; a worker that went away puts the job back in the queue.
    outcome = {"trainer_succeeded": "succeeded", "trainer_failed": "failed", "trainer_cancelled": "cancelled"}
    outcome |= {"trainer_paused": "paused", "worker_stopped": "queued", "lease_expired": "queued"}
    if event in outcome:
        assert now == outcome[event], where
    if event == "cancel_requested":
        assert now == ("running" if was == "running" else "cancelled"), where
        assert now == "cancelled" or after["control"] == "cancel", where


def test_every_state_is_reachable_and_every_unfinished_job_can_finish() -> None:
    """From a new job, the events reach every status; from every unfinished state a terminal one."""
    moves: dict[tuple[str, str | None], set[tuple[str, str | None]]] = {}
    for (status, control, _), move in jobstatus.TABLE.items():
        new_control = {"keep": control, "clear": None}.get(move.control, move.control)
        moves.setdefault((status, control), set()).add((move.status, new_control))

    def reachable(start: tuple[str, str | None]) -> set[tuple[str, str | None]]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in moves.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    from_new = reachable((jobstatus.NEW_JOB_STATUS, None))
    assert {s for s, _ in from_new} == set(STATUSES)
    for state in from_new - {(s, c) for s in TERMINAL_STATUSES for c in CONTROLS}:
        assert any(s in TERMINAL_STATUSES for s, _ in reachable(state)), f"{state} can never finish"


def test_a_pause_never_costs_an_attempt_however_it_happens(conn: sa.Connection) -> None:
    """Claim, pause (honoured, forced after the grace period, or over a crash), resume: attempts stay put."""
    job_id = put(conn, "queued", None)  # one failed run behind it
    started_at = None
    for ending in ("trainer_paused", "grace_expired", "trainer_crashed", "trainer_no_result"):
        assert apply(conn, job_id, "claimed").attempts == 2
        started_at = started_at or row(conn, job_id)["started_at"]
        if ending != "trainer_paused":  # the trainer did not honour the pause itself
            apply(conn, job_id, "pause_requested")
        assert apply(conn, job_id, ending).status == "paused"
        assert row(conn, job_id)["attempts"] == 1, ending
        assert apply(conn, job_id, "resume_requested").status == "queued"
    apply(conn, job_id, "claimed")
    assert started_at is not None and row(conn, job_id)["started_at"] == started_at  # the first run's start
    assert apply(conn, job_id, "trainer_crashed").attempts == 2  # a crash does count


def test_run_events_are_fenced_on_the_lease(conn: sa.Connection) -> None:
    """A worker or trainer that lost the job gets LeaseLost and writes nothing, whatever the event."""
    for event in sorted(RUN_EVENTS - {"lease_expired"}):
        job_id = put(conn, "running", None)
        before = row(conn, job_id)
        with pytest.raises(LeaseLost):
            jobstatus.apply(conn, job_id, event, lease_owner="owner-stale", error=ERROR)
        assert row(conn, job_id) == before, event
        assert jobstatus.apply(conn, job_id, event, lease_owner=OWNER, error=ERROR).changed


def test_apply_refuses_what_the_table_owns_and_missing_arguments(conn: sa.Connection) -> None:
    job_id = put(conn, "running", None)
    before = row(conn, job_id)
    with pytest.raises(ValueError, match="owns these job columns"):
        jobstatus.apply(conn, job_id, "trainer_succeeded", values={"status": "succeeded"})
    with pytest.raises(ValueError, match="needs an error"):
        jobstatus.apply(conn, job_id, "trainer_failed")
    assert row(conn, job_id) == before
    with pytest.raises(ValueError, match="takes a lease"):
        jobstatus.apply(conn, put(conn, "queued", None), "claimed")
    with pytest.raises(LookupError):
        jobstatus.apply(conn, "ftjob-missing", "cancel_requested")


def test_the_api_has_a_message_for_every_move_a_request_can_make() -> None:
    for (_, _, event), move in jobstatus.TABLE.items():
        for action, (action_event, messages) in service._ACTIONS.items():
            if event == action_event:
                assert move.status in messages, (action, move.status)
