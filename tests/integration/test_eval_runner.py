"""The eval runner on a tiny random Llama: completions and jsonl runs end to end, cancel within one batch,
resume after a dead runner without duplicates, runs that can't go on failing with their reason.

Eval and run rows are inserted as the API inserts them (openrft.api.evals.runs.create_run), so each
test drives the runner alone; tests/api/test_evals*.py drive the same runner through the SDK.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import sqlalchemy as sa

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.context import AppContext, build_context
from openrft.evals import criteria, records
from openrft.evals.runner import EvalWorker
from openrft.ids import now_s
from openrft.inference.engine import Engine, SequenceHandle, get_engine
from openrft.inference.registry import add_base_model, delete_model, register_adapter
from openrft.settings import Settings
from openrft.store import schema
from tests.inference.tiny import tiny_dirs_fixture  # noqa: F401

MODEL = "tiny-llama"
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
# Item k passes "is_even" when k is even; "answered" passes when the model said anything at all.
CRITERIA = [
    {"type": "string_check", "name": "answered", "input": "{{sample.output_text}}", "reference": "", "operation": "ne"},
    {"type": "string_check", "name": "is_even", "input": "{{item.parity}}", "reference": "even", "operation": "eq"},
]


@pytest.fixture
def ctx(settings: Settings, tiny_dirs: tuple[Path, Path]) -> Iterator[AppContext]:
    ctx = build_context(settings)
    add_base_model(ctx.store, settings, MODEL, tiny_dirs[0])
    yield ctx
    ctx.store.dispose()


def items(n: int) -> list[dict[str, Any]]:
    return [{"item": {"word": WORDS[k % 10], "parity": "odd" if k % 2 else "even"}} for k in range(n)]


def completions_source(n: int, *, model: str = MODEL, max_tokens: int = 8) -> dict[str, Any]:
    return {
        "type": "completions",
        "source": {"type": "file_content", "content": items(n)},
        "input_messages": {"type": "template", "template": [{"role": "user", "content": "say {{item.word}}"}]},
        "model": model,
        "sampling_params": {"temperature": 0, "max_completion_tokens": max_tokens},
    }


def add_eval(ctx: AppContext, testing_criteria: list[dict[str, Any]] = CRITERIA) -> tuple[str, list[dict[str, Any]]]:
    parsed = criteria.parse_criteria(testing_criteria)
    eval_id = records.new_eval_id()
    with ctx.store.begin() as conn:
        conn.execute(
            schema.evals.insert().values(
                id=eval_id,
                project_id=DEFAULT_PROJECT_ID,
                name="runner test",
                data_source_config={"type": "custom", "schema": {"type": "object"}},
                testing_criteria=parsed,
                created_at=now_s(),
            )
        )
    return eval_id, parsed


def add_run(ctx: AppContext, eval_id: str, data_source: dict[str, Any], **values: Any) -> str:
    run_id = records.new_run_id()
    row = {
        "id": run_id,
        "eval_id": eval_id,
        "project_id": DEFAULT_PROJECT_ID,
        "name": "r",
        "model": data_source.get("model"),
        "data_source": data_source,
        "status": "queued",
        "created_at": now_s(),
        "attempts": 0,
        **records.empty_counts(),
        **values,
    }
    with ctx.store.begin() as conn:
        conn.execute(schema.eval_runs.insert().values(**row))
    return run_id


def run_row(ctx: AppContext, run_id: str) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        return dict(conn.execute(sa.select(schema.eval_runs).where(schema.eval_runs.c.id == run_id)).mappings().one())


def output_items(ctx: AppContext, run_id: str) -> list[dict[str, Any]]:
    table = schema.eval_output_items
    with ctx.store.begin() as conn:
        rows = conn.execute(sa.select(table).where(table.c.run_id == run_id).order_by(table.c.datasource_item_id))
        return [dict(r) for r in rows.mappings()]


def set_control(ctx: AppContext, run_id: str, control: str) -> None:
    with ctx.store.begin() as conn:
        conn.execute(schema.eval_runs.update().where(schema.eval_runs.c.id == run_id).values(control=control))


def wait_for(predicate: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class CountingEngine:
    """The real engine, counting submits (and calling `on_submit(n)` before the n-th)."""

    def __init__(self, real: Engine, on_submit: Any = None):
        self.real, self.on_submit, self.submits = real, on_submit, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def submit(self, *args: Any, **kwargs: Any) -> SequenceHandle:
        self.submits += 1
        if self.on_submit is not None:
            self.on_submit(self.submits)
        return self.real.submit(*args, **kwargs)


class HangingEngine(CountingEngine):
    """Prompts rendered by the real engine's tokenizer; sequences that never finish unless cancelled."""

    def __init__(self, real: Engine):
        super().__init__(real)
        self.handles: list[SequenceHandle] = []

    def submit(self, *args: Any, **kwargs: Any) -> SequenceHandle:
        self.submits += 1
        self.handles.append(SequenceHandle())
        return self.handles[-1]


def test_a_completions_run_goes_from_queued_to_completed(ctx: AppContext) -> None:
    eval_id, parsed = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(10))
    engine = CountingEngine(get_engine())
    worker = EvalWorker(ctx, lambda: engine, batch_items=4)
    assert worker.run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "completed" and run["error"] is None and run["lease_owner"] is None
    assert run["started_at"] and run["finished_at"] and run["attempts"] == 1
    # Every item answered (the tiny model never ends at once); items 0, 2, 4, 6, 8 are even.
    assert run["result_counts"] == {"total": 10, "passed": 5, "failed": 5, "errored": 0}
    assert run["per_testing_criteria_results"] == [
        {"testing_criteria": parsed[0]["id"], "passed": 10, "failed": 0},
        {"testing_criteria": parsed[1]["id"], "passed": 5, "failed": 5},
    ]
    [usage] = run["per_model_usage"]
    assert usage["model_name"] == MODEL and usage["invocation_count"] == 10
    assert usage["completion_tokens"] == 80 and usage["total_tokens"] == usage["prompt_tokens"] + 80
    written = output_items(ctx, run_id)
    assert [i["datasource_item_id"] for i in written] == list(range(10)) and engine.submits == 10
    first = written[0]
    assert first["datasource_item"] == {"word": "one", "parity": "even"} and first["status"] == "pass"
    assert first["sample"]["input"] == [{"role": "user", "content": "say one"}]
    assert first["sample"]["output"][0]["role"] == "assistant" and first["sample"]["output"][0]["content"]
    assert (first["sample"]["finish_reason"], first["sample"]["max_completion_tokens"]) == ("length", 8)
    assert [r["name"] for r in first["results"]] == ["answered", "is_even"]
    assert written[1]["status"] == "fail" and written[1]["results"][1]["passed"] is False
    assert not worker.run_once()  # nothing left to claim


def test_the_same_greedy_prompt_gives_what_chat_completions_gives(ctx: AppContext) -> None:
    """One chat renderer: the eval's sample is the text /v1/chat/completions answers for the same prompt."""
    from openrft.inference.chat import chat_completion

    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(2))
    EvalWorker(ctx, get_engine).run_once()
    body = {"model": MODEL, "messages": [{"role": "user", "content": "say two"}], "temperature": 0,
            "max_completion_tokens": 8}  # fmt: skip
    chat = chat_completion(ctx, DEFAULT_PROJECT_ID, body)
    assert output_items(ctx, run_id)[1]["sample"]["output"][0]["content"] == chat["choices"][0]["message"]["content"]


def test_a_jsonl_run_grades_the_supplied_samples(ctx: AppContext) -> None:
    echo = {"type": "string_check", "name": "echo", "input": "{{sample.output_text}}", "reference": "{{item.word}}",
            "operation": "eq"}  # fmt: skip
    eval_id, parsed = add_eval(ctx, [echo])
    usage = {"prompt_tokens": 3, "completion_tokens": 1}
    rows = [
        {"item": {"word": "one"}, "sample": {"output_text": "one", "model": "gpt-x", "usage": usage}},
        {"item": {"word": "two"}, "sample": {"output_text": "three"}},
        {"item": {"word": "four"}, "sample": {"choices": [{"message": {"role": "assistant", "content": "four"}}]}},
    ]
    run_id = add_run(ctx, eval_id, {"type": "jsonl", "source": {"type": "file_content", "content": rows}})
    assert EvalWorker(ctx, lambda: pytest.fail("a jsonl run needs no engine")).run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "completed"
    assert run["result_counts"] == {"total": 3, "passed": 2, "failed": 1, "errored": 0}
    assert run["per_testing_criteria_results"] == [{"testing_criteria": parsed[0]["id"], "passed": 2, "failed": 1}]
    assert run["per_model_usage"] == [
        {"model_name": "gpt-x", "invocation_count": 1, "prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4,
         "cached_tokens": 0}
    ]  # fmt: skip
    assert [i["status"] for i in output_items(ctx, run_id)] == ["pass", "fail", "pass"]
    assert output_items(ctx, run_id)[2]["sample"]["output"] == [{"role": "assistant", "content": "four"}]


def test_an_item_whose_prompt_cannot_be_built_is_errored_and_the_run_goes_on(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    source = completions_source(3)
    source["source"]["content"][1] = {"item": {"parity": "odd"}}  # no {{item.word}} for the template
    run_id = add_run(ctx, eval_id, source)
    EvalWorker(ctx, get_engine).run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "completed"
    assert run["result_counts"] == {"total": 3, "passed": 2, "failed": 0, "errored": 1}
    bad = output_items(ctx, run_id)[1]
    assert bad["sample"]["error"]["code"] == "invalid_variable_error" and bad["results"] == []
    assert run["per_model_usage"][0]["invocation_count"] == 2


def test_a_cancel_stops_the_run_within_one_batch(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(20))

    def cancel_during_second_batch(n: int) -> None:
        if n == 3:  # the first sequence of batch 2 (batches of 2)
            set_control(ctx, run_id, "cancel")

    engine = CountingEngine(get_engine(), cancel_during_second_batch)
    EvalWorker(ctx, lambda: engine, batch_items=2).run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "canceled" and run["finished_at"] and run["control"] is None
    written = len(output_items(ctx, run_id))
    assert written in (2, 4) and run["result_counts"]["total"] == written  # batch 1, maybe batch 2; no more
    assert engine.submits == 4


def test_a_cancel_during_generation_cancels_the_sequences(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(3))
    engine = HangingEngine(get_engine())
    worker = EvalWorker(ctx, lambda: engine)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    wait_for(lambda: engine.submits == 3)
    set_control(ctx, run_id, "cancel")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert all(h.cancelled.is_set() for h in engine.handles)
    assert run_row(ctx, run_id)["status"] == "canceled" and output_items(ctx, run_id) == []


def test_a_stopping_runner_puts_its_run_back_in_the_queue(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(3))
    engine = HangingEngine(get_engine())
    worker = EvalWorker(ctx, lambda: engine)
    worker.start_background()
    wait_for(lambda: engine.submits == 3)
    worker.stop()
    run = run_row(ctx, run_id)
    assert (run["status"], run["attempts"], run["lease_owner"]) == ("queued", 0, None)
    assert all(h.cancelled.is_set() for h in engine.handles)


def test_a_run_left_by_a_dead_runner_resumes_without_duplicates(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    run_id = add_run(
        ctx,
        eval_id,
        completions_source(10),
        status="in_progress",
        lease_owner="dead-runner",
        lease_expires_at=time.time() - 1,
        attempts=1,
        started_at=now_s() - 60,
    )
    dead = records.build_sample(messages=[], text="from the dead runner", model=MODEL, prompt_tokens=5,
                                completion_tokens=8)  # fmt: skip
    with ctx.store.begin() as conn:  # what the dead runner wrote: its first batch
        records.insert_output_items(
            conn,
            run_id=run_id,
            eval_id=eval_id,
            items=[records.OutputItem(k, items(10)[k]["item"], [], dead, False) for k in range(3)],
        )
    engine = CountingEngine(get_engine())
    EvalWorker(ctx, lambda: engine, batch_items=4).run_once()
    run = run_row(ctx, run_id)
    assert (run["status"], run["attempts"]) == ("completed", 2)
    assert run["started_at"] < now_s() - 30  # the first attempt's start is kept
    written = output_items(ctx, run_id)
    assert [i["datasource_item_id"] for i in written] == list(range(10)) and engine.submits == 7
    assert all(i["sample"]["output"][0]["content"] == "from the dead runner" for i in written[:3])
    assert run["result_counts"]["total"] == 10 and run["per_model_usage"][0]["invocation_count"] == 10


def test_a_run_past_its_attempts_fails(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    attempts = ctx.settings.max_attempts
    run_id = add_run(ctx, eval_id, completions_source(2), status="in_progress", lease_owner="dead",
                     lease_expires_at=time.time() - 1, attempts=attempts)  # fmt: skip
    assert EvalWorker(ctx, get_engine).claim() is None
    run = run_row(ctx, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "max_attempts_exceeded"


def test_a_run_whose_model_was_deleted_fails(ctx: AppContext, tiny_dirs: tuple[Path, Path]) -> None:
    fine_tuned = "ft:tiny-llama:proj_default:gone:ftjob-gone"
    with ctx.store.begin() as conn:
        register_adapter(conn, model_id=fine_tuned, project_id=DEFAULT_PROJECT_ID, kind="fine_tuned",
                         base_model=MODEL, path=tiny_dirs[1], job_id="ftjob-gone")  # fmt: skip
    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(3, model=fine_tuned))
    delete_model(ctx.store, DEFAULT_PROJECT_ID, fine_tuned)
    EvalWorker(ctx, get_engine).run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "model_not_found"
    assert fine_tuned in run["error"]["message"] and output_items(ctx, run_id) == []


def test_a_run_whose_reward_function_is_gone_fails(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx, [{"type": "lambda", "name": "reward", "lambda": {"function": "deleted-reward"}}])
    rows = [{"item": {"word": "one"}, "sample": {"output_text": "one"}}]
    run_id = add_run(ctx, eval_id, {"type": "jsonl", "source": {"type": "file_content", "content": rows}})
    EvalWorker(ctx, get_engine).run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "grader_unavailable"
    assert "deleted-reward" in run["error"]["message"] and "testing_criteria[0]" in run["error"]["message"]


def test_a_run_whose_file_is_gone_fails(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, {"type": "jsonl", "source": {"type": "file_id", "id": "file-gone"}})
    EvalWorker(ctx, get_engine).run_once()
    run = run_row(ctx, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "data_source_unavailable"
    assert "file-gone" in run["error"]["message"]


def test_a_cancel_before_any_runner_claimed_it_settles_at_claim(ctx: AppContext) -> None:
    eval_id, _ = add_eval(ctx)
    run_id = add_run(ctx, eval_id, completions_source(2), control="cancel")
    assert EvalWorker(ctx, get_engine).claim() is None
    assert run_row(ctx, run_id)["status"] == "canceled"


def jsonl_source(n: int) -> dict[str, Any]:
    rows = [{"item": {"word": WORDS[k]}, "sample": {"output_text": WORDS[k]}} for k in range(n)]
    return {"type": "jsonl", "source": {"type": "file_content", "content": rows}}


ECHO = {"type": "string_check", "name": "echo", "input": "{{sample.output_text}}", "reference": "{{item.word}}",
        "operation": "eq"}  # fmt: skip


def test_the_server_runs_eval_runs_beside_its_job_worker(settings: Settings) -> None:
    from openrft.api.server import start_in_thread

    server = start_in_thread(settings, embedded_worker=True)
    try:
        ctx = server.server.config.app.state.ctx
        eval_id, _ = add_eval(ctx, [ECHO])
        run_id = add_run(ctx, eval_id, jsonl_source(3))
        wait_for(lambda: run_row(ctx, run_id)["status"] == "completed")
        assert run_row(ctx, run_id)["result_counts"]["passed"] == 3
    finally:
        server.stop(timeout_s=10)


def test_openrft_worker_runs_eval_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    home = tmp_path / "home"
    ctx = build_context(Settings(home=home))
    eval_id, _ = add_eval(ctx, [ECHO])
    run_id = add_run(ctx, eval_id, jsonl_source(2))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENRFT_")}
    environ.update(OPENRFT_HOME=str(home), OPENRFT_POLL_S="0.2")
    openrft = Path(sys.executable).with_name("openrft")
    process = subprocess.Popen([str(openrft), "worker"], env=environ, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: process.poll() is None and run_row(ctx, run_id)["status"] == "completed")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        ctx.store.dispose()
    assert process.returncode == 0, stderr
    assert "eval runner" in stderr and "stopped" in stderr


def test_through_the_sdk_a_run_on_the_served_model_completes_and_its_items_read_back(
    settings: Settings, tiny_dirs: tuple[Path, Path]
) -> None:
    """What a user does: client.evals.create, runs.create on a served model, poll, read the output items."""
    from openrft.api.server import start_in_thread
    from tests.conftest import ADMIN_KEY

    server = start_in_thread(settings, embedded_worker=True)
    try:
        ctx = server.server.config.app.state.ctx
        add_base_model(ctx.store, settings, MODEL, tiny_dirs[0])
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=ADMIN_KEY, max_retries=0, timeout=60)
        schema_ = {"type": "object", "properties": {"word": {"type": "string"}, "parity": {"type": "string"}}}
        ev = client.evals.create(
            name="tiny", data_source_config={"type": "custom", "item_schema": schema_}, testing_criteria=CRITERIA
        )
        source = completions_source(5)
        run = client.evals.runs.create(ev.id, data_source=source, name="tiny run")
        assert run.status == "queued"
        wait_for(lambda: client.evals.runs.retrieve(run.id, eval_id=ev.id).status == "completed")
        done = client.evals.runs.retrieve(run.id, eval_id=ev.id)
        assert (done.result_counts.total, done.result_counts.passed, done.result_counts.failed) == (5, 3, 2)
        assert done.per_model_usage and done.per_model_usage[0].invocation_count == 5
        passed = client.evals.runs.output_items.list(run.id, eval_id=ev.id, status="pass").data
        assert sorted(i.datasource_item_id for i in passed) == [0, 2, 4]
        one = client.evals.runs.output_items.retrieve(passed[0].id, eval_id=ev.id, run_id=run.id)
        assert one.sample.output[0].content and one.sample.usage.completion_tokens == 8
    finally:
        server.stop(timeout_s=10)
