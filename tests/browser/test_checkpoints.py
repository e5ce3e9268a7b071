"""The checkpoints page: the table (kept and pruned), and a checkpoint compared with the base model on the
validation set as two runs of the job's linked eval."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Console
from tests.e2e.conftest import wait_for


def test_checkpoints_table_and_compare_with_the_base_model(console: Console) -> None:
    flow, page = console.flow, console.page
    project = flow.project("checkpoints")
    client = flow.client(project)
    deployed = flow.deploy_reward(project)
    # 6 steps, an evaluation (and a checkpoint) at each: the trainer keeps the 3 best and the newest
    job = flow.create_job(client, deployed, model="tiny-base", n_train=12, eval_interval=1)
    page.context.clear_cookies()  # type: ignore[attr-defined]
    console.sign_in(project.secret)
    console.goto(f"/jobs/{job.id}/checkpoints")  # while the job runs: the table fills in without a reload
    page.wait_for_function("document.querySelector('#live')")  # type: ignore[attr-defined]
    console.shot("while-training")
    wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=300, what="the job to finish")
    kept = {c.step_number: c for c in client.fine_tuning.jobs.checkpoints.list(job.id, limit=100)}
    page.locator("#job-status", has_text="succeeded").wait_for(timeout=10_000)  # type: ignore[attr-defined]
    rows = page.locator("#checkpoints tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 6
    shown: dict[int, Any] = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        shown[int(cells[0])] = cells
    assert sorted(shown) == [1, 2, 3, 4, 5, 6]
    for step, cells in shown.items():
        if step in kept:
            assert cells[1].startswith(kept[step].fine_tuned_model_checkpoint)
            assert cells[2] == "kept"
            extra = kept[step].metrics.model_extra or {}  # openrft's checkpoint metrics: not in the SDK's type
            assert cells[3] == f"{extra['valid_reward_mean']:.3f}"
        else:
            assert cells[2] == "pruned"
        assert re.match(r"\d+% \(\d+/2\)", cells[5]), cells[5]  # the step's linked-eval run over 2 validation rows
    assert len(shown) - len(kept) in (2, 3)  # the 3 best and the newest (often one of them) stay
    console.shot("checkpoints")

    # compare: A is the base model, B the best checkpoint, by default
    assert page.get_by_label("Model A").input_value() == "tiny-base"  # type: ignore[attr-defined]
    best = page.get_by_label("Model B").input_value()  # type: ignore[attr-defined]
    assert best in {c.fine_tuned_model_checkpoint for c in kept.values()}
    page.get_by_role("button", name="Run both on the validation set").click()  # type: ignore[attr-defined]
    link = page.get_by_role("link", name="Compare item by item")  # type: ignore[attr-defined]
    link.wait_for(timeout=120_000)
    eval_id = job.model_extra["eval_id"]
    runs = [r for r in client.evals.runs.list(eval_id, limit=100) if r.name.startswith("compare:")]
    assert len(runs) == 2 and all(r.status == "completed" for r in runs)
    by_model = {r.model: r for r in runs}
    assert set(by_model) == {"tiny-base", best}
    for side, model in (("#side-a", "tiny-base"), ("#side-b", best)):
        counts = by_model[model].result_counts
        text = page.locator(side).inner_text()  # type: ignore[attr-defined]
        assert f"{round(100 * counts.passed / counts.total)}%" in text
        assert f"{counts.passed} of {counts.total} passed" in text
        assert "completed" in text
    href = link.get_attribute("href")
    assert href == f"/evals/{eval_id}/compare?a={by_model['tiny-base'].id}&b={by_model[best].id}"
    console.shot("compared")
    link.click()  # the evals pages' compare view of the two runs
    page.wait_for_url(f"**/evals/{eval_id}/compare?*")  # type: ignore[attr-defined]
    console.shot("eval-compare")
    assert "Changed" in page.inner_text("main") or "changed" in page.inner_text("main")  # type: ignore[attr-defined]
    # the runs stay listed on the page
    console.goto(f"/jobs/{job.id}/checkpoints")
    earlier = page.locator("#earlier tbody tr")  # type: ignore[attr-defined]
    assert earlier.count() == 1  # the two runs of one comparison, side by side
    assert earlier.get_by_role("link", name="Compare item by item").get_attribute("href") == href
    console.shot("earlier-comparisons")


def test_an_unknown_job_is_the_not_found_page(console: Console) -> None:
    console.goto("/jobs/ftjob-nope/checkpoints")  # another project's job reads the same (jobs service get_row)
    assert "Not found" in console.page.inner_text("main")  # type: ignore[attr-defined]
    console.shot("not-found")
