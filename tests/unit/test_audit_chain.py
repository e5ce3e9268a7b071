"""The audit trail's hash chain (openrft.auth.audit): worked by hand, tampered with, swept, hooked, raced.

The on_next_write and concurrency cases run on SQLite and on PostgreSQL (the throwaway cluster of
tests/store/conftest.py; they skip without one). `openrft audit verify` is driven through Typer's runner
on a database edited with raw SQL.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from openrft.auth import audit
from openrft.auth.audit import GENESIS_HASH, AuditEvent, on_next_write, record, record_now, sweep, verify
from openrft.auth.keys import Principal
from openrft.cli.audit import audit_app
from openrft.settings import get_settings
from openrft.store import schema
from openrft.store.db import Store
from tests.store.conftest import pg_cluster, pg_url  # noqa: F401 (fixtures: the PostgreSQL cases)

log = schema.audit_log


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(f"sqlite:///{tmp_path / 'openrft.db'}")
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'openrft.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    db = Store(url)
    yield db
    db.dispose()


def event(n: int, **fields: object) -> AuditEvent:
    return AuditEvent(type="authorization.allowed", project_id="proj_a", action=f"files:Action{n}", **fields)  # type: ignore[arg-type]


def append(store: Store, count: int, *, start_s: int = 1_000) -> None:
    with store.begin() as conn:
        for n in range(count):
            record(conn, event(n), now=start_s + 100 * n)


def rows(store: Store) -> list[sa.Row]:
    with store.begin() as conn:
        return list(conn.execute(sa.select(log).order_by(log.c.seq)))


def test_two_rows_hashed_by_hand(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["audit_log-one", "audit_log-two"])
    monkeypatch.setattr(audit, "new_id", lambda _prefix: next(ids))
    key = Principal(key_id="key_abc", project_id="proj_a", is_admin=False, service_account_id="svc_acct_x")
    first = AuditEvent(
        type="authorization.allowed",
        project_id="proj_a",
        actor=key,
        source_ip="10.0.0.1",
        action="files:CreateFile",
        resource="arn:openrft:files:us-east-1:123456789012:file/*",
        outcome="allowed",
        decision={"effect": "Allow", "policy": "p", "sid": None},
        request_id="req_1",
    )
    with store.begin() as conn:
        record(conn, first, now=1_700_000_000)
        record(conn, AuditEvent(type="project.created", resource="proj_b", details={"data": {"name": "b"}}), now=7)
    one, two = rows(store)
    # The canonical JSON of row 1, written out: sorted keys, no spaces, None as null, the actor's ids only.
    acct = key.account_id
    body_one = (
        '{"action":"files:CreateFile","actor":{"arn":"arn:aws:iam::' + acct + ':user/svc_acct_x","is_admin":false,'
        '"key_id":"key_abc","project_id":"proj_a","service_account_id":"svc_acct_x","type":"api_key"},'
        '"decision":{"effect":"Allow","policy":"p","sid":null},"details":null,"effective_at":1700000000,'
        '"id":"audit_log-one","key_id":"key_abc","outcome":"allowed","project_id":"proj_a",'
        '"request_id":"req_1","resource":"arn:openrft:files:us-east-1:123456789012:file/*","seq":1,'
        '"source_ip":"10.0.0.1","type":"authorization.allowed","user_agent":null}'
    )
    assert one.prev_hash == GENESIS_HASH == "0" * 64
    assert one.hash == hashlib.sha256((GENESIS_HASH + body_one).encode()).hexdigest()
    body_two = (
        '{"action":null,"actor":null,"decision":null,"details":{"data":{"name":"b"}},"effective_at":7,'
        '"id":"audit_log-two","key_id":null,"outcome":"succeeded","project_id":null,"request_id":null,'
        '"resource":"proj_b","seq":2,"source_ip":null,"type":"project.created","user_agent":null}'
    )
    assert two.prev_hash == one.hash  # the link
    assert two.hash == hashlib.sha256((one.hash + body_two).encode()).hexdigest()
    assert verify(store) == audit.VerifyResult(ok=True, checked=2, first_bad_seq=None, reason=None, head_hash=two.hash)


def test_overlong_fields_are_clipped_to_their_columns(store: Store) -> None:
    record_now(store, AuditEvent(type="x." + "y" * 100, user_agent="u" * 600))
    (row,) = rows(store)
    assert (len(row.type), len(row.user_agent)) == (64, 512)
    assert verify(store).ok


def test_verify_catches_an_edited_field(store: Store) -> None:
    append(store, 3)
    with store.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2")
    result = verify(store)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 2, 2)
    assert "edited" in str(result.reason)


def test_verify_catches_an_edit_whose_hash_was_recomputed(store: Store) -> None:
    append(store, 3)
    two = rows(store)[1]
    fields = {**two._mapping, "outcome": "denied"}
    with store.begin() as conn:
        conn.execute(
            log.update().where(log.c.seq == 2).values(outcome="denied", hash=audit.row_hash(two.prev_hash, fields))
        )
    result = verify(store)
    assert (result.ok, result.first_bad_seq) == (False, 3)  # row 3 still links to the old hash of row 2
    assert "prev_hash is not the hash of seq 2" in str(result.reason)


def test_verify_catches_a_deleted_middle_row(store: Store) -> None:
    append(store, 4)
    with store.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 2")
    result = verify(store)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "seq 3 follows seq 1" in str(result.reason)


def test_verify_catches_reordered_rows(store: Store) -> None:
    append(store, 4)
    with store.begin() as conn:  # swap the places of rows 2 and 3
        conn.exec_driver_sql("UPDATE audit_log SET seq = -2 WHERE seq = 2")
        conn.exec_driver_sql("UPDATE audit_log SET seq = 2 WHERE seq = 3")
        conn.exec_driver_sql("UPDATE audit_log SET seq = 3 WHERE seq = -2")
    result = verify(store)
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_verify_catches_a_deleted_prefix_that_no_sweep_made(store: Store) -> None:
    append(store, 3)
    with store.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 1")
    result = verify(store)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "starts at seq 2" in str(result.reason)


def test_sweep_keeps_the_chain_verifiable(store: Store) -> None:
    append(store, 4)  # effective_at 1000, 1100, 1200, 1300
    # now 2000, retention 850 s: the cutoff is 1150, so rows 1 and 2 (1000, 1100) go.
    assert sweep(store, retention_s=850, now=2_000) == 2
    left = rows(store)
    assert [r.seq for r in left] == [3, 4, 5]
    swept = left[-1]
    assert swept.type == "audit_log.swept" and swept.effective_at == 2_000
    assert swept.details["through_seq"] == 2 and swept.details["anchor_hash"] == left[0].prev_hash
    assert verify(store).ok and verify(store).checked == 3
    # Nothing is old enough now: nothing deleted, no new row.
    assert sweep(store, retention_s=850, now=2_000) == 0 and len(rows(store)) == 3
    # Later, everything (the first sweep's own row too) is past retention: the new sweep row anchors alone.
    assert sweep(store, retention_s=10, now=5_000) == 3
    (only,) = rows(store)
    assert (only.seq, only.details["through_seq"], only.details["deleted"]) == (6, 5, 3)
    assert verify(store).ok
    append(store, 1, start_s=6_000)
    assert verify(store).ok and verify(store).checked == 2


def test_sweep_keeps_rows_that_fail_verification(store: Store) -> None:
    append(store, 3)
    with store.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET action = 'x' WHERE seq = 1")
    assert sweep(store, retention_s=1, now=10_000) == 0
    assert len(rows(store)) == 3 and verify(store).first_bad_seq == 1


def test_a_forged_sweep_row_is_caught(store: Store) -> None:
    append(store, 3)
    assert sweep(store, retention_s=150, now=1_300) == 2  # cutoff 1150: rows 1, 2
    with store.begin() as conn:  # claim the sweep deleted row 3 too, and delete it
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 3")
    assert verify(store).first_bad_seq == 4


def test_writes_table_reads_the_statement() -> None:
    assert audit.writes_table('INSERT INTO "projects" (id) VALUES (?)') == "projects"
    assert audit.writes_table("insert or replace into files values (1)") == "files"
    assert audit.writes_table("UPDATE jobs SET status=? WHERE id=?") == "jobs"
    assert audit.writes_table("DELETE FROM main.api_keys WHERE id=?") == "api_keys"
    assert audit.writes_table("SELECT * FROM projects") is None
    assert audit.writes_table("INSERT INTO audit_log (seq) VALUES (1)") == "audit_log"


def _count(store: Store, table: sa.Table) -> int:
    with store.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_on_next_write_commits_with_the_change_and_vanishes_with_a_rollback(any_store: Store) -> None:
    projects = schema.projects
    with on_next_write(AuditEvent(type="project.created", resource="proj_a")) as pending:
        with any_store.begin() as conn:  # a read-only transaction does not carry the event
            conn.execute(sa.select(projects)).all()
        assert not pending.recorded
        with any_store.begin() as conn:
            conn.execute(projects.insert().values(id="proj_a", name="a", created_at=1))
            assert conn.execute(sa.select(sa.func.count()).select_from(log)).scalar_one() == 0  # appended at commit
        assert pending.recorded
        with any_store.begin() as conn:  # the event went with the first write only
            conn.execute(projects.update().where(projects.c.id == "proj_a").values(name="aa"))
    assert (_count(any_store, projects), _count(any_store, log)) == (1, 1)
    assert rows(any_store)[0].id == pending.id

    with (
        pytest.raises(RuntimeError),
        on_next_write(AuditEvent(type="project.created")) as rolled,
        any_store.begin() as conn,
    ):
        conn.execute(projects.insert().values(id="proj_b", name="b", created_at=1))
        raise RuntimeError("the request failed")
    assert not rolled.recorded
    assert (_count(any_store, projects), _count(any_store, log)) == (1, 1)

    # If the audit row cannot be written, the change does not commit either.
    with pytest.raises(sa.exc.DBAPIError), on_next_write(AuditEvent(type="x", outcome="bogus" * 10)):
        if any_store.is_sqlite:  # SQLite does not check VARCHAR lengths: make the insert fail another way
            with any_store.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'no'); END"
                )
        with any_store.begin() as conn:
            conn.execute(projects.insert().values(id="proj_c", name="c", created_at=1))
    assert (_count(any_store, projects), _count(any_store, log)) == (1, 1)
    assert verify(any_store).ok


def test_no_context_no_event(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_a", name="a", created_at=1))
    with on_next_write(AuditEvent(type="audit.read")) as pending:
        record_now(store, AuditEvent(type="other"))  # a write to audit_log itself is not "the change"
        assert not pending.recorded
    assert _count(store, log) == 1


def test_concurrent_appends_keep_one_chain(any_store: Store) -> None:
    threads, each = 6, 15
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for n in range(each):
                if n % 2:
                    record_now(any_store, event(t * 100 + n))
                else:
                    with on_next_write(event(t * 100 + n)), any_store.begin() as conn:
                        conn.execute(schema.projects.insert().values(id=f"proj_{t}_{n}", name="p", created_at=1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    result = verify(any_store)
    assert result.ok and result.checked == threads * each
    assert [r.seq for r in rows(any_store)] == list(range(1, threads * each + 1))


def test_cli_verify_catches_an_edited_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("OPENRFT_HOME", str(home))
    get_settings.cache_clear()
    db = Store(f"sqlite:///{home / 'openrft.db'}")
    append(db, 3)
    runner = CliRunner()
    env = {"OPENRFT_HOME": str(home), "COLUMNS": "200"}
    ok = runner.invoke(audit_app, ["verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit log ok: 3 row(s)" in ok.output and rows(db)[-1].hash in ok.output
    with db.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET resource = 'arn:forged' WHERE seq = 2")
    db.dispose()
    broken = runner.invoke(audit_app, ["verify"], env=env)
    assert broken.exit_code == 1
    assert "broken at seq 2" in broken.output and "arn:forged" in broken.output
    as_json = runner.invoke(audit_app, ["verify", "--json"], env=env)
    report = json.loads(as_json.output)
    assert as_json.exit_code == 1 and report["first_bad_seq"] == 2 and report["bad_row"]["resource"] == "arn:forged"
