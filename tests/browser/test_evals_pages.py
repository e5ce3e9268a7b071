"""Evals in the browser: a run's page (its report_url) shows the API's pass rates and items; two runs
compared put the items whose outcome changed first."""

from __future__ import annotations

import time
from typing import Any

import openai

from tests.browser.conftest import Console

ITEM_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
}
CRITERIA = [
    {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
     "operation": "eq"},
    {"type": "text_similarity", "name": "close", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
     "evaluation_metric": "fuzzy_match", "pass_threshold": 0.6},
]  # fmt: skip
QUESTIONS = [("1+1?", "2"), ("2+2?", "4"), ("3+3?", "6"), ("10-1?", "nine"), ("5*5?", "25"), ("7+7?", "14")]
# Run A answers items 0 and 2 right (item 3 is only close), run B items 0 to 3: items 1 and 3 change outcome.
ANSWERS_A = ["2", "5", "6", "nin", "20", "13"]
ANSWERS_B = ["2", "4", "6", "nine", "20", "13"]
PASS_RATE = "Items passing every criterion"


def jsonl(answers: list[str]) -> dict[str, Any]:
    rows = [
        {"item": {"question": q, "answer": a}, "sample": {"output_text": out}}
        for (q, a), out in zip(QUESTIONS, answers, strict=True)
    ]
    return {"type": "jsonl", "source": {"type": "file_content", "content": rows}}


def finished(client: openai.OpenAI, eval_id: str, run_id: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while (run := client.evals.runs.retrieve(run_id, eval_id=eval_id)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        time.sleep(0.2)
    assert run.status == "completed", run.error
    return run


def percent(passed: int, total: int) -> str:
    return f"{passed / total:.1%} ({passed}/{total})"


def test_run_page_and_compare(console: Console) -> None:
    project = console.flow.project("evals-ui")
    client = console.flow.client(project)
    ev = client.evals.create(
        name="arithmetic",
        data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True},
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    )
    run_a = client.evals.runs.create(ev.id, name="before", data_source=jsonl(ANSWERS_A))  # type: ignore[arg-type]
    run_b = client.evals.runs.create(ev.id, name="after", data_source=jsonl(ANSWERS_B))  # type: ignore[arg-type]
    run_a, run_b = finished(client, ev.id, run_a.id), finished(client, ev.id, run_b.id)
    console.sign_in(project.secret)
    page: Any = console.page

    console.goto("/evals")
    row = page.get_by_role("row").filter(has_text="arithmetic")
    assert "exact (string_check)" in row.inner_text() and "completed" in row.inner_text()
    console.shot("evals-list")

    page.goto(run_a.report_url)  # the URL the API returns is the run's page
    assert page.url.endswith(f"/evals/{ev.id}/runs/{run_a.id}")
    counts = run_a.result_counts
    assert page.locator("#count-rate").inner_text() == percent(counts.passed, counts.total)
    assert page.locator("#count-failed").inner_text() == str(counts.failed)
    names = {c.id: c.name for c in ev.testing_criteria}  # type: ignore[union-attr]
    for per in run_a.per_testing_criteria_results:
        shown = page.locator(f'#criteria-table tr[data-criterion="{per.testing_criteria}"] td.rate').inner_text()
        assert shown == percent(per.passed, per.passed + per.failed), names[per.testing_criteria]
    page.locator("article.item").first.wait_for()
    assert page.locator("article.item").count() == len(QUESTIONS)
    console.shot("run")
    page.get_by_label("Show").select_option("fail")
    page.locator('#items[data-shown="fail"]').wait_for()
    failed = [int(x) for x in page.locator("article.item").evaluate_all("els => els.map(e => e.dataset.item)")]
    api_failed = [
        i.datasource_item_id for i in client.evals.runs.output_items.list(run_a.id, eval_id=ev.id, status="fail")
    ]
    assert failed == api_failed == [1, 3, 4, 5]
    assert "2+2?" in page.locator('article.item[data-item="1"]').inner_text()
    console.shot("run-failed-items")

    console.goto(f"/evals/{ev.id}")
    assert page.locator("tbody tr").filter(has_text="before").filter(has_text=percent(2, 6)).count() == 1
    console.shot("eval")
    page.get_by_label("Run A (before)").select_option(run_a.id)
    page.get_by_label("Run B (after)").select_option(run_b.id)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(f"**/evals/{ev.id}/compare?a={run_a.id}&b={run_b.id}")
    changed = page.locator("#changed-items tbody tr").evaluate_all("els => els.map(e => Number(e.dataset.item))")
    assert changed == [1, 3]  # pass in B only; the rest kept their outcome
    exact = page.locator('#compare-rates tr[data-criterion="exact"] td').all_inner_texts()
    assert exact[1:3] == [percent(2, 6), percent(4, 6)]
    assert "2 items changed outcome" in page.inner_text("main")
    console.shot("compare")
    page.get_by_text("Show them").click()
    console.shot("compare-unchanged-open")


def test_run_page_updates_live_while_the_run_grades(console: Console) -> None:
    """A slow reward function as the criterion: the page shows the run queued or in progress, then its
    counts and items as they come, without a reload."""
    project = console.flow.project("evals-live")
    client = console.flow.client(project)
    deployed = console.flow.deploy_reward(project, slow_s=1.5)
    ev = client.evals.create(
        name="has an o",
        data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True},
        testing_criteria=[{"type": "lambda", "name": "has_o", "lambda": {"function": deployed.ref}}],  # type: ignore[list-item]
    )
    answers = ["two" if i % 2 else "six" for i in range(40)]  # "two" has an o: 20 pass
    rows = [{"item": {"question": f"q{i}", "answer": "x"}, "sample": {"output_text": a}} for i, a in enumerate(answers)]
    source: Any = {"type": "jsonl", "source": {"type": "file_content", "content": rows}}
    run = client.evals.runs.create(ev.id, name="slow", data_source=source)
    console.sign_in(project.secret)
    page: Any = console.page
    page.goto(run.report_url)
    status = page.locator("#run-status")
    assert status.inner_text() in ("queued", "in_progress")
    assert page.locator("#run-live").is_visible()
    console.shot("run-live")
    status.filter(has_text="completed").wait_for(timeout=90_000)
    done = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert page.locator("#count-rate").inner_text() == percent(done.result_counts.passed, done.result_counts.total)
    assert done.result_counts.total == 40 and page.locator("#count-total").inner_text() == "40"
    assert page.locator("#run-live").is_hidden()
    page.locator("article.item").first.wait_for()
    console.shot("run-live-done")


def test_another_projects_run_gets_the_not_found_page(console: Console) -> None:
    owner = console.flow.client(console.flow.project("evals-owner"))
    ev = owner.evals.create(
        name="private",
        data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True},
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    )
    run = owner.evals.runs.create(ev.id, data_source=jsonl(ANSWERS_A))  # type: ignore[arg-type]
    console.sign_in(console.flow.project("evals-stranger").secret)
    page: Any = console.page
    page.wait_for_url("**/jobs")
    for path in (f"/evals/{ev.id}", f"/evals/{ev.id}/runs/{run.id}", f"/evals/{ev.id}/compare?a={run.id}&b={run.id}"):
        response = page.goto(console.base_url + path)
        assert response.status == 404, path
        assert "Not found" in page.inner_text("main") and "private" not in page.inner_text("main")
    console.shot("other-project-run")
