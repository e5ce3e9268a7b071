"""Expert review in a real browser: rate three completions of a tiny job's step, see the agreement change,
export the ratings."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.browser.conftest import Console
from tests.e2e.conftest import TINY_BASE, wait_for


def figure(page: Any, label: str) -> str:
    return str(page.locator(".figure", has_text=label).locator(".figure-value").inner_text())


def test_rate_three_samples_and_see_the_agreement_change(console: Console) -> None:
    flow = console.flow
    project = flow.project("review")
    client = flow.client(project)
    job = flow.create_job(client, flow.deploy_reward(project), model=TINY_BASE, n_train=8, samples_per_prompt=2)
    wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=180, what="the job to succeed")
    console.sign_in(project.secret)
    page: Any = console.page
    page.wait_for_url(re.compile(r"/jobs$"))

    console.goto("/reviews")
    assert page.locator("#review-root").count() == 0
    console.shot("pick")
    page.get_by_label("A training job").select_option(job.id)
    page.get_by_role("button", name="Review this job").click()
    page.wait_for_url(re.compile(rf"/reviews\?job_id={job.id}$"))
    page.wait_for_function("() => document.querySelector('#agreement-figures').textContent.includes('No ratings yet')")
    # The rewards stay hidden while rating: nothing on the page names them.
    rate_text = page.locator("section.rate").inner_text()
    assert "reward" not in rate_text.lower().replace("reward function", "")
    console.shot("queue")

    samples = client.get(
        f"/fine_tuning/jobs/{job.id}/samples", cast_to=httpx.Response, options={"params": {"step": 4}}
    ).json()["data"]
    rewards = [c["reward"] for s in samples for c in s["completions"]]
    completions = page.locator("li.completion")
    assert completions.count() == len(rewards)
    # Rate the first three: the opposite of the reward on the first, the same on the next two.
    verdicts = ["bad" if rewards[0] >= 0.5 else "good"] + ["good" if r >= 0.5 else "bad" for r in rewards[1:3]]
    seen = []
    for i, verdict in enumerate(verdicts):
        item = completions.nth(i)
        item.get_by_role("button", name=verdict.capitalize()).click()
        page.wait_for_function(
            "n => document.querySelector('.figure .figure-note')?.textContent.includes(`of ${n} rated`)", arg=i + 1
        )
        seen.append(figure(page, "Agreement rate"))
        assert item.get_by_role("button", name=verdict.capitalize()).get_attribute("aria-pressed") == "true"
        console.shot(f"rated-{i + 1}")
    # 1 rating, a disagreement: 0%; then 1 of 2 agree: 50%; then 2 of 3: 66.7%.
    assert seen == ["0%", "50%", "66.7%"]
    assert page.locator("#rated-count").inner_text() == "3"
    first_row = page.locator("table.parts tbody tr").first
    assert "Disagree" in first_row.inner_text() and "score" in first_row.inner_text()  # the reward shown there

    report = client.get("/reviews/agreement", cast_to=httpx.Response, options={"params": {"job_id": job.id}}).json()
    assert report["overall"]["n"] == 3 and report["disagreements"] == 1

    # A comment typed after the verdict is saved with it.
    comment = completions.nth(0).get_by_label(re.compile("Comment on completion 1"))
    comment.fill("misses the point")
    comment.press("Tab")
    page.wait_for_function("() => document.querySelector('.comment-shown')?.textContent.includes('misses the point')")
    page.evaluate("() => window.scrollTo(0, 0)")  # the agreement panel is sticky: shoot it in its place
    console.shot("agreement")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export ratings (JSONL)").click()
    download = download_info.value
    lines = [json.loads(line) for line in open(download.path()).read().splitlines()]  # noqa: SIM115
    assert download.suggested_filename == f"ratings-{job.id}.jsonl" and len(lines) == 3
    assert {line["rating"] for line in lines} <= {"good", "bad"} and lines[0]["completion"] is not None
    assert any(line["comment"] == "misses the point" for line in lines)

    # Reload: the verdicts are still there.
    page.reload()
    page.wait_for_function("() => document.querySelector('#rated-count').textContent === '3'")
    assert page.locator("li.completion.rated-good, li.completion.rated-bad").count() == 3

    # An eval run's items: the job's validation run of its last evaluation step.
    console.goto("/reviews")
    run_id = page.locator("#pick-run option", has_text="step 4 ").first.get_attribute("value")
    page.get_by_label("An eval run").select_option(run_id)
    page.get_by_role("button", name="Review this run").click()
    page.wait_for_url(re.compile(r"/reviews\?run_id=evalrun_"))
    page.locator("li.completion").first.get_by_role("button", name="Good").click()
    page.wait_for_function("() => document.querySelector('.figure .figure-note')?.textContent.includes('of 1 rated')")
    assert "Per testing criterion" in page.locator("#agreement-figures").inner_text()
    page.evaluate("() => window.scrollTo(0, 0)")
    console.shot("run")


def test_another_projects_job_is_refused(console: Console) -> None:
    flow = console.flow
    owner = flow.project("owner")
    job = flow.create_job(flow.client(owner), flow.deploy_reward(owner), model=TINY_BASE, n_train=4)
    stranger = flow.project("stranger")
    console.sign_in(stranger.secret)
    console.page.wait_for_url(re.compile(r"/jobs$"))  # type: ignore[attr-defined]
    console.goto(f"/reviews?job_id={job.id}")
    assert "Not found" in console.page.inner_text("main")  # type: ignore[attr-defined]
    console.shot("refused")
