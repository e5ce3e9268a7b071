"""Contract tests of /v1/preflights: a reward function scored on the tiny base model's samples of a training
file, through httpx against a real server with its embedded eval runner."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.test_lambda_api import needs_sandbox
from tests.e2e.conftest import TINY_BASE, Flow, Project, flow, rows_jsonl, tiny_base_dir  # noqa: F401

pytestmark = needs_sandbox


def http(flow: Flow, project: Project) -> httpx.Client:  # noqa: F811
    return httpx.Client(base_url=flow.v1, headers={"Authorization": f"Bearer {project.secret}"}, timeout=60)


def upload(api: httpx.Client, data: bytes, purpose: str = "fine-tune") -> str:
    created = api.post("/files", files={"file": ("train.jsonl", data)}, data={"purpose": purpose})
    created.raise_for_status()
    return str(created.json()["id"])


def wait_done(api: httpx.Client, preflight_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = api.get(f"/preflights/{preflight_id}").json()
        if body["status"] in ("completed", "failed", "canceled") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_a_preflight_samples_scores_and_summarizes(flow: Flow) -> None:  # noqa: F811
    project = flow.project("pre")
    deployed = flow.deploy_reward(project)
    api = http(flow, project)
    train = upload(api, rows_jsonl(5))
    body = {"function": deployed.ref, "training_file": train, "model": TINY_BASE, "samples_per_prompt": 3,
            "max_prompts": 4, "max_completion_tokens": 6}  # fmt: skip
    created = api.post("/preflights", json=body)
    assert created.status_code == 200, created.text
    pre = created.json()
    assert pre["object"] == "preflight" and pre["id"].startswith("evalrun_") and pre["status"] == "queued"
    assert (pre["prompts"], pre["samples_per_prompt"], pre["total_samples"]) == (4, 3, 12)
    done = wait_done(api, pre["id"])
    assert done["status"] == "completed", done
    summary = done["summary"]
    assert summary["samples"] == 12 and sum(c for _, _, c in summary["histogram"]) == 12
    assert summary["prompts_with_several_samples"] == 4 and 0.0 <= summary["flat_share"] <= 1.0
    flat = [p["flat"] for p in done["per_prompt"]]
    assert summary["flat_prompts"] == sum(flat) and len(done["per_prompt"]) == 4
    # The reward: 1 when the completion holds "o" (tests/e2e/conftest.py REWARD_SOURCE).
    for p in done["per_prompt"]:
        assert p["scores"] == [1.0 if "o" in (t or "") else 0.0 for t in p["completions"]]
        assert p["prompt"][0]["role"] == "user"
    # It is an eval run like any other.
    run = api.get(f"/evals/{done['eval_id']}/runs/{done['id']}").json()
    assert run["result_counts"]["total"] == 12 and done["report_url"].endswith(done["id"])


def test_bad_preflights_are_400s_naming_the_field_and_others_404(flow: Flow) -> None:  # noqa: F811
    project = flow.project("pre")
    deployed = flow.deploy_reward(project)
    api = http(flow, project)
    train = upload(api, rows_jsonl(2))
    evals_file = upload(api, b'{"item": {"a": 1}}\n', purpose="evals")
    good = {"function": deployed.ref, "training_file": train, "model": TINY_BASE}
    cases = [
        ({**good, "samples_per_prompt": 1}, "samples_per_prompt", 400),
        ({**good, "max_prompts": 0}, "max_prompts", 400),
        ({**good, "temperature": 3}, "temperature", 400),
        ({**good, "seed": 1}, "seed", 400),
        ({k: v for k, v in good.items() if k != "model"}, "model", 400),
        ({**good, "model": "no-such-model"}, "model", 400),
        ({**good, "training_file": evals_file}, "training_file", 400),
        ({**good, "training_file": "file-nope"}, "training_file", 404),
        ({**good, "function": "no-such-function"}, "function", 400),
    ]
    for payload, param, status in cases:
        answer = api.post("/preflights", json=payload)
        assert answer.status_code in (status, 404 if param == "function" else status), (payload, answer.text)
        assert answer.json()["error"]["param"] == param, (payload, answer.text)
    created = api.post("/preflights", json=good).json()
    other = http(flow, flow.project("other"))
    assert other.get(f"/preflights/{created['id']}").status_code == 404
    assert api.get("/preflights/evalrun_nope").json()["error"]["param"] == "preflight_id"
    wait_done(api, created["id"])
