"""Ordered, named schema migrations, applied once each and recorded in `_migrations`.

Add a migration by appending a function to `MIGRATIONS`; never edit or reorder one that has shipped.
`m001_initial` creates the first tables as they shipped (frozen in `m001.py`, never from the live
`schema.py`); every later change to a table is a new migration (ALTER TABLE ...), so a fresh database
and one created at any earlier migration end up identical (tests/unit/test_migrations.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from openrft.ids import now_s
from openrft.store import m001, m003, m004, m005, m006
from openrft.store.db import write_transaction

log = logging.getLogger(__name__)

Migration = Callable[[sa.Connection], None]

_migrations_table = sa.Table(
    "_migrations",
    sa.MetaData(),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("applied_at", sa.Integer, nullable=False),
)


def m001_initial(conn: sa.Connection) -> None:
    m001.create(conn)


def m002_function_role(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE function_versions ADD COLUMN role VARCHAR(2048)"))


def m003_evals_and_samples(conn: sa.Connection) -> None:
    m003.create(conn)
    conn.execute(sa.text("ALTER TABLE jobs ADD COLUMN eval_id VARCHAR(64)"))


def m004_console_sessions_and_ratings(conn: sa.Connection) -> None:
    m004.create(conn)


def m005_access_control(conn: sa.Connection) -> None:
    m005.create(conn)
    for column in (
        "permissions JSON",  # {"mode": all|read_only|restricted, "scopes": [...]}; NULL: all
        "allowed_models JSON",  # model ids (fnmatch patterns) the key may call; NULL: any
        "rpm_limit INTEGER",
        "tpm_limit INTEGER",
        "expires_at INTEGER",
    ):
        conn.execute(sa.text(f"ALTER TABLE api_keys ADD COLUMN {column}"))
    conn.execute(sa.text("ALTER TABLE jobs ADD COLUMN identity JSON"))
    # Keys made before policies existed could do anything in their project: they keep exactly that.
    conn.execute(
        sa.text(
            "INSERT INTO iam_attachments (principal_type, principal_id, policy_arn, project_id, created_at) "
            "SELECT 'service_account', COALESCE(service_account_id, id), :arn, project_id, :now "
            "FROM api_keys WHERE is_admin = :false AND revoked_at IS NULL"
        ),
        {"arn": "arn:aws:iam::aws:policy/OpenRFTFullAccess", "now": now_s(), "false": False},
    )


def m006_lineage(conn: sa.Connection) -> None:
    m006.upgrade(conn)


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_function_role,
    m003_evals_and_samples,
    m004_console_sessions_and_ratings,
    m005_access_control,
    m006_lineage,
]


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now."""
    applied_now: list[str] = []
    with write_transaction(engine) as conn:  # processes starting together migrate one after the other
        _migrations_table.create(conn, checkfirst=True)
        done = set(conn.scalars(sa.select(_migrations_table.c.name)))
        for migration in MIGRATIONS:
            if migration.__name__ in done:
                continue
            log.info("applying migration %s", migration.__name__)
            migration(conn)
            conn.execute(_migrations_table.insert().values(name=migration.__name__, applied_at=now_s()))
            applied_now.append(migration.__name__)
    return applied_now
