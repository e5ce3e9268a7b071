"""Eval records: ids, idempotent output items, counts worked by hand, and a job's evaluation step as a run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from openrft.datasets import DatasetRow
from openrft.evals import records
from openrft.evals.records import OutputItem
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.db import Store

CRITERIA = [
    {"id": "exact-1111", "name": "exact", "type": "string_check"},
    {"id": "close-2222", "name": "close", "type": "text_similarity"},
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield store
    store.dispose()


def result(name: str, passed: bool, *, error: str | None = None) -> dict[str, Any]:
    sample = {"error": {"code": "other_error", "message": error}} if error else None
    return {"name": name, "type": "string_check", "score": 1.0 if passed else 0.0, "passed": passed, "sample": sample}


def sample(model: str | None, prompt: int, completion: int, *, error: bool = False) -> dict[str, Any]:
    return records.build_sample(
        messages=[{"role": "user", "content": "q"}],
        text=None if error else "a",
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        error={"code": "generation_failed", "message": "boom"} if error else None,
    )


def item(index: int, results: list[dict[str, Any]], smp: dict[str, Any], passed: bool) -> OutputItem:
    return OutputItem(index, {"q": index}, results, smp, passed)


def add_run(store: Store, run_id: str = "evalrun_1", eval_id: str = "eval_1") -> None:
    with store.begin() as conn:
        conn.execute(
            schema.evals.insert().values(
                id=eval_id,
                project_id="proj_default",
                name="e",
                data_source_config={"type": "custom"},
                testing_criteria=CRITERIA,
                created_at=now_s(),
            )
        )
        conn.execute(
            schema.eval_runs.insert().values(
                id=run_id,
                eval_id=eval_id,
                project_id="proj_default",
                name="r",
                data_source={"type": "jsonl"},
                status="in_progress",
                created_at=now_s(),
                attempts=1,
                **records.empty_counts(),
            )
        )


def test_ids_look_like_openai_ids() -> None:
    assert re.fullmatch(r"eval_[0-9a-f]{32}", records.new_eval_id())
    assert re.fullmatch(r"evalrun_[0-9a-f]{32}", records.new_run_id())
    assert re.fullmatch(r"outputitem_[0-9a-f]{32}", records.new_output_item_id())
    assert records.new_run_id() != records.new_run_id()


# Four items, worked by hand:
#   0: exact pass, close pass, model m-a 10+5 tokens       -> passed
#   1: exact pass, close fail, model m-a 20+7              -> failed
#   2: exact fail (grader error), close pass, m-b 3+1      -> errored
#   3: generation failed, no results, m-a 0 tokens         -> errored, not an invocation
# result_counts: total 4, passed 1, failed 1, errored 2
# exact: passed 2 (0, 1), failed 1 (2); close: passed 2 (0, 2), failed 1 (1)
# usage: m-a 2 invocations 30 prompt + 12 completion = 42; m-b 1 invocation 3 + 1 = 4
FOUR = [
    item(0, [result("exact", True), result("close", True)], sample("m-a", 10, 5), True),
    item(1, [result("exact", True), result("close", False)], sample("m-a", 20, 7), False),
    item(2, [result("exact", False, error="boom"), result("close", True)], sample("m-b", 3, 1), False),
    item(3, [], sample("m-a", 0, 0, error=True), False),
]
EXPECTED = {
    "result_counts": {"total": 4, "passed": 1, "failed": 1, "errored": 2},
    "per_testing_criteria_results": [
        {"testing_criteria": "exact-1111", "passed": 2, "failed": 1},
        {"testing_criteria": "close-2222", "passed": 2, "failed": 1},
    ],
    "per_model_usage": [
        {
            "model_name": "m-a",
            "invocation_count": 2,
            "prompt_tokens": 30,
            "completion_tokens": 12,
            "total_tokens": 42,
            "cached_tokens": 0,
        },
        {
            "model_name": "m-b",
            "invocation_count": 1,
            "prompt_tokens": 3,
            "completion_tokens": 1,
            "total_tokens": 4,
            "cached_tokens": 0,
        },
    ],
}


def as_rows(items: list[OutputItem]) -> list[dict[str, Any]]:
    return [{"results": i.results, "sample": i.sample, "status": i.status} for i in items]


def test_summarize_by_hand() -> None:
    assert records.summarize(as_rows(FOUR), CRITERIA) == EXPECTED


def test_repeated_criterion_names_match_results_in_order() -> None:
    twice = [{"id": "a-1", "name": "a"}, {"id": "a-2", "name": "a"}]
    rows = as_rows([item(0, [result("a", True), result("a", False)], sample(None, 0, 0), False)])
    per = records.summarize(rows, twice)["per_testing_criteria_results"]
    assert per == [
        {"testing_criteria": "a-1", "passed": 1, "failed": 0},
        {"testing_criteria": "a-2", "passed": 0, "failed": 1},
    ]


def test_a_jsonl_sample_without_model_or_usage_counts_no_invocation() -> None:
    rows = [{"results": [result("exact", True)], "sample": {"output": [{"content": "x"}]}, "status": "pass"}]
    counts = records.summarize(rows, CRITERIA)
    assert counts["result_counts"] == {"total": 1, "passed": 1, "failed": 0, "errored": 0}
    assert counts["per_model_usage"] == []


def test_insert_is_idempotent_and_refresh_writes_the_counts(store: Store) -> None:
    add_run(store)
    with store.begin() as conn:
        assert records.insert_output_items(conn, run_id="evalrun_1", eval_id="eval_1", items=FOUR[:2]) == 2
    with store.begin() as conn:  # a resumed run writes its batch again, plus the rest: only the rest is new
        assert records.insert_output_items(conn, run_id="evalrun_1", eval_id="eval_1", items=FOUR) == 2
        assert records.insert_output_items(conn, run_id="evalrun_1", eval_id="eval_1", items=[FOUR[0], FOUR[0]]) == 0
        assert records.written_item_ids(conn, "evalrun_1") == {0, 1, 2, 3}
        assert records.refresh_counts(conn, "evalrun_1") == EXPECTED
    with store.begin() as conn:
        run = conn.execute(sa.select(schema.eval_runs).where(schema.eval_runs.c.id == "evalrun_1")).mappings().one()
        statuses = conn.execute(
            sa.select(schema.eval_output_items.c.datasource_item_id, schema.eval_output_items.c.status).order_by(
                schema.eval_output_items.c.datasource_item_id
            )
        ).all()
    assert {k: run[k] for k in EXPECTED} == EXPECTED
    assert [tuple(s) for s in statuses] == [(0, "pass"), (1, "fail"), (2, "fail"), (3, "fail")]


def test_build_sample_flattens_text_parts() -> None:
    messages = [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]
    out = records.build_sample(
        messages=messages,
        text="ok",
        model="m",
        prompt_tokens=4,
        completion_tokens=2,
        finish_reason="stop",
        sampling={"temperature": 0.0, "max_completion_tokens": 8, "seed": 3, "top_p": 1.0},
    )
    assert out["input"] == [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "ab"}]
    assert out["output"] == [{"role": "assistant", "content": "ok"}]
    assert out["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "cached_tokens": 0}
    assert (out["max_completion_tokens"], out["seed"], out["temperature"], out["top_p"]) == (8, 3, 0.0, 1.0)
    assert out["error"] is None and out["finish_reason"] == "stop"


def test_record_job_eval_writes_one_completed_run(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_default", name="default", created_at=now_s()))
        conn.execute(
            schema.jobs.insert().values(
                id="ftjob-1",
                project_id="proj_default",
                model="m",
                training_file="file-t",
                validation_file="file-v",
                seed=0,
                method={},
                status="running",
                result_files=[],
                created_at=now_s(),
                attempts=1,
            )
        )
        conn.execute(
            schema.evals.insert().values(
                id="eval_j",
                project_id="proj_default",
                name="job",
                data_source_config={"type": "custom"},
                testing_criteria=[{"id": "reward-1", "name": "reward", "type": "string_check"}],
                job_id="ftjob-1",
                created_at=now_s(),
            )
        )
    rows = [
        DatasetRow(line=1, messages=[{"role": "user", "content": "2+2?"}], tools=None, item={"answer": "4"}),
        DatasetRow(line=3, messages=[{"role": "user", "content": "3+3?"}], tools=None, item={"answer": "6"}),
    ]
    stale = record(store, rows)  # an attempt that crashed before its checkpoint
    run_id = record(store, rows)  # the resumed attempt replays the step: one run for it, not two
    with store.begin() as conn:
        runs = conn.scalars(sa.select(schema.eval_runs.c.id).where(schema.eval_runs.c.job_id == "ftjob-1")).all()
        stale_items = conn.scalars(
            sa.select(schema.eval_output_items.c.id).where(schema.eval_output_items.c.run_id == stale)
        ).all()
    assert runs == [run_id] and stale_items == []
    with store.begin() as conn:
        run = conn.execute(sa.select(schema.eval_runs).where(schema.eval_runs.c.id == run_id)).mappings().one()
        items = (
            conn.execute(
                sa.select(schema.eval_output_items)
                .where(schema.eval_output_items.c.run_id == run_id)
                .order_by(schema.eval_output_items.c.datasource_item_id)
            )
            .mappings()
            .all()
        )
    assert (run["status"], run["name"], run["job_id"], run["step"]) == ("completed", "step 5", "ftjob-1", 5)
    assert run["data_source"]["source"] == {"type": "file_id", "id": "file-v"}
    assert run["result_counts"] == {"total": 2, "passed": 1, "failed": 1, "errored": 0}
    assert run["per_testing_criteria_results"] == [{"testing_criteria": "reward-1", "passed": 1, "failed": 1}]
    assert run["per_model_usage"][0]["invocation_count"] == 2 and run["per_model_usage"][0]["total_tokens"] == 21
    assert [i["datasource_item_id"] for i in items] == [0, 2]  # the lines' 0-based indexes in the file
    assert items[1]["datasource_item"] == {"messages": [{"role": "user", "content": "3+3?"}], "answer": "6"}
    assert items[1]["sample"]["output"] == [{"role": "assistant", "content": "7"}]
    assert items[1]["sample"]["finish_reason"] == "length" and items[1]["status"] == "fail"


def record(store: Store, rows: list[DatasetRow]) -> str:
    return records.record_job_eval(
        store.begin_immediate,
        eval_id="eval_j",
        job_id="ftjob-1",
        project_id="proj_default",
        step=5,
        model_id="ft:m:proj_default::ftjob-1:ckpt-step-5",
        rows=rows,
        texts=["4", "7"],
        prompt_tokens=[9, 9],
        completion_tokens=[1, 2],
        finish_reasons=["stop", "length"],
        results=[([result("reward", True)], True), ([result("reward", False)], False)],
        sampling={"temperature": 1.0, "max_completion_tokens": 16, "top_p": 1.0, "seed": 7},
    )


def test_record_job_eval_refuses_misaligned_lists(store: Store) -> None:
    with pytest.raises(ValueError, match="align"):
        records.record_job_eval(
            store.begin_immediate,
            eval_id="e",
            job_id="j",
            project_id="p",
            step=1,
            model_id="m",
            rows=[DatasetRow(line=1, messages=[], tools=None, item={})],
            texts=[],
            prompt_tokens=[],
            completion_tokens=[],
            finish_reasons=[],
            results=[],
            sampling={},
        )


def test_linked_criteria_name_the_reward_and_keep_the_guards() -> None:
    grader = {"type": "text_similarity", "name": "sim", "input": "{{sample.output_text}}", "reference": "x",
              "evaluation_metric": "fuzzy_match"}  # fmt: skip
    guard = {"type": "string_check", "name": "polite", "input": "a", "reference": "a", "operation": "eq"}
    out = records.linked_criteria(grader, [guard])
    assert out[0]["name"] == "reward" and out[0]["pass_threshold"] == 0.5
    assert out[1] == guard
    assert records.linked_criteria({**grader, "pass_threshold": 0.8}, [])[0]["pass_threshold"] == 0.8


def test_results_naming_their_criterion_id_are_counted_by_id() -> None:
    """grade_items' results carry the criterion id: a renamed or repeated name can't misplace them."""
    named = [{**result("exact", False), "testing_criteria": "close-2222"}]
    per = records.summarize(as_rows([item(0, named, sample(None, 0, 0), False)]), CRITERIA)
    assert per["per_testing_criteria_results"][1] == {"testing_criteria": "close-2222", "passed": 0, "failed": 1}
    assert per["per_testing_criteria_results"][0] == {"testing_criteria": "exact-1111", "passed": 0, "failed": 0}


def test_create_linked_eval_points_the_job_at_its_eval(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(schema.projects.insert().values(id="proj_default", name="default", created_at=now_s()))
        conn.execute(
            schema.jobs.insert().values(
                id="ftjob-2",
                project_id="proj_default",
                model="m",
                training_file="file-t",
                seed=0,
                method={},
                status="queued",
                result_files=[],
                created_at=now_s(),
                attempts=0,
            )
        )
        grader = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                  "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip
        guard = {"type": "python", "name": "helpful", "source": "def grade(sample, item):\n    return 1.0\n"}
        eval_id = records.create_linked_eval(
            conn, project_id="proj_default", job_id="ftjob-2", grader=grader, guard_graders=[guard]
        )
        row = conn.execute(sa.select(schema.evals).where(schema.evals.c.id == eval_id)).mappings().one()
        job_eval = conn.execute(sa.select(schema.jobs.c.eval_id).where(schema.jobs.c.id == "ftjob-2")).scalar()
    assert job_eval == eval_id and row["job_id"] == "ftjob-2" and row["project_id"] == "proj_default"
    assert [c["name"] for c in row["testing_criteria"]] == ["reward", "helpful"]
    assert all(re.fullmatch(rf"{c['name']}-[0-9a-f-]{{36}}", c["id"]) for c in row["testing_criteria"])
    assert row["data_source_config"]["type"] == "custom"
    assert set(row["data_source_config"]["schema"]["properties"]) == {"item", "sample"}
