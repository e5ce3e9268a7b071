"""Engine creation: SQLite in WAL mode with synchronous=FULL by default, any SQLAlchemy URL otherwise.

One `Store` per process; services open short transactions with `store.begin()`. Claims and other
read-modify-write sequences use `store.begin_immediate()` so two writers never interleave: on SQLite
that is `BEGIN IMMEDIATE` (the database's write lock); on PostgreSQL (`postgresql+psycopg://...`) a
transaction-scoped advisory lock taken first, under READ COMMITTED, so every later statement of the
transaction sees what the previous holder committed (tests/store/test_concurrency.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openrft.auth.audit import install_hook
from openrft.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The one advisory lock key `begin_immediate` takes on PostgreSQL (any constant; "orft" in ASCII).
PG_WRITE_LOCK_KEY = 0x6F726674


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The stdlib driver opens its own transactions; SQLAlchemy emits BEGIN itself (see below).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # jobs, keys and files must survive power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)

        # Every transaction takes the write lock up front. A DEFERRED one that reads and then writes
        # fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not
        # retry) whenever another connection wrote in between; IMMEDIATE waits its turn instead.
        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            mode = conn.info.pop("begin_mode", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith(("postgresql", "postgres:")):
        return _postgres_engine(sa.make_url(url))
    return sa.create_engine(url, pool_pre_ping=True)


def _postgres_engine(url: sa.URL) -> sa.Engine:
    if url.drivername in ("postgresql", "postgres"):  # a bare scheme would mean psycopg2 to SQLAlchemy
        url = url.set(drivername="postgresql+psycopg")
    try:
        # READ COMMITTED whatever the server's default: write_transaction's lock-then-read relies on it.
        return sa.create_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED")
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"{url.drivername} URLs need a driver: pip install 'openrft[postgres]' ({exc})") from exc


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that excludes every other `write_transaction` on the database until it ends.

    SQLite: `BEGIN IMMEDIATE`. PostgreSQL: `pg_advisory_xact_lock`, released at commit or rollback.
    Plain `begin()` transactions are not blocked by it; row updates still take row locks.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.info["begin_mode"] = "IMMEDIATE"
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_WRITE_LOCK_KEY)))
            yield conn


class Store:
    """The database of one openrft installation, migrated on open."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url)
        install_hook(self.engine)  # audit.on_next_write: an audit row commits with the change it records
        self.is_sqlite = url.startswith("sqlite")
        from openrft.store.migrations import migrate  # migrations uses write_transaction from here

        migrate(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.db_url)

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def begin_immediate(self) -> Iterator[sa.Connection]:
        """A read-modify-write transaction: no other one interleaves (see `write_transaction`)."""
        with write_transaction(self.engine) as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
