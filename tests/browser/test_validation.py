"""A job's validation items graded at each evaluation step, side by side, in the browser."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Console
from tests.e2e.conftest import wait_for


def test_validation_items_by_step(console: Console) -> None:
    flow = console.flow
    project = flow.project("validation-ui")
    client = flow.client(project)
    deployed = flow.deploy_reward(project)
    job = flow.create_job(client, deployed, model="tiny-base", n_train=8, n_valid=3, eval_interval=2, eval_samples=2)
    console.sign_in(project.secret)
    page: Any = console.page
    console.goto(f"/jobs/{job.id}/validation")  # opened before any evaluation step: it fills in as they land
    console.shot("validation-waiting")
    page.locator("#validation-table").wait_for(timeout=120_000)
    job = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=240, what="the job to finish")
    eval_id = job.model_extra["eval_id"]
    step_runs = sorted(
        (int(tag), r)
        for r in client.evals.runs.list(eval_id, limit=100)
        if (tag := (r.metadata or {}).get("step")) is not None
    )
    assert len(step_runs) >= 2, [s for s, _ in step_runs]
    page.locator("span.badge").filter(has_text="succeeded").wait_for()  # the last refresh, after the job ended
    headers = page.locator("#validation-table thead th.step").all_inner_texts()
    assert headers == [f"step {s}" for s, _ in step_runs]
    rows = page.locator("#validation-table tbody tr")
    item_ids = {
        i.datasource_item_id for _, r in step_runs for i in client.evals.runs.output_items.list(r.id, eval_id=eval_id)
    }
    assert rows.count() == len(item_ids) == 2  # eval_samples of TINY_HP
    for step, run in step_runs:
        for item in client.evals.runs.output_items.list(run.id, eval_id=eval_id, limit=100):
            reward = next(r for r in item.results if r.name == "reward")
            cell = page.locator(f'#validation-table tr[data-item="{item.datasource_item_id}"] td[data-step="{step}"]')
            assert cell.locator(".score").inner_text() == f"{reward.score:.3f}"
            assert item.status in cell.inner_text()
    console.shot("validation")
    first = rows.first
    first.locator("th summary").click()  # the item's text opens
    assert "user" in first.locator("th").inner_text().lower()
    first.locator("td.grade summary").first.click()  # and a step's answer
    console.shot("validation-open")
    page.get_by_role("link", name=f"step {step_runs[0][0]}", exact=True).click()
    page.wait_for_url(f"**/evals/{eval_id}/runs/{step_runs[0][1].id}")
    page.locator("article.item").first.wait_for()
    console.shot("validation-step-run")
