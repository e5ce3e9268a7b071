"""`openrft evals compare`: pass rates side by side and the items whose outcome changed (live server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from openrft.cli.evals import rate
from openrft.cli.main import app
from openrft.evals.compare import changed_first, changed_items, criterion_name, paired_items, pass_rates
from openrft.store import schema
from openrft.store.db import Store
from tests.api.test_evals import insert_items, jsonl, make_eval
from tests.conftest import LiveServer


@pytest.fixture
def db(live_server: LiveServer) -> Iterator[Store]:
    store = Store(live_server.settings.db_url)
    yield store
    store.dispose()


def test_pure_parts_on_hand_worked_counts() -> None:
    cid = "exact-" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
    assert criterion_name(cid) == "exact" and criterion_name("short") == "short"
    rates = pass_rates([{"testing_criteria": cid, "passed": 3, "failed": 1}])
    assert rates == {"exact": (3, 4)} and rate(rates["exact"]) == "75.0% (3/4)" and rate((0, 0)) == "- (0/0)"
    a = [{"datasource_item_id": 0, "status": "pass"}, {"datasource_item_id": 1, "status": "fail"}]
    b = [
        {"datasource_item_id": 0, "status": "pass"},
        {"datasource_item_id": 1, "status": "pass"},
        {"datasource_item_id": 2, "status": "fail"},
    ]
    assert changed_items(a, b) == [(1, "fail", "pass"), (2, None, "fail")]
    assert [p.datasource_item_id for p in changed_first(paired_items(a, b))] == [1, 2, 0]


def test_compare_two_runs(
    client: openai.OpenAI, db: Store, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = make_eval(client)
    run_a = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    run_b = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    insert_items(db, created.id, run_a.id, ["pass", "fail"])
    insert_items(db, created.id, run_b.id, ["pass", "pass"])
    criterion = created.testing_criteria[0].id  # type: ignore[union-attr]
    runs = schema.eval_runs
    with db.begin() as conn:
        for run_id, passed in ((run_a.id, 1), (run_b.id, 2)):
            counts = {"total": 2, "passed": passed, "failed": 2 - passed, "errored": 0}
            per = [{"testing_criteria": criterion, "passed": passed, "failed": 2 - passed}]
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(status="completed", result_counts=counts, per_testing_criteria_results=per)
            )
    monkeypatch.delenv("OPENRFT_BASE_URL", raising=False)
    base = ["--base-url", live_server.base_url, "--api-key", live_server.admin_key, "evals"]
    runner = CliRunner()
    result = runner.invoke(app, [*base, "compare", run_a.id, run_b.id, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["criteria"] == {"exact": [[1, 2], [2, 2]]}
    assert report["changed"] == [{"datasource_item_id": 1, "a": "fail", "b": "pass"}]
    table = runner.invoke(app, [*base, "compare", run_a.id, run_b.id, "--eval", created.id], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "50.0% (1/2)" in table.output and "100.0% (2/2)" in table.output and "1 items changed" in table.output
    listed = runner.invoke(app, [*base, "runs", created.id], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and run_a.id in listed.output
    assert runner.invoke(app, [*base, "list"]).exit_code == 0
    missing = runner.invoke(app, [*base, "compare", "evalrun_nope", run_b.id])
    assert missing.exit_code == 1 and "no run evalrun_nope" in missing.output
