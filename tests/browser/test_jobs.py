"""The jobs pages in a real browser: the list and a job's curves update live, pause / resume / cancel from
the page, another project's job is refused."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Console
from tests.e2e.conftest import TINY_BASE, wait_for


def project_job(console: Console, name: str, *, n_train: int, slow_s: float = 0.3, **hp: Any) -> tuple[Any, Any]:
    """A project with a slow reward, the console signed in with its key on /jobs, then a tiny job in it."""
    flow = console.flow
    project = flow.project(name)
    client = flow.client(project)
    deployed = flow.deploy_reward(project, slow_s=slow_s)
    console.sign_in(project.secret)
    console.page.wait_for_url(re.compile(r"/jobs$"))  # type: ignore[attr-defined]
    console.page.evaluate("window.__same_page = true")  # type: ignore[attr-defined]  # gone if the page reloads
    job = flow.create_job(client, deployed, model=TINY_BASE, n_train=n_train, **hp)
    return client, job


def points(console: Console, chart: str = "reward") -> int:
    return int(console.page.get_attribute(f"#chart-{chart}", "data-points") or 0)  # type: ignore[attr-defined]


def test_jobs_list_and_job_curves_update_live(console: Console) -> None:
    client, job = project_job(console, "live", n_train=24)
    page: Any = console.page
    row = page.locator(f'tr[data-job-id="{job.id}"]')
    row.wait_for()  # the new job appears without a reload
    assert page.evaluate("window.__same_page") is True
    page.wait_for_function(
        "id => Number(document.querySelector(`tr[data-job-id='${id}'] canvas.sparkline`).dataset.points || 0) >= 1",
        arg=job.id,
        timeout=60_000,
    )
    assert re.search(r"\d+/12", row.locator('[data-field="progress"]').inner_text())
    console.shot("jobs-list-live")

    row.get_by_role("link", name=job.id).click()
    page.wait_for_url(re.compile(f"/jobs/{job.id}$"))
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    page.wait_for_function(
        "() => Number(document.querySelector('#chart-reward')?.dataset.points || 0) >= 1", timeout=120_000
    )
    first = points(console)
    console.shot("job-first-points")
    page.wait_for_function(
        "n => Number(document.querySelector('#chart-reward').dataset.points) > n", arg=first, timeout=60_000
    )
    assert points(console) > first and page.evaluate("window.__same_page") is True
    for chart in ("entropy", "kl", "length", "grad", "loss", "time", "components"):
        assert points(console, chart) >= 1, chart
    wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=180, what="the job to succeed")
    page.wait_for_function("() => document.querySelector('#job-status').textContent.includes('succeeded')")
    page.wait_for_function("() => Number(document.querySelector('#chart-reward').dataset.points) === 12")
    assert "has-word" in page.locator("#audit-table").inner_text()  # the audit trail names the function
    assert page.locator("#events-table tbody tr").count() >= 3
    assert "learning_rate" in page.locator(".hp-table").inner_text()
    console.shot("job-succeeded")


def test_pause_resume_and_cancel_from_the_page(console: Console) -> None:
    client, job = project_job(console, "control", n_train=60, slow_s=0.5)
    page: Any = console.page
    wait_for(client, job.id, lambda j: j.status == "running", timeout_s=120, what="the job to run")
    console.goto(f"/jobs/{job.id}")
    page.wait_for_function(
        "() => Number(document.querySelector('#chart-reward')?.dataset.points || 0) >= 1", timeout=120_000
    )
    page.get_by_role("button", name="Pause").click()
    dialog = page.get_by_role("dialog")
    assert "checkpoint" in dialog.inner_text()
    console.shot("pause-confirm")
    dialog.get_by_role("button", name="Pause").click()
    wait_for(client, job.id, lambda j: j.status == "paused", timeout_s=120, what="the pause")
    page.wait_for_function("() => document.querySelector('#job-status').textContent.trim() === 'paused'")
    assert (
        page.get_by_role("button", name="Resume").is_enabled()
        and page.get_by_role("button", name="Pause").is_disabled()
    )
    assert page.locator('#hp-body tr[data-hp="learning_rate"]').count() == 1  # resolved, re-read live
    console.shot("paused")

    page.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_role("button", name="Resume").click()
    wait_for(client, job.id, lambda j: j.status in ("queued", "running"), timeout_s=60, what="the resume")
    page.wait_for_function(
        "() => ['queued', 'running'].includes(document.querySelector('#job-status').textContent.trim())"
    )
    console.shot("resumed")

    page.get_by_role("button", name="Cancel job").click()
    page.get_by_role("dialog").get_by_role("button", name="Back").click()  # the dialog's own way out: no
    assert client.fine_tuning.jobs.retrieve(job.id).status != "cancelled"
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel job").click()
    wait_for(client, job.id, lambda j: j.status == "cancelled", timeout_s=120, what="the cancel")
    page.wait_for_function("() => document.querySelector('#job-status').textContent.trim() === 'cancelled'")
    assert page.get_by_role("button", name="Pause").is_disabled()
    console.shot("cancelled")


def test_another_projects_job_gets_the_refusal_page(console: Console) -> None:
    flow = console.flow
    owner = flow.project("owner")
    client = flow.client(owner)
    job = flow.create_job(client, flow.deploy_reward(owner), model=TINY_BASE, n_train=4)
    console.sign_in(flow.project("stranger").secret)
    page: Any = console.page
    page.wait_for_url(re.compile(r"/jobs$"))
    assert page.locator(f'tr[data-job-id="{job.id}"]').count() == 0
    console.shot("stranger-jobs-list")
    for path in (f"/jobs/{job.id}", f"/jobs/{job.id}/samples"):
        response = page.goto(console.base_url + path)
        assert response.status == 404, path
        assert page.get_by_role("heading", name="Not found").is_visible()
        assert job.id in page.get_by_role("alert").inner_text()
    console.shot("refused")
