"""Reward functions in a real browser: the list, a version's code, an invocation on a sample event, and the
preflight's reward histogram with the share of prompts that give no learning signal."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.browser.conftest import Console
from tests.e2e.conftest import TINY_BASE, rows_jsonl


def test_list_code_invoke_and_preflight(console: Console) -> None:
    flow = console.flow
    project = flow.project("functions")
    deployed = flow.deploy_reward(project)
    client = flow.client(project)
    train = client.files.create(file=("train.jsonl", rows_jsonl(5)), purpose="fine-tune")
    console.sign_in(project.secret)
    page: Any = console.page
    page.wait_for_url(re.compile(r"/jobs$"))

    page.get_by_role("link", name="Reward functions").click()
    page.wait_for_url(re.compile(r"/functions$"))
    row = page.locator("table.functions-table tbody tr").first
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith(deployed.name) and cells[1] == "python3.12"
    assert cells[2].startswith(deployed.version) and cells[3] == deployed.code_sha256
    console.shot("list")

    row.get_by_role("link", name=deployed.name).click()
    page.wait_for_url(re.compile(rf"/functions/{deployed.name}$"))
    assert "def lambda_handler" in page.locator("pre.code").first.inner_text()
    assert page.locator("#code-h").inner_text().startswith(f"Code of version {deployed.version}")
    aliases = page.locator("section[aria-labelledby='aliases-h'] tbody tr").first.inner_text()
    assert "live" in aliases and deployed.code_sha256 in aliases
    console.shot("function")

    # The prefilled event answers "4": no "o" in it, so the reward is 0.
    page.get_by_role("button", name="Invoke").click()
    page.wait_for_selector("#invoke-result table.rewards")
    assert page.locator("#invoke-result table.rewards tbody td").nth(1).inner_text() == "0"
    event = json.loads(page.get_by_label("Event (JSON)").input_value())
    event[0]["messages"][-1]["content"] = "hello"
    page.get_by_label("Event (JSON)").fill(json.dumps(event))
    page.get_by_role("button", name="Invoke").click()
    page.wait_for_function(
        "() => document.querySelector('#invoke-result table.rewards tbody td:nth-child(2)')?.textContent === '1'"
    )
    assert "START RequestId" in page.locator("#invoke-result pre.log").inner_text()
    console.shot("invoked")

    page.get_by_label("Event (JSON)").fill("[{not json")
    page.get_by_role("button", name="Invoke").click()
    assert "not valid JSON" in page.locator("#invoke-result").inner_text()

    page.get_by_label("Training file").select_option(train.id)
    page.get_by_label("Base model").select_option(TINY_BASE)
    page.get_by_label("Samples per prompt").fill("3")
    page.get_by_label("Prompts (first lines)").fill("4")
    page.get_by_label("Max tokens per sample").fill("6")
    page.get_by_role("button", name="Run the preflight").click()
    page.wait_for_function(
        "() => document.querySelector('#preflight-status').textContent.startsWith('Preflight completed')",
        timeout=120_000,
    )
    assert page.locator("#preflight-histogram canvas").count() == 1
    signal = page.locator(".figure", has_text="No learning signal")
    assert re.fullmatch(r"\d+(\.\d)?%", signal.locator(".figure-value").inner_text())
    assert "of 4 prompts" in signal.inner_text()
    assert page.locator("#preflight-prompts tbody tr").count() == 4
    assert "12" in page.locator(".figure", has_text="Scored samples").locator(".figure-value").inner_text()
    console.shot("preflight")


def test_another_projects_function_is_refused(console: Console) -> None:
    flow = console.flow
    flow.deploy_reward(flow.project("owner"))
    stranger = flow.project("stranger")
    console.sign_in(stranger.secret)
    console.page.wait_for_url(re.compile(r"/jobs$"))  # type: ignore[attr-defined]
    console.goto("/functions")
    assert "No reward functions" in console.page.inner_text("main")  # type: ignore[attr-defined]
    console.goto("/functions/has-word")
    assert "Not found" in console.page.inner_text("main")  # type: ignore[attr-defined]
    console.shot("refused")


def test_the_admin_invokes_in_the_project_it_switched_to(console: Console) -> None:
    flow = console.flow
    project = flow.project("team")
    deployed = flow.deploy_reward(project)
    page: Any = console.page  # signed in with the admin key
    console.goto("/functions")
    assert "No reward functions" in page.inner_text("main")  # the admin's own project has none
    page.get_by_label("Project").select_option(project.id)
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(re.compile(r"/functions$"))
    page.get_by_role("link", name=deployed.name).click()
    page.get_by_role("button", name="Invoke").click()
    page.wait_for_selector("#invoke-result table.rewards")  # the Lambda route found the function in that project
    console.shot("admin-invoked")
