"""Migrations build exactly `store/schema.py` on SQLite and on PostgreSQL, and the types behave alike."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from openrft.ids import now_s
from openrft.store import schema
from openrft.store.db import Store, create_engine
from openrft.store.migrations import MIGRATIONS, migrate


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def assert_matches_schema(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == set(schema.metadata.tables) | {"_migrations"}
    for table in schema.metadata.sorted_tables:
        reflected = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(reflected) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            got = reflected[column.name]
            if not column.primary_key:  # SQLite reports primary-key columns as nullable
                assert got["nullable"] == column.nullable, f"{table.name}.{column.name} nullable"
            assert got["type"]._type_affinity is column.type._type_affinity, f"{table.name}.{column.name} type"
            length = getattr(column.type, "length", None)
            if length is not None and engine.dialect.name == "postgresql":  # SQLite ignores lengths
                assert getattr(got["type"], "length", None) == length, f"{table.name}.{column.name} length"
        pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(pk) == {c.name for c in table.primary_key.columns}, table.name
        indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(table.name)}
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
        for index in table.indexes:
            assert tuple(c.name for c in index.columns) in indexed, f"{table.name}: index {index.name}"
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                assert tuple(c.name for c in constraint.columns) in uniques | indexed, f"{table.name}: unique"
        declared_fks = {
            (tuple(fk.column_keys), fk.referred_table.name, tuple(e.column.name for e in fk.elements))
            for fk in table.foreign_key_constraints
        }
        reflected_fks = {
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(table.name)
        }
        assert declared_fks == reflected_fks, table.name


def test_fresh_database_matches_schema(engine: sa.Engine) -> None:
    assert migrate(engine) == [m.__name__ for m in MIGRATIONS]
    assert migrate(engine) == []
    assert_matches_schema(engine)
    with engine.connect() as conn:
        assert set(conn.scalars(sa.text("SELECT name FROM _migrations"))) == {m.__name__ for m in MIGRATIONS}


def test_database_from_before_m002_catches_up(engine: sa.Engine) -> None:
    # An installation migrated before m002 had no function_versions.role column.
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE function_versions DROP COLUMN role"))
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = 'm002_function_role'"))
    assert migrate(engine) == ["m002_function_role"]
    assert_matches_schema(engine)


def test_json_boolean_autoincrement_and_cascades_round_trip(database_url: str) -> None:
    store = Store(database_url)
    method = {"type": "reinforcement", "reinforcement": {"grader": {"type": "string_check"}, "n": [1, 2.5, None]}}
    try:
        with store.begin() as conn:
            conn.execute(schema.projects.insert().values(id="proj_a", name="a", created_at=now_s()))
            conn.execute(
                schema.api_keys.insert().values(
                    id="key_a", project_id="proj_a", name="k", secret_sha256="0" * 64, redacted_value="x", created_at=1
                )
            )
            conn.execute(
                schema.jobs.insert().values(
                    id="ftjob-a", project_id="proj_a", model="m", training_file="file-a", seed=1, method=method,
                    status="queued", result_files=[], created_at=now_s(),
                )
            )  # fmt: skip
            for n in range(3):
                conn.execute(
                    schema.job_events.insert().values(
                        id=f"ftevent-{n}", job_id="ftjob-a", created_at=1, level="info", message=str(n),
                        type="metrics", data={"step": n},
                    )
                )  # fmt: skip
            conn.execute(schema.functions.insert().values(project_id="proj_a", name="f", created_at=1))
            version = {
                "project_id": "proj_a", "function_name": "f", "runtime": "python3.12", "handler": "h.h",
                "timeout_s": 3, "memory_mb": 128, "environment": {}, "description": "", "code_sha256": "x",
                "code_size": 1, "code_blob": "b", "revision_id": "r", "last_modified": "t",
            }  # fmt: skip
            conn.execute(schema.function_versions.insert().values(version="$LATEST", **version))
            conn.execute(
                schema.function_aliases.insert().values(
                    project_id="proj_a", function_name="f", name="live", function_version="$LATEST", description="",
                    revision_id="r",
                )
            )  # fmt: skip
        with store.begin() as conn:
            key = conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.id == "key_a")).one()
            assert key.is_admin is False and key.last_used_at is None  # Python-side default, a real boolean
            job = conn.execute(sa.select(schema.jobs).where(schema.jobs.c.id == "ftjob-a")).one()
            assert (job.method, job.result_files, job.attempts, job.metadata) == (method, [], 0, None)
            events = conn.execute(sa.select(schema.job_events).order_by(schema.job_events.c.seq)).all()
            assert [e.message for e in events] == ["0", "1", "2"]
            assert [e.seq for e in events] == sorted({e.seq for e in events})  # distinct, increasing
            assert [e.data for e in events] == [{"step": 0}, {"step": 1}, {"step": 2}]
            # The composite foreign keys cascade: deleting a function removes its versions and aliases.
            conn.execute(schema.functions.delete())
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.function_versions)).scalar() == 0
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.function_aliases)).scalar() == 0
        with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:  # foreign keys are enforced
            conn.execute(schema.files.insert().values(
                id="file-x", project_id="proj_missing", purpose="fine-tune", filename="f", bytes=1, sha256="s",
                status="processed", created_at=1,
            ))  # fmt: skip
    finally:
        store.dispose()


def test_plain_postgres_urls_use_psycopg(pg_url: str) -> None:
    bare = pg_url.replace("postgresql+psycopg://", "postgresql://")
    for url in (bare, bare.replace("postgresql://", "postgres://")):
        engine = create_engine(url)
        try:
            assert engine.dialect.driver == "psycopg"
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        finally:
            engine.dispose()


def test_a_postgres_url_without_its_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(RuntimeError, match=r"pip install 'openrft\[postgres\]'"):
        create_engine("postgresql://user@127.0.0.1:1/db")
