"""The migrated database is exactly what `store/schema.py` declares, from scratch or from any earlier
migration, and migrating is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from openrft.store import schema
from openrft.store.db import Store, create_engine
from openrft.store.migrations import MIGRATIONS, _migrations_table, migrate


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield engine
    engine.dispose()


def test_fresh_database_matches_schema(engine: sa.Engine) -> None:
    assert migrate(engine) == [m.__name__ for m in MIGRATIONS]
    assert_matches_schema(engine)


@pytest.mark.parametrize("done", range(1, len(MIGRATIONS)))
def test_a_database_created_at_an_earlier_migration_upgrades_to_the_schema(engine: sa.Engine, done: int) -> None:
    """What a server of an older release left: the first `done` migrations applied and recorded."""
    with engine.begin() as conn:
        _migrations_table.create(conn)
        for migration in MIGRATIONS[:done]:
            migration(conn)
            conn.execute(_migrations_table.insert().values(name=migration.__name__, applied_at=1))
    assert migrate(engine) == [m.__name__ for m in MIGRATIONS[done:]]
    assert_matches_schema(engine)


def test_m001_is_frozen_not_the_live_schema(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        MIGRATIONS[0](conn)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("function_versions")}
    assert "role" not in columns  # added by m002: m001 must not create today's tables


def assert_matches_schema(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == set(schema.metadata.tables) | {"_migrations"}
    for table in schema.metadata.sorted_tables:
        reflected = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(reflected) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            got = reflected[column.name]
            # SQLite reports primary-key columns as nullable; the primary key itself is checked below.
            if not column.primary_key:
                assert got["nullable"] == column.nullable, f"{table.name}.{column.name} nullable"
            assert got["type"]._type_affinity is column.type._type_affinity, f"{table.name}.{column.name} type"
        pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(pk) == {c.name for c in table.primary_key.columns}, table.name
        indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            assert tuple(c.name for c in index.columns) in indexed, f"{table.name}: index {index.name}"
        declared_fks = {(tuple(fk.column_keys), fk.referred_table.name) for fk in table.foreign_key_constraints}
        reflected_fks = {
            (tuple(fk["constrained_columns"]), fk["referred_table"]) for fk in inspector.get_foreign_keys(table.name)
        }
        assert declared_fks == reflected_fks, table.name


def test_migrate_twice_is_a_noop_and_records_names_in_order(engine: sa.Engine) -> None:
    names = [m.__name__ for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert migrate(engine) == names
    assert migrate(engine) == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, applied_at FROM _migrations ORDER BY rowid")).all()
    assert [r.name for r in rows] == names
    assert all(isinstance(r.applied_at, int) and r.applied_at > 0 for r in rows)


def test_store_opens_in_wal_with_full_sync(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with store.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.dispose()
