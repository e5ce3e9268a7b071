"""Contract tests of /v1/evals through the official openai SDK against a live server (no runner).

Runs stay queued here (the runner is openrft.evals.runner's, tested in tests/integration); the read
paths of a run's results are checked on output items written directly into the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.evals.records import new_output_item_id
from openrft.ids import now_s
from openrft.inference.registry import DEFAULT_BASE_MODEL, register_adapter
from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer

ITEM_SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}}}
EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
FUZZY = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "fuzzy_match",
    "pass_threshold": 0.8,
}
ROWS = [
    {"item": {"question": "1+1?", "answer": "2"}, "sample": {"output_text": "2"}},
    {"item": {"question": "2+2?", "answer": "4"}, "sample": {"output_text": "5"}},
]
TEMPLATE = {
    "type": "template",
    "template": [
        {"role": "system", "content": "Answer with a number."},
        {"role": "user", "content": "{{item.question}}"},
    ],
}
FT_MODEL = "ft:smollm2-135m-instruct:proj_default:demo:ftjob-evals"


@pytest.fixture
def db(live_server: LiveServer) -> Iterator[Store]:
    store = Store(live_server.settings.db_url)
    yield store
    store.dispose()


def make_eval(client: openai.OpenAI, **kwargs: Any) -> Any:
    kwargs.setdefault("data_source_config", {"type": "custom", "item_schema": ITEM_SCHEMA})
    kwargs.setdefault("testing_criteria", [EXACT])
    return client.evals.create(**kwargs)


def jsonl(rows: list[dict[str, Any]] = ROWS) -> dict[str, Any]:
    return {"type": "jsonl", "source": {"type": "file_content", "content": rows}}


def completions(model: str = DEFAULT_BASE_MODEL, **extra: Any) -> dict[str, Any]:
    source = {"type": "file_content", "content": [{"item": r["item"]} for r in ROWS]}
    return {"type": "completions", "model": model, "input_messages": TEMPLATE, "source": source, **extra}


# -- evals ----------------------------------------------------------------------------------------------


def test_create_wraps_the_item_schema_and_ids_each_criterion(client: openai.OpenAI) -> None:
    created = make_eval(
        client,
        name="arith",
        metadata={"team": "a"},
        data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True},
        testing_criteria=[EXACT, FUZZY],
    )
    assert created.object == "eval" and created.id.startswith("eval_") and len(created.id) == 5 + 32
    assert created.name == "arith" and created.metadata == {"team": "a"}
    config = created.data_source_config
    assert config.type == "custom"
    schema_ = config.schema_
    assert schema_["required"] == ["item", "sample"]
    assert schema_["properties"]["item"] == ITEM_SCHEMA  # type: ignore[index]
    assert "output_text" in schema_["properties"]["sample"]["properties"]  # type: ignore[index]
    exact, close = created.testing_criteria
    assert exact.id.startswith("exact-") and len(exact.id) == len("exact-") + 36  # type: ignore[union-attr]
    assert close.pass_threshold == 0.8 and close.id.startswith("close-")  # type: ignore[union-attr]
    again = client.evals.retrieve(created.id)
    assert again.model_dump() == created.model_dump()


def test_without_sample_schema_only_item_is_required(client: openai.OpenAI) -> None:
    config = make_eval(client).data_source_config
    assert config.schema_["required"] == ["item"] and "sample" not in config.schema_["properties"]  # type: ignore[operator]


def test_every_criterion_kind_is_accepted(client: openai.OpenAI) -> None:
    judge_input = [{"role": "user", "content": "Is {{sample.output_text}} right for {{item.question}}?"}]
    criteria = [
        EXACT,
        FUZZY,
        {"type": "python", "name": "py", "source": "def grade(sample, item):\n    return 1.0\n", "pass_threshold": 1},
        {"type": "score_model", "name": "judge", "model": DEFAULT_BASE_MODEL, "input": judge_input},
        {
            "type": "label_model",
            "name": "label",
            "model": DEFAULT_BASE_MODEL,
            "input": judge_input,
            "labels": ["right", "wrong"],
            "passing_labels": ["right"],
        },
        {"type": "multi", "name": "both", "graders": {"a": EXACT, "b": FUZZY}, "calculate_output": "(a + b) / 2"},
    ]
    created = make_eval(client, testing_criteria=criteria)
    kinds = [c.type for c in created.testing_criteria]
    assert kinds == ["string_check", "text_similarity", "python", "score_model", "label_model", "multi"]
    assert created.testing_criteria[2].pass_threshold == 1.0  # type: ignore[union-attr]


def test_update_renames_and_replaces_metadata(client: openai.OpenAI) -> None:
    created = make_eval(client, name="old", metadata={"a": "1"})
    updated = client.evals.update(created.id, name="new", metadata={"b": "2"})
    assert (updated.name, updated.metadata) == ("new", {"b": "2"})
    assert client.evals.retrieve(created.id).name == "new"
    assert client.evals.update(created.id).name == "new"  # nothing to change: unchanged


def test_list_pages_in_both_orders(client: openai.OpenAI, db: Store) -> None:
    ids = [make_eval(client, name=f"e{i}").id for i in range(3)]
    with db.begin() as conn:  # distinct creation times: the list's order is created_at, then id
        for i, eval_id in enumerate(ids):
            conn.execute(schema.evals.update().where(schema.evals.c.id == eval_id).values(created_at=1000 + i))
    first = client.evals.list(limit=2, order="asc")
    assert [e.id for e in first.data] == ids[:2] and first.has_more
    rest = client.evals.list(limit=2, order="asc", after=ids[1])
    assert [e.id for e in rest.data] == ids[2:] and not rest.has_more
    assert [e.id for e in client.evals.list(order="desc")] == ids[::-1]
    assert [e.id for e in client.evals.list(limit=1)] == ids  # the SDK's auto-paging follows `after`


def test_delete_hides_the_eval_and_its_runs(client: openai.OpenAI) -> None:
    created = make_eval(client)
    run = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    deleted = client.evals.delete(created.id)
    assert (deleted.deleted, deleted.eval_id, deleted.object) == (True, created.id, "eval.deleted")
    with pytest.raises(openai.NotFoundError):
        client.evals.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.evals.runs.retrieve(run.id, eval_id=created.id)
    assert created.id not in [e.id for e in client.evals.list()]


# -- runs -----------------------------------------------------------------------------------------------


def test_jsonl_run_is_queued_with_zero_counts_and_a_report_url(client: openai.OpenAI, live_server: LiveServer) -> None:
    created = make_eval(client)
    run = client.evals.runs.create(created.id, name="given", metadata={"k": "v"}, data_source=jsonl())  # type: ignore[arg-type]
    assert run.object == "eval.run" and run.id.startswith("evalrun_") and run.eval_id == created.id
    assert (run.status, run.name, run.metadata, run.model) == ("queued", "given", {"k": "v"}, None)
    assert run.result_counts.model_dump() == {"errored": 0, "failed": 0, "passed": 0, "total": 0}
    assert run.per_model_usage == [] and run.per_testing_criteria_results == []
    assert run.report_url == f"{live_server.base_url}/evals/{created.id}/runs/{run.id}"
    assert run.data_source.type == "jsonl"
    assert client.evals.runs.retrieve(run.id, eval_id=created.id).model_dump() == run.model_dump()


def test_completions_run_on_base_and_fine_tuned_models(client: openai.OpenAI, db: Store) -> None:
    with db.begin() as conn:
        register_adapter(
            conn,
            model_id=FT_MODEL,
            project_id=DEFAULT_PROJECT_ID,
            kind="fine_tuned",
            base_model=DEFAULT_BASE_MODEL,
            path="/nonexistent",
            job_id="ftjob-evals",
        )
    created = make_eval(client)
    params = {"temperature": 0.0, "max_completion_tokens": 16, "top_p": 1.0, "seed": 7}
    for model in (DEFAULT_BASE_MODEL, FT_MODEL):
        run = client.evals.runs.create(
            created.id,
            data_source=completions(model, sampling_params=params),  # type: ignore[arg-type]
        )
        assert run.model == model and run.status == "queued"
        assert run.data_source.sampling_params.model_dump(exclude_none=True) == params  # type: ignore[union-attr]
        assert run.data_source.input_messages.type == "template"  # type: ignore[union-attr]
    reference = {"type": "item_reference", "item_reference": "item.question"}
    run = client.evals.runs.create(created.id, data_source=completions(input_messages=reference))  # type: ignore[arg-type]
    assert run.data_source.input_messages.item_reference == "item.question"  # type: ignore[union-attr]


def test_jsonl_run_from_an_evals_file(client: openai.OpenAI) -> None:
    lines = [json.dumps(ROWS[0]), json.dumps({"question": "3?", "answer": "3"})]  # wrapped and bare rows
    file = client.files.create(file=("rows.jsonl", "\n".join(lines).encode()), purpose="evals")
    assert file.purpose == "evals" and file.status == "processed"
    created = make_eval(client, testing_criteria=[{**EXACT, "input": "{{item.answer}}"}])
    source = {"type": "file_id", "id": file.id}
    run = client.evals.runs.create(created.id, data_source={"type": "jsonl", "source": source})  # type: ignore[arg-type]
    assert run.data_source.source.id == file.id  # type: ignore[union-attr]


def test_list_runs_filters_by_status_and_pages(client: openai.OpenAI, db: Store) -> None:
    created = make_eval(client)
    ids = [client.evals.runs.create(created.id, data_source=jsonl()).id for _ in range(3)]  # type: ignore[arg-type]
    with db.begin() as conn:
        for i, run_id in enumerate(ids):
            conn.execute(schema.eval_runs.update().where(schema.eval_runs.c.id == run_id).values(created_at=1000 + i))
        conn.execute(schema.eval_runs.update().where(schema.eval_runs.c.id == ids[1]).values(status="completed"))
    assert [r.id for r in client.evals.runs.list(created.id)] == ids
    assert [r.id for r in client.evals.runs.list(created.id, order="desc")] == ids[::-1]
    assert [r.id for r in client.evals.runs.list(created.id, status="completed")] == [ids[1]]
    page = client.evals.runs.list(created.id, limit=1, after=ids[0])
    assert [r.id for r in page.data] == [ids[1]] and page.has_more


def test_cancel_queued_running_and_finished_runs(client: openai.OpenAI, db: Store, live_server: LiveServer) -> None:
    created = make_eval(client)
    queued, running, done = (client.evals.runs.create(created.id, data_source=jsonl()) for _ in range(3))  # type: ignore[arg-type]
    with db.begin() as conn:
        runs = schema.eval_runs
        conn.execute(runs.update().where(runs.c.id == running.id).values(status="in_progress"))
        conn.execute(runs.update().where(runs.c.id == done.id).values(status="completed"))
    assert client.evals.runs.cancel(queued.id, eval_id=created.id).status == "canceled"
    assert client.evals.runs.cancel(running.id, eval_id=created.id).status == "in_progress"  # stops at a batch end
    assert client.evals.runs.cancel(done.id, eval_id=created.id).status == "completed"  # finished: unchanged
    with db.begin() as conn:
        control = dict(conn.execute(sa.select(runs.c.id, runs.c.control)).all())
    assert (control[queued.id], control[running.id], control[done.id]) == ("cancel", "cancel", None)
    # OpenAI's reference path for cancel (POST .../runs/{run_id}) answers the same.
    headers = {"Authorization": f"Bearer {live_server.admin_key}"}
    response = httpx.post(f"{live_server.v1}/evals/{created.id}/runs/{running.id}", headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "in_progress"


def insert_items(db: Store, eval_id: str, run_id: str, statuses: list[str]) -> list[str]:
    ids = []
    with db.begin() as conn:
        for i, status in enumerate(statuses):
            item_id = new_output_item_id()
            ids.append(item_id)
            passed = status == "pass"
            result = {"name": "exact", "type": "string_check", "score": float(passed), "passed": passed, "sample": None}
            conn.execute(
                schema.eval_output_items.insert().values(
                    id=item_id,
                    run_id=run_id,
                    eval_id=eval_id,
                    datasource_item_id=i,
                    datasource_item=ROWS[i % 2]["item"],
                    results=[result],
                    sample={
                        "input": [{"role": "user", "content": "1+1?"}],
                        "output": [{"role": "assistant", "content": "2"}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "cached_tokens": 0},
                        "model": DEFAULT_BASE_MODEL,
                        "finish_reason": "stop",
                        "max_completion_tokens": 16,
                        "seed": 0,
                        "temperature": 0.0,
                        "top_p": 1.0,
                        "error": None,
                    },
                    status=status,
                    created_at=now_s(),
                )
            )
    return ids


def test_output_items_list_filter_page_and_retrieve(client: openai.OpenAI, db: Store) -> None:
    created = make_eval(client)
    run = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    ids = insert_items(db, created.id, run.id, ["pass", "fail", "pass"])
    listed = client.evals.runs.output_items.list(run.id, eval_id=created.id)
    assert [o.id for o in listed] == ids and [o.datasource_item_id for o in listed] == [0, 1, 2]
    first = listed.data[0]
    assert first.object == "eval.run.output_item" and first.run_id == run.id and first.eval_id == created.id
    assert first.results[0].passed and first.sample.usage.total_tokens == 4 and first.sample.output[0].content == "2"
    assert [o.id for o in client.evals.runs.output_items.list(run.id, eval_id=created.id, status="fail")] == [ids[1]]
    assert [o.id for o in client.evals.runs.output_items.list(run.id, eval_id=created.id, order="desc")] == ids[::-1]
    page = client.evals.runs.output_items.list(run.id, eval_id=created.id, limit=1, after=ids[0])
    assert [o.id for o in page.data] == [ids[1]] and page.has_more
    one = client.evals.runs.output_items.retrieve(ids[2], eval_id=created.id, run_id=run.id)
    assert one.model_dump() == listed.data[2].model_dump()


def test_delete_run_removes_it_and_its_items(client: openai.OpenAI, db: Store) -> None:
    created = make_eval(client)
    run = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    insert_items(db, created.id, run.id, ["pass"])
    deleted = client.evals.runs.delete(run.id, eval_id=created.id)
    assert (deleted.deleted, deleted.run_id, deleted.object) == (True, run.id, "eval.run.deleted")
    with pytest.raises(openai.NotFoundError):
        client.evals.runs.retrieve(run.id, eval_id=created.id)
    with db.begin() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(schema.eval_output_items)).scalar_one()
    assert left == 0 and client.evals.runs.list(created.id).data == []
