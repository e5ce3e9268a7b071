"""Engine creation: SQLite in WAL mode with synchronous=FULL by default, any SQLAlchemy URL otherwise.

One `Store` per process; services open short transactions with `store.begin()`. Claims and other
read-modify-write sequences use `store.begin_immediate()` so two SQLite writers never interleave.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from openrft.settings import Settings
from openrft.store.migrations import migrate

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
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

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            mode = conn.info.pop("begin_mode", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """The database of one openrft installation, migrated on open."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url)
        self.is_sqlite = url.startswith("sqlite")
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
        """A write transaction that takes SQLite's write lock up front (a plain BEGIN elsewhere)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.info["begin_mode"] = "IMMEDIATE"
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
