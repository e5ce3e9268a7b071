"""A job's samples page in a real browser: the rewards shown are the API's, step by step."""

from __future__ import annotations

import re
from typing import Any

import httpx

from openrft.jobstate import insert_event
from openrft.store.db import Store
from tests.browser.conftest import Console
from tests.e2e.conftest import TINY_BASE, wait_for


def api_samples(client: Any, job_id: str, step: int) -> list[dict[str, Any]]:
    page = client.get(
        f"/fine_tuning/jobs/{job_id}/samples", cast_to=httpx.Response, options={"params": {"step": step, "limit": 100}}
    ).json()
    return list(page["data"])


def shown(page: Any) -> dict[str, list[float]]:
    """sample id -> the rewards the page shows for its completions, in the order shown."""
    return dict(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('section.group'), g => [g.dataset.sampleId,
                 Array.from(g.querySelectorAll('.completion .reward'), r => Number(r.textContent))])"""
        )
    )


def test_a_steps_samples_show_the_apis_rewards(console: Console) -> None:
    flow = console.flow
    project = flow.project("samples")
    client = flow.client(project)
    job = flow.create_job(client, flow.deploy_reward(project), model=TINY_BASE, n_train=8, samples_per_prompt=3)
    wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=180, what="the job to succeed")
    console.sign_in(project.secret)
    page: Any = console.page
    page.wait_for_url(re.compile(r"/jobs$"))

    console.goto(f"/jobs/{job.id}")
    page.get_by_role("link", name="Samples per step").click()
    page.wait_for_url(re.compile(f"/jobs/{job.id}/samples$"))
    assert page.locator("#step-select").input_value() == "4"  # the newest stored step first

    page.get_by_label("Step", exact=True).select_option("2")
    page.wait_for_url(re.compile(r"\?step=2$"))
    page.wait_for_function("() => document.querySelector('#samples-status').textContent.startsWith('Step 2:')")
    expected = api_samples(client, job.id, 2)
    got = shown(page)
    assert set(got) == {s["id"] for s in expected}
    for sample in expected:
        want = [c["reward"] for c in sample["completions"]]
        assert len(got[sample["id"]]) == 3 and got[sample["id"]] == [round(r, 3) for r in want]
    assert page.locator("#reward-histogram canvas").count() == 1
    console.shot("step-2")

    page.get_by_label("Order completions by").select_option("-reward")
    for rewards in shown(page).values():
        assert rewards == sorted(rewards, reverse=True)
    page.get_by_label("Reward from").fill("0.5")
    assert all(r >= 0.5 for rewards in shown(page).values() for r in rewards)
    console.shot("step-2-filtered")

    page.get_by_role("button", name="Previous stored step").click()
    page.wait_for_function("() => document.querySelector('#samples-status').textContent.startsWith('Step 1:')")
    assert page.url.endswith("?step=1")
    assert set(shown(page)) <= {s["id"] for s in api_samples(client, job.id, 1)}
    console.shot("step-1")


def test_a_warning_on_the_curves_opens_its_evidence_and_its_samples(console: Console) -> None:
    flow = console.flow
    project = flow.project("warned")
    client = flow.client(project)
    job = flow.create_job(client, flow.deploy_reward(project), model=TINY_BASE, n_train=8)
    wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=180, what="the job to succeed")
    [top, *_] = api_samples(client, job.id, 3)
    store = Store.from_settings(flow.settings)  # a warning as training/watch.py report() writes it
    with store.begin() as conn:
        insert_event(
            conn,
            job.id,
            "Reward hacking signal length_drift: the response length rose 40% while the reward rose 0.30.",
            level="warn",
            data={
                "signal": "length_drift",
                "step": 3,
                "values": {"step": 3, "length_change": 0.4, "reward_change": 0.3},
                "fix": "Cap the completion length or penalize length in the reward.",
                "sample_ids": [top["id"]],
            },
        )
    store.dispose()
    console.sign_in(project.secret)
    page: Any = console.page
    page.wait_for_url(re.compile(r"/jobs$"))
    console.goto(f"/jobs/{job.id}")
    flag = page.locator("#chart-reward").get_by_role("button", name=re.compile("length drift"))
    flag.wait_for()
    assert page.locator("#warnings-count").inner_text() == "1"
    console.shot("warning-on-the-curves")
    flag.click()
    dialog = page.get_by_role("dialog")
    assert (
        "Warning at step 3: length drift" in dialog.inner_text() and "Cap the completion length" in dialog.inner_text()
    )
    assert "0.4" in dialog.locator("#evidence-values").inner_text()
    console.shot("warning-evidence")
    dialog.get_by_role("link", name=re.compile(top["id"])).click()
    page.wait_for_url(re.compile(r"/samples\?step=3#sample-"))
    page.wait_for_function("() => document.querySelector('#samples-status').textContent.startsWith('Step 3:')")
    assert page.locator(f"#sample-{top['id']}.highlight").is_visible()
    console.shot("warning-samples")
