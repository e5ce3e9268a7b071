"""Supervised and DPO jobs through the openai SDK against a real server with its embedded worker: train,
serve, chain (SFT -> DPO, SFT -> RFT), pause/resume, and a trainer killed with SIGKILL that resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from typing import Any

import openai
import pytest

from tests.e2e.conftest import TINY_BASE, Flow, events, trainer_pids, wait_for, wait_trainer_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the worker's launcher needs Linux")

JOB_TIMEOUT_S = 180.0
PROMPTS = ["say hello", "the quick fox", "one two three", "how are you", "hello world", "the lazy dog"]
# LoRA shape of RFT's e2e settings, so an RFT job can chain on these models.
SFT_HP: dict[str, Any] = {"n_epochs": 2, "batch_size": 2, "lora_rank": 2, "lora_alpha": 4, "eval_interval": 2}


def sft_jsonl(n: int) -> bytes:
    rows = [
        {"messages": [{"role": "user", "content": PROMPTS[i % 6]}, {"role": "assistant", "content": "hello world"}]}
        for i in range(n)
    ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def dpo_jsonl(n: int) -> bytes:
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": PROMPTS[i % 6]}]},
            "preferred_output": [{"role": "assistant", "content": "hello world"}],
            "non_preferred_output": [{"role": "assistant", "content": "the lazy dog"}],
        }
        for i in range(n)
    ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def start(
    client: openai.OpenAI, kind: str, data: bytes, valid: bytes | None, *, model: str = TINY_BASE, **hp: Any
) -> Any:
    train = client.files.create(file=("train.jsonl", data), purpose="fine-tune").id
    valid_id = client.files.create(file=("valid.jsonl", valid), purpose="fine-tune").id if valid else None
    method: Any = {"type": kind, kind: {"hyperparameters": SFT_HP | hp}}
    return client.fine_tuning.jobs.create(
        model=model, training_file=train, validation_file=valid_id, suffix="e2e", seed=3, method=method
    )


def metrics(client: openai.OpenAI, job_id: str) -> list[dict[str, Any]]:
    return [e.data for e in events(client, job_id) if e.type == "metrics"]


def succeeded(client: openai.OpenAI, job_id: str) -> Any:
    return wait_for(client, job_id, lambda j: j.status == "succeeded", timeout_s=JOB_TIMEOUT_S, what="success")


def test_supervised_dpo_and_rft_chained_on_sft(flow: Flow) -> None:
    project = flow.project("sft")
    client = flow.client(project)

    # 1. Supervised: succeeded, OpenAI's metrics, a servable ft: model.
    job = start(client, "supervised", sft_jsonl(6), sft_jsonl(2))
    job = succeeded(client, job.id)
    assert job.method.type == "supervised" and job.fine_tuned_model.startswith(f"ft:{TINY_BASE}:")
    hp = job.method.supervised.hyperparameters
    assert (hp.n_epochs, hp.batch_size) == (2, 2) and hp.learning_rate_multiplier == 1.0
    steps = metrics(client, job.id)
    assert [m["step"] for m in steps] == [1, 2, 3, 4, 5, 6] and steps[0]["total_steps"] == 6
    for key in ("train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy"):
        assert isinstance(steps[-1][key], float), key
    assert "full_valid_loss" in steps[-1] and "full_valid_mean_token_accuracy" in steps[-1]
    ckpts = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert ckpts and all("full_valid_loss" in c.metrics.model_dump() for c in ckpts)
    reply = client.chat.completions.create(
        model=job.fine_tuned_model, messages=[{"role": "user", "content": "say hello"}], max_tokens=4
    )
    assert reply.model == job.fine_tuned_model and reply.choices[0].message.role == "assistant"
    sft_model = job.fine_tuned_model

    # 2. DPO from the base: succeeded, its metrics, servable.
    pref = succeeded(client, start(client, "dpo", dpo_jsonl(4), dpo_jsonl(2), beta=0.2).id)
    assert pref.method.dpo.hyperparameters.beta == 0.2
    last = metrics(client, pref.id)[-1]
    for key in ("train_loss", "train_reward_accuracy", "train_reward_margin", "valid_loss", "full_valid_loss"):
        assert isinstance(last[key], float), key
    client.chat.completions.create(
        model=pref.fine_tuned_model, messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )

    # 3. RFT chained on the supervised model: named on the root base, served.
    deployed = flow.deploy_reward(project)
    rft = flow.create_job(client, deployed, model=sft_model, n_train=4, n_valid=2)
    rft = succeeded(client, rft.id)
    assert rft.fine_tuned_model.startswith(f"ft:{TINY_BASE}:") and rft.fine_tuned_model != sft_model
    assert any(f"training of {TINY_BASE} from {sft_model} at step 0/" in e.message for e in events(client, rft.id))
    client.chat.completions.create(
        model=rft.fine_tuned_model, messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    extras = client.models.retrieve(rft.fine_tuned_model).model_dump()
    if "parent_model" in extras:  # the lineage fields (H2's extension) when present
        assert extras["parent_model"] == sft_model


def test_supervised_pause_resume_and_sigkill(flow: Flow) -> None:
    project = flow.project("sft-control")
    client = flow.client(project)
    # Enough steps (8 rows / 2 x 60 epochs = 240) that the run is still going when we act on it.
    job = start(client, "supervised", sft_jsonl(8), None, n_epochs=60, eval_interval=20)
    wait_for(
        client,
        job.id,
        lambda j: j.status == "running" and bool(list(client.fine_tuning.jobs.checkpoints.list(j.id))),
        timeout_s=JOB_TIMEOUT_S,
        what="a first checkpoint",
    )
    pids = trainer_pids(job.id)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    wait_for(
        client,
        job.id,
        lambda j: any(e.message.startswith("Resuming supervised") for e in events(client, j.id)),
        timeout_s=JOB_TIMEOUT_S,
        what="the resumed attempt",
    )
    assert client.fine_tuning.jobs.pause(job.id).status == "running"
    paused = wait_for(client, job.id, lambda j: j.status == "paused", timeout_s=JOB_TIMEOUT_S, what="paused")
    assert wait_trainer_gone(paused.id) == []
    client.fine_tuning.jobs.resume(job.id)
    job = succeeded(client, job.id)
    messages = [e.message for e in events(client, job.id)]
    assert any(re.match(r"worker attempt 1 failed: exit code -9", m) for m in messages), messages
    resumed = [
        int(x) for m in messages for x in re.findall(r"^Resuming supervised training of .* at step (\d+)/240", m)
    ]
    assert len(resumed) == 2 and resumed[0] >= 20, messages  # after the kill, after the pause
    steps = [m["step"] for m in metrics(client, job.id)]
    assert steps[-1] == 240 and sorted(set(steps)) == list(range(1, 241))
    assert job.fine_tuned_model in {m.id for m in client.models.list()}
