"""The audit trail: who did what, appended in the same transaction as the change, hash-chained.

Every row of `audit_log` carries `prev_hash` (the previous row's `hash`; 64 zeros before the first
row) and `hash = sha256(prev_hash + canonical JSON of the row's fields)`, the fields being every column
but the two hashes (`HASHED_FIELDS`), canonical JSON being sorted keys, no spaces, UTF-8. `seq` is
given here, one more than the chain's head, so it is gap-free: a missing number is a deleted row.
`verify` walks the chain in `seq` order and names the first row whose hash, link or number is wrong.

One chain per database, so appends are serialized: on SQLite by the write lock every transaction here
takes at BEGIN (store/db.py begins them IMMEDIATE); on PostgreSQL by `pg_advisory_xact_lock` on
`PG_AUDIT_LOCK_KEY`, held to commit or rollback. Take it last: `record` belongs at the end of a
transaction (the commit hook below appends there), so its holder never waits on another lock.

Recording a request's mutation with the mutation: `on_next_write(event)` marks the context, and the
first transaction run in it that writes (INSERT/UPDATE/DELETE on any table but `audit_log`) gets the
event appended just before it commits, so the row commits and rolls back with the change (and a
failure to append fails the commit). The hook is four engine events, begin, statement, commit and
rollback (`install_hook`, which `Store` calls on its engine). The mark lives in a contextvar: enter
the block in the code that runs the work, or in async code before it (Starlette's threadpool copies
the context into the worker thread; a mark set inside a sync FastAPI dependency stays in its copy).

Append-only from the application's side: this module inserts and, in `sweep` only, deletes the
oldest rows past the retention. A sweep keeps the chain verifiable by appending an `audit_log.swept`
row naming the last deleted row's `seq` and `hash`: the chain may then start at that seq + 1 with that
hash as its `prev_hash`, and nowhere else. What a hash chain inside the database cannot show: a
rewrite of every hash from some row on, or a cut of the newest rows; keep `VerifyResult.head_hash`
somewhere else (`openrft audit verify` prints it) to catch those as well.

Not covered: a write inside a SAVEPOINT that is rolled back still counts as the transaction's write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from openrft.ids import new_id, now_s
from openrft.store import schema

if TYPE_CHECKING:
    from openrft.auth.keys import Principal
    from openrft.store.db import Store

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
PG_AUDIT_LOCK_KEY = 0x61756474  # "audt" in ASCII; not store/db.py's write lock
SWEEP_TYPE = "audit_log.swept"
ID_PREFIX = "audit_log-"
audit_log = schema.audit_log
HASHED_FIELDS = (
    "seq",
    "id",
    "effective_at",
    "project_id",
    "type",
    "actor",
    "key_id",
    "source_ip",
    "user_agent",
    "action",
    "resource",
    "outcome",
    "decision",
    "request_id",
    "details",
)
Outcome = Literal["allowed", "denied", "succeeded", "failed"]


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened: a decision (`authorization.allowed|denied`) or a mutation.

    `type` follows OpenAI's audit log types where one exists (`api_key.created`, `project.created`,
    `service_account.created`) and the same pattern otherwise (`fine_tuning.job.created`,
    `lambda.function.invoked`, `iam.role.created`). `resource` is an ARN or an object id; `decision`
    is `Decision.as_dict()` (effect, deciding policy and Sid) or the missing scopes; `details` becomes
    the type-named object of the API's item, beside `{"id": <resource id>}`.
    """

    type: str
    project_id: str | None = None
    actor: Principal | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    action: str | None = None
    resource: str | None = None
    outcome: Outcome = "succeeded"
    decision: Mapping[str, Any] | None = None
    request_id: str | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # rows read
    first_bad_seq: int | None
    reason: str | None
    head_hash: str | None = None  # the newest row's hash: record it elsewhere to catch a rewritten tail


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """sha256 of `prev_hash` followed by the canonical JSON of the row's `HASHED_FIELDS`."""
    body = canonical_json({name: fields[name] for name in HASHED_FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def actor_of(principal: Principal | None) -> dict[str, Any] | None:
    """Who acted, as stored: ids and ARNs only, never a secret."""
    if principal is None:
        return None
    actor = {
        "type": "role_session" if principal.role_arn else "api_key",
        "arn": principal.arn,
        "key_id": principal.key_id,
        "project_id": principal.project_id,
        "is_admin": principal.is_admin,
        "service_account_id": principal.service_account_id,
        "role_arn": principal.role_arn,
        "session_name": principal.session_name,
    }
    return {k: v for k, v in actor.items() if v is not None}


def _jsonable(value: Mapping[str, Any] | None) -> Any:
    # What the JSON column will give back, so the hash computed now is the hash verify recomputes.
    return None if value is None else json.loads(json.dumps(value, default=str, allow_nan=False))


def _clip(column: str, value: str | None) -> str | None:
    # PostgreSQL refuses an overlong VARCHAR, which would roll back the change the row records.
    length = getattr(audit_log.c[column].type, "length", None)
    return value[:length] if value is not None and length else value


def _take_chain_lock(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_AUDIT_LOCK_KEY)))
    # SQLite: the transaction began IMMEDIATE (store/db.py), so it holds the database's write lock.


def record(conn: sa.Connection, event: AuditEvent, *, now: int | None = None) -> str:
    """Append `event` inside `conn`'s transaction (last in it: see the module docstring); its id."""
    _take_chain_lock(conn)
    return _append(conn, event, now=now, head=_head(conn))


def _head(conn: sa.Connection) -> tuple[int, str]:
    """(seq, hash) of the chain's newest row; (0, genesis) before the first."""
    head = conn.execute(sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
    return (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH)


def _append(conn: sa.Connection, event: AuditEvent, *, now: int | None, head: tuple[int, str]) -> str:
    seq, prev_hash = head[0] + 1, head[1]
    actor = actor_of(event.actor)
    fields: dict[str, Any] = {
        "seq": seq,
        "id": new_id(ID_PREFIX),
        "effective_at": now_s() if now is None else now,
        "project_id": _clip("project_id", event.project_id),
        "type": _clip("type", event.type),
        "actor": _jsonable(actor),
        "key_id": _clip("key_id", actor.get("key_id") if actor else None),
        "source_ip": _clip("source_ip", event.source_ip),
        "user_agent": _clip("user_agent", event.user_agent),
        "action": _clip("action", event.action),
        "resource": _clip("resource", event.resource),
        "outcome": event.outcome,
        "decision": _jsonable(event.decision),
        "request_id": _clip("request_id", event.request_id),
        "details": _jsonable(event.details),
    }
    conn.execute(audit_log.insert().values(**fields, prev_hash=prev_hash, hash=row_hash(prev_hash, fields)))
    return str(fields["id"])


def record_now(store: Store, event: AuditEvent) -> str:
    """Append `event` in a transaction of its own (a refusal, a read, a request that wrote nothing)."""
    with store.begin() as conn:
        return record(conn, event)


# --- on_next_write: the event rides on the first transaction that writes ---------------------------


@dataclass
class PendingEvent:
    """An event waiting for a write; `id` is set once a transaction carrying it committed.

    `event` may be None at first and set later (armed): the HTTP layer marks a mutating request before
    it knows who is calling, and arms the mark once the call is authorized, so that only the handler's
    own writes carry it (not the key's last-used bookkeeping on the way in).
    """

    event: AuditEvent | None
    id: str | None = None

    @property
    def recorded(self) -> bool:
        return self.id is not None


_pending: ContextVar[tuple[PendingEvent, ...]] = ContextVar("openrft_audit_pending", default=())
_WRITE_STATEMENT = re.compile(
    r"""^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+"""
    r"""(?:["`]?\w+["`]?\.)?["`]?(\w+)""",
    re.IGNORECASE,
)
_WROTE = "openrft_audit_wrote"  # conn.info: the pending events of this transaction's first write
_APPENDED = "openrft_audit_appended"  # conn.info: the events the commit hook appended


@contextmanager
def on_next_write(event: AuditEvent | None) -> Iterator[PendingEvent]:
    """Append `event` to the first transaction in this block that writes, before it commits.

    When the block ends with `pending.recorded` false, nothing committed a write (a read, a refusal,
    an error): the caller records the event itself with `record_now`, with the outcome it knows. With
    `event` None the mark waits until `pending.event` is set.
    """
    pending = PendingEvent(event)
    token = _pending.set((*_pending.get(), pending))
    try:
        yield pending
    finally:
        _pending.reset(token)


def writes_table(statement: str) -> str | None:
    """The table an INSERT/UPDATE/DELETE statement writes, None for anything else."""
    match = _WRITE_STATEMENT.match(statement)
    return match.group(1).lower() if match else None


def _note_write(
    conn: sa.Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _executemany: bool
) -> None:
    waiting = tuple(p for p in _pending.get() if p.event is not None and p.id is None)
    if not waiting or _WROTE in conn.info:
        return
    table = writes_table(statement)
    if table is not None and table != audit_log.name:
        conn.info[_WROTE] = waiting


def _append_pending(conn: sa.Connection) -> None:
    waiting: tuple[PendingEvent, ...] = conn.info.pop(_WROTE, ())
    appended = []
    for pending in waiting:
        if pending.id is None and pending.event is not None:
            pending.id = record(conn, pending.event)
            appended.append(pending)
    if appended:
        conn.info[_APPENDED] = appended


def _forget(conn: sa.Connection) -> None:
    conn.info.pop(_WROTE, None)
    for pending in conn.info.pop(_APPENDED, ()):  # the commit failed after the hook ran: not recorded
        pending.id = None


def _begin(conn: sa.Connection) -> None:
    conn.info.pop(_WROTE, None)
    conn.info.pop(_APPENDED, None)


def install_hook(engine: sa.Engine) -> None:
    """Make `on_next_write` work on `engine` (store/db.py calls this for every engine it creates)."""
    sa.event.listen(engine, "begin", _begin)
    sa.event.listen(engine, "before_cursor_execute", _note_write)
    sa.event.listen(engine, "commit", _append_pending)
    sa.event.listen(engine, "rollback", _forget)


# --- verify and sweep ----------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, seq: int, reason: str):
        super().__init__(reason)
        self.seq, self.reason = seq, reason


def _start_of_chain(latest_sweep: Any | None) -> tuple[int, str]:
    """(seq, prev_hash) the oldest row must have: the genesis, or right after the last sweep."""
    if latest_sweep is None:
        return 1, GENESIS_HASH
    details = latest_sweep.details if isinstance(latest_sweep.details, dict) else {}
    through, anchor = details.get("through_seq"), details.get("anchor_hash")
    if not isinstance(through, int) or not isinstance(anchor, str):
        raise _Bad(latest_sweep.seq, "the sweep row does not name the last row it deleted")
    return through + 1, anchor


class _Chain:
    """Walks rows in ascending seq from the chain's start, counting; raises _Bad at the first wrong one."""

    def __init__(self, latest_sweep: Any | None):
        self.latest_sweep = latest_sweep
        self.checked = 0
        self.head: Any | None = None

    def walk(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self._check(row)
            self.checked, self.head = self.checked + 1, row

    def _check(self, row: Any) -> None:
        prev = self.head
        if prev is None:
            start_seq, start_hash = _start_of_chain(self.latest_sweep)
            if row.seq != start_seq or row.prev_hash != start_hash:
                where = "the genesis" if self.latest_sweep is None else f"the sweep at seq {self.latest_sweep.seq}"
                raise _Bad(row.seq, f"the chain starts at seq {row.seq}, not where {where} leaves it ({start_seq})")
        elif row.seq != prev.seq + 1:
            raise _Bad(row.seq, f"seq {row.seq} follows seq {prev.seq}: rows in between are missing")
        elif row.prev_hash != prev.hash:
            raise _Bad(row.seq, f"prev_hash is not the hash of seq {prev.seq}: a row was edited, moved or replaced")
        if row_hash(row.prev_hash, row._mapping) != row.hash:
            raise _Bad(row.seq, "hash does not match the row's fields: the row was edited")


def _latest_sweep(conn: sa.Connection) -> Any | None:
    query = sa.select(audit_log).where(audit_log.c.type == SWEEP_TYPE).order_by(audit_log.c.seq.desc())
    return conn.execute(query.limit(1)).first()


@contextmanager
def _snapshot(store: Store) -> Iterator[sa.Connection]:
    """A read-only transaction that sees one state of the table and holds no writer off."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.info["begin_mode"] = "DEFERRED"  # a WAL read snapshot; store/db.py's begin hook reads this
        elif conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def verify(store: Store) -> VerifyResult:
    """Recompute the chain: ok, or the first row (by seq) whose hash, link or number is wrong."""
    with _snapshot(store) as conn:
        chain = _Chain(_latest_sweep(conn))
        rows = conn.execution_options(yield_per=1000).execute(sa.select(audit_log).order_by(audit_log.c.seq))
        try:
            chain.walk(rows)
        except _Bad as bad:
            return VerifyResult(ok=False, checked=chain.checked + 1, first_bad_seq=bad.seq, reason=bad.reason)
    head = None if chain.head is None else str(chain.head.hash)
    return VerifyResult(ok=True, checked=chain.checked, first_bad_seq=None, reason=None, head_hash=head)


def sweep(store: Store, *, retention_s: float, now: int | None = None) -> int:
    """Delete the rows older than `retention_s` (the oldest unbroken run of them); the number deleted.

    The rows to delete are verified first: a broken stretch is kept (and logged) rather than erased
    with the evidence. The sweep's own row, appended in the same transaction, anchors the new start.
    """
    cutoff = (now_s() if now is None else now) - retention_s
    with store.begin() as conn:
        _take_chain_lock(conn)
        first_young = conn.execute(sa.select(sa.func.min(audit_log.c.seq)).where(audit_log.c.effective_at >= cutoff))
        keep_from = first_young.scalar()
        if keep_from is None:
            keep_from = (conn.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar() or 0) + 1
        chain = _Chain(_latest_sweep(conn))
        try:
            chain.walk(conn.execute(sa.select(audit_log).where(audit_log.c.seq < keep_from).order_by(audit_log.c.seq)))
        except _Bad as bad:
            log.error(
                "audit log sweep skipped: the rows it would delete fail verification at seq %d: %s", bad.seq, bad.reason
            )
            return 0
        if chain.head is None:
            return 0
        head = _head(conn)  # the sweep's row follows it, even when every row goes
        conn.execute(audit_log.delete().where(audit_log.c.seq < keep_from))
        details = {
            "deleted": chain.checked,
            "through_seq": chain.head.seq,
            "anchor_hash": chain.head.hash,
            "retention_s": retention_s,
        }
        _append(conn, AuditEvent(type=SWEEP_TYPE, details=details), now=now, head=head)
    log.info("audit log sweep: deleted %d row(s) older than %d s", chain.checked, retention_s)
    return chain.checked
