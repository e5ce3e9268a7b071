"""A fine-tuning job's statuses and the one table of every move between them.

The statuses are OpenAI's (validating_files, queued, running, succeeded, failed, cancelled) plus our
"paused". A job's state is its `status` and its `control`: the API's pending request to a running
trainer, "cancel" or "pause" (or None), which the trainer honours at its next step boundary. The API,
the worker and the trainer (through `JobHandle.finish`) change a job's state only by `apply`-ing an
`Event` to its row inside their own transaction; `RULES` below says, for each (status, control, event),
what the job becomes:

- status: the status after the event (unchanged for a control request to a running job);
- finished_at: "set" to now exactly when the job enters a terminal status (succeeded, failed, cancelled);
- control: "keep" the pending request, "clear" it, or record a new one ("cancel" | "pause");
- lease: "take" the one the claiming worker passes, "keep" it while the same run goes on, or "clear" it
  (no job holds a lease unless it is running);
- attempts: +1 when a worker starts a run, -1 when a run ends through no fault of its own (a pause, or
  the worker stopping it), 0 otherwise, so that only failed runs count towards `max_attempts`.

A (status, control, event) with no row is impossible and raises `ImpossibleTransition`, writing
nothing; in particular a terminal job never changes. The row's started_at is set the first time it
enters running, and its error is recorded when it enters failed (and only then).

A queued job can still have a cancel or pause pending when its worker stopped or died while the
request waited; the next claim settles it. Rows for `_ANY` control apply whatever is pending, so the
states that never arise (a paused job with a pending cancel, say) still have a defined outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, get_args

import sqlalchemy as sa

from openrft.ids import now_s
from openrft.store import schema

Status = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled", "paused"]
STATUSES: tuple[Status, ...] = get_args(Status)
TERMINAL_STATUSES: frozenset[Status] = frozenset({"succeeded", "failed", "cancelled"})
NEW_JOB_STATUS: Status = "validating_files"  # a job row is created in this status, then `files_validated`

Control = Literal["cancel", "pause"]
CONTROLS: tuple[Control | None, ...] = (None, *get_args(Control))

Event = Literal[
    # The API (api/jobs/service.py): a created job's files checked, and the user's requests.
    "files_validated",
    "cancel_requested",
    "pause_requested",
    "resume_requested",
    # The worker (worker.py): claims, and the ends of a run that the trainer did not record itself.
    "claimed",  # a worker takes a queued job and starts a run
    "attempts_exhausted",  # a worker would start one run more than max_attempts allows
    "lease_expired",  # the running job's worker stopped heartbeating (it died): back to the queue
    "trainer_crashed",  # the trainer exited non-zero, was killed, or could not start
    "trainer_no_result",  # the trainer exited 0 without recording an outcome
    "grace_expired",  # the trainer ignored a cancel or pause for cancel_grace_s and was killed
    "worker_stopped",  # the worker shut down and stopped the trainer
    # The trainer (JobHandle.finish, or the worker when no trainer is installed): the run's own outcome.
    "trainer_succeeded",
    "trainer_failed",
    "trainer_cancelled",  # a cancel honoured at a step boundary
    "trainer_paused",  # a pause honoured at a step boundary, after a checkpoint
]
EVENTS: tuple[Event, ...] = get_args(Event)

ControlChange = Literal["keep", "clear", "cancel", "pause"]
LeaseChange = Literal["keep", "take", "clear"]
FinishedAt = Literal["keep", "set"]


@dataclass(frozen=True)
class Move:
    """What an event does to a job in a given state (see the module docstring for each field)."""

    status: Status
    finished_at: FinishedAt
    control: ControlChange
    lease: LeaseChange
    attempts: Literal[-1, 0, 1]


_ANY: tuple[Control | None, ...] = CONTROLS
_NONE: tuple[Control | None, ...] = (None,)
_CANCEL: tuple[Control | None, ...] = ("cancel",)
_PAUSE: tuple[Control | None, ...] = ("pause",)
_NOT_CANCEL: tuple[Control | None, ...] = (None, "pause")

# fmt: off
RULES: tuple[tuple[Status, tuple[Control | None, ...], Event, Move], ...] = (
    # status             control       event                      status       finished_at control   lease   attempts
    ("validating_files", _ANY,        "files_validated",    Move("queued",    "keep",     "keep",   "clear", 0)),
    ("validating_files", _ANY,        "cancel_requested",   Move("cancelled", "set",      "clear",  "clear", 0)),
    ("validating_files", _ANY,        "pause_requested",    Move("paused",    "keep",     "clear",  "clear", 0)),

    ("queued",           _NONE,       "claimed",            Move("running",   "keep",     "keep",   "take",  1)),
    ("queued",           _CANCEL,     "claimed",            Move("cancelled", "set",      "clear",  "clear", 0)),
    ("queued",           _PAUSE,      "claimed",            Move("paused",    "keep",     "clear",  "clear", 0)),
    ("queued",           _NONE,       "attempts_exhausted", Move("failed",    "set",      "clear",  "clear", 0)),
    ("queued",           _CANCEL,     "attempts_exhausted", Move("cancelled", "set",      "clear",  "clear", 0)),
    ("queued",           _PAUSE,      "attempts_exhausted", Move("paused",    "keep",     "clear",  "clear", 0)),
    ("queued",           _ANY,        "cancel_requested",   Move("cancelled", "set",      "clear",  "clear", 0)),
    ("queued",           _ANY,        "pause_requested",    Move("paused",    "keep",     "clear",  "clear", 0)),

    # A request to a running job only records itself: the trainer acts on it at its next step.
    ("running",          _ANY,        "cancel_requested",   Move("running",   "keep",     "cancel", "keep",  0)),
    ("running",          _NOT_CANCEL, "pause_requested",    Move("running",   "keep",     "pause",  "keep",  0)),
    ("running",          _PAUSE,      "resume_requested",   Move("running",   "keep",     "clear",  "keep",  0)),
    # The trainer's own outcome stands whatever was pending (it read the control before acting on it).
    ("running",          _ANY,        "trainer_succeeded",  Move("succeeded", "set",      "clear",  "clear", 0)),
    ("running",          _ANY,        "trainer_failed",     Move("failed",    "set",      "clear",  "clear", 0)),
    ("running",          _ANY,        "trainer_cancelled",  Move("cancelled", "set",      "clear",  "clear", 0)),
    ("running",          _ANY,        "trainer_paused",     Move("paused",    "keep",     "clear",  "clear", -1)),
    # A run that ends without an outcome of its own honours a pending cancel or pause instead.
    ("running",          _NONE,       "trainer_crashed",    Move("queued",    "keep",     "keep",   "clear", 0)),
    ("running",          _CANCEL,     "trainer_crashed",    Move("cancelled", "set",      "clear",  "clear", 0)),
    ("running",          _PAUSE,      "trainer_crashed",    Move("paused",    "keep",     "clear",  "clear", -1)),
    ("running",          _NONE,       "trainer_no_result",  Move("failed",    "set",      "clear",  "clear", 0)),
    ("running",          _CANCEL,     "trainer_no_result",  Move("cancelled", "set",      "clear",  "clear", 0)),
    ("running",          _PAUSE,      "trainer_no_result",  Move("paused",    "keep",     "clear",  "clear", -1)),
    ("running",          _NONE,       "grace_expired",      Move("queued",    "keep",     "keep",   "clear", -1)),
    ("running",          _CANCEL,     "grace_expired",      Move("cancelled", "set",      "clear",  "clear", 0)),
    ("running",          _PAUSE,      "grace_expired",      Move("paused",    "keep",     "clear",  "clear", -1)),
    # The worker went away: the request stays pending and the next claim settles it.
    ("running",          _ANY,        "worker_stopped",     Move("queued",    "keep",     "keep",   "clear", -1)),
    ("running",          _ANY,        "lease_expired",      Move("queued",    "keep",     "keep",   "clear", 0)),

    ("paused",           _ANY,        "cancel_requested",   Move("cancelled", "set",      "clear",  "clear", 0)),
    ("paused",           _ANY,        "resume_requested",   Move("queued",    "keep",     "clear",  "clear", 0)),
)
# fmt: on


Key = tuple[str, str | None, str]  # (status, control, event)


def _index(rules: tuple[tuple[Status, tuple[Control | None, ...], Event, Move], ...]) -> dict[Key, Move]:
    table: dict[Key, Move] = {}
    for status, controls, event, move in rules:
        for control in controls:
            if (status, control, event) in table:
                raise ValueError(f"RULES defines ({status}, {control}, {event}) twice")
            table[(status, control, event)] = move
    return table


TABLE: dict[Key, Move] = _index(RULES)


class ImpossibleTransition(Exception):
    """The event cannot happen to a job in this state (a terminal job, say); nothing was written."""

    def __init__(self, status: str, control: str | None, event: str):
        pending = f" with a pending {control}" if control else ""
        super().__init__(f"a {status} job{pending} cannot take {event}")
        self.status = status
        self.control = control
        self.event = event


class LeaseLost(Exception):
    """This process no longer owns the job: stop working on it now."""


class Lease(NamedTuple):
    owner: str
    expires_at: float


@dataclass(frozen=True)
class Applied:
    """The job's state after `apply`; `changed` is False when the event found it already so."""

    status: Status
    control: Control | None
    attempts: int
    changed: bool


# Columns `apply` alone writes; callers' extra `values` may not name them.
STATE_COLUMNS = frozenset(
    {"status", "finished_at", "control", "lease_owner", "lease_expires_at", "attempts", "started_at", "error"}
)


def next_move(status: str, control: str | None, event: str) -> Move:
    """The table's row for this state and event; raises ImpossibleTransition when there is none."""
    move = TABLE.get((status, control, event))
    if move is None:
        raise ImpossibleTransition(status, control, event)
    return move


def apply(
    conn: sa.Connection,
    job_id: str,
    event: Event,
    *,
    lease_owner: str | None = None,
    lease: Lease | None = None,
    error: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Applied:
    """Apply `event` to the job inside the caller's (write) transaction, following `TABLE`.

    `lease_owner` fences the write: it happens only while the job is leased to that owner, else
    LeaseLost (a worker or trainer that lost the job writes nothing). `lease` is the new lease of a
    claim. `error` ({code, message, param}) is recorded when the job enters failed, which needs one.
    `values` are other columns to write with the move (the trainer's fine_tuned_model, say).
    """
    if values and (reserved := set(values) & STATE_COLUMNS):
        raise ValueError(f"the state machine owns these job columns: {sorted(reserved)}")
    c = schema.jobs.c
    query = sa.select(c.status, c.control, c.attempts, c.lease_owner, c.lease_expires_at, c.started_at)
    row = conn.execute(query.where(c.id == job_id).with_for_update()).first()
    if lease_owner is not None and (row is None or row.lease_owner != lease_owner):
        raise LeaseLost(f"job {job_id} is no longer leased to {lease_owner}")
    if row is None:
        raise LookupError(f"no job {job_id}")
    move = next_move(row.status, row.control, event)

    new: dict[str, Any] = {"status": move.status, "attempts": (row.attempts or 0) + move.attempts}
    new["control"] = {"keep": row.control, "clear": None}.get(move.control, move.control)
    if move.lease == "take":
        if lease is None:
            raise ValueError(f"{event} takes a lease: pass lease=Lease(owner, expires_at)")
        new["lease_owner"], new["lease_expires_at"] = lease
        if row.started_at is None:
            new["started_at"] = now_s()
    elif move.lease == "clear":
        new["lease_owner"] = new["lease_expires_at"] = None
    if move.finished_at == "set":
        new["finished_at"] = now_s()
    if move.status == "failed":
        if not error:
            raise ValueError("a failed job needs an error {code, message, param}")
        new["error"] = {"code": error.get("code"), "message": error.get("message"), "param": error.get("param")}
    current = row._mapping
    new = {k: v for k, v in new.items() if k not in current or current[k] != v}
    changed = bool(new)
    if changed or values:
        where = c.id == job_id if lease_owner is None else sa.and_(c.id == job_id, c.lease_owner == lease_owner)
        if conn.execute(schema.jobs.update().where(where).values(**new, **(values or {}))).rowcount == 0:
            raise LeaseLost(f"job {job_id} is no longer leased to {lease_owner}")
    return Applied(
        status=move.status,
        control=new.get("control", row.control),
        attempts=new.get("attempts", row.attempts),
        changed=changed,
    )
