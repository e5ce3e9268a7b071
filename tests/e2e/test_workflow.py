"""The whole user workflow on a tiny random model: deploy a reward, train, serve, stay private.

Also the two ways a run is interrupted: the trainer killed with SIGKILL (the worker re-queues the job and
attempt 2 resumes from the newest checkpoint) and a user's pause followed by resume.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from typing import Any

import botocore.exceptions
import openai
import pytest

from tests.conftest import not_found
from tests.e2e.conftest import TINY_BASE, Flow, events, trainer_pids, wait_for, wait_trainer_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the worker's launcher needs Linux")

JOB_TIMEOUT_S = 120.0


def metrics_events(client: openai.OpenAI, job_id: str) -> list[dict[str, Any]]:
    return [e.data for e in events(client, job_id) if e.type == "metrics"]


def test_workflow_from_reward_function_to_chat(flow: Flow) -> None:
    project = flow.project("e2e")
    client = flow.client(project)
    deployed = flow.deploy_reward(project)
    job = flow.create_job(client, deployed, model=TINY_BASE, n_train=4, n_valid=2)  # 2 steps, eval at 2
    assert job.status == "queued"

    job = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=JOB_TIMEOUT_S, what="success")
    assert job.fine_tuned_model == f"ft:{TINY_BASE}:{project.id}:e2e:{job.id}"
    assert job.trained_tokens and job.trained_tokens > 0 and job.finished_at is not None
    assert job.estimated_finish is None and job.error is None
    hp = job.to_dict(warnings=False)["method"]["reinforcement"]["hyperparameters"]
    assert (hp["batch_size"], hp["samples_per_prompt"], hp["max_completion_tokens"]) == (2, 2, 6)  # pinned

    # Metrics: one event per step, OpenAI's keys plus the function's metrics_list names.
    steps = metrics_events(client, job.id)
    assert [m["step"] for m in steps] == [1, 2] and {m["total_steps"] for m in steps} == {2}
    for m in steps:
        assert 0.0 <= m["scores"]["train_reward_mean"] <= 1.0
        assert {"has_word", "completion_chars"} <= set(m), m.keys()
    assert "valid_reward_mean" in steps[-1]["scores"]

    # Audit: which function version, and exactly which code, produced the rewards.
    audits = [a for e in events(client, job.id) if e.data and "audit" in e.data for a in e.data["audit"]]
    assert audits == [
        {
            "function_name": deployed.name,
            "version": deployed.version,
            "code_sha256": deployed.code_sha256,
            "arn": audits[0]["arn"],
        }
    ]
    assert audits[0]["arn"].endswith(f":function:{deployed.ref}")  # as invoked: through the alias

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in checkpoints] == [2]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-2"

    # The fine-tuned model is listed and answers, whole and streamed.
    assert job.fine_tuned_model in {m.id for m in client.models.list()}
    messages: Any = [{"role": "user", "content": "say hello"}]
    answer = client.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=6, temperature=0)
    assert answer.model == job.fine_tuned_model and answer.choices[0].message.content
    chunks = client.chat.completions.create(
        model=job.fine_tuned_model, messages=messages, max_tokens=6, temperature=0, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == answer.choices[0].message.content
    ckpt_answer = client.chat.completions.create(
        model=checkpoints[0].fine_tuned_model_checkpoint, messages=messages, max_tokens=6, temperature=0
    )
    assert ckpt_answer.choices[0].message.content

    # Another project's key sees none of it.
    stranger = flow.project("stranger")
    other = flow.client(stranger)
    assert other.fine_tuning.jobs.list().data == []
    assert job.fine_tuned_model not in {m.id for m in other.models.list()}
    job_calls = (
        lambda: other.fine_tuning.jobs.retrieve(job.id),
        lambda: other.fine_tuning.jobs.list_events(job.id),
        lambda: other.fine_tuning.jobs.checkpoints.list(job.id),
    )
    for call in job_calls:  # the same answer as for a job that never existed
        not_found(call, code="fine_tune_not_found", param="fine_tuning_job_id", mentions=job.id)
    model_calls = (
        lambda: other.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=2),
        lambda: other.models.retrieve(job.fine_tuned_model),
    )
    for call in model_calls:
        not_found(call, code="model_not_found", param="model", mentions=job.fine_tuned_model)
    assert flow.lam(stranger).list_functions()["Functions"] == []
    with pytest.raises(botocore.exceptions.ClientError):
        flow.lam(stranger).get_function(FunctionName=deployed.name)
    # ... and can't train on it: the fine-tuned model is not a base model, and is not theirs anyway.
    train, _ = flow.upload(other, 2, 1)
    with pytest.raises(openai.BadRequestError) as err:
        other.fine_tuning.jobs.create(
            model=job.fine_tuned_model, training_file=train, method=job.to_dict(warnings=False)["method"]
        )
    assert err.value.body["param"] == "model"  # type: ignore[index]


def test_trainer_killed_mid_run_resumes_from_checkpoint(flow: Flow) -> None:
    project = flow.project("crash")
    client = flow.client(project)
    deployed = flow.deploy_reward(project, slow_s=0.5)  # >= 0.5 s a step: time to kill after a checkpoint
    job = flow.create_job(client, deployed, model=TINY_BASE, n_train=12, n_valid=1, eval_samples=1)  # 6 steps

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

    job = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=JOB_TIMEOUT_S, what="success")
    messages = [e.message for e in events(client, job.id)]
    assert any(re.match(r"worker attempt 1 failed: exit code -9", m) for m in messages), messages
    assert any(m.startswith("Fine-tuning job started (attempt 2") for m in messages), messages
    resumed = [int(x) for m in messages for x in re.findall(r"^Resuming training of .* at step (\d+)/6", m)]
    assert resumed and resumed[0] >= 2, messages
    steps = [m["step"] for m in metrics_events(client, job.id)]
    assert steps[-1] == 6 and sorted(set(steps)) == [1, 2, 3, 4, 5, 6]
    logs = flow.settings.home / "logs"
    assert (logs / f"{job.id}-attempt1.log").is_file() and (logs / f"{job.id}-attempt2.log").is_file()
    assert wait_trainer_gone(job.id) == []
    assert job.fine_tuned_model in {m.id for m in client.models.list()}


def test_pause_then_resume_then_succeed(flow: Flow) -> None:
    project = flow.project("pause")
    client = flow.client(project)
    deployed = flow.deploy_reward(project, slow_s=0.5)  # time to pause before the last step
    job = flow.create_job(client, deployed, model=TINY_BASE, n_train=8, n_valid=1, eval_samples=1, eval_interval=4)

    wait_for(
        client,
        job.id,
        lambda j: bool(metrics_events(client, j.id)),
        timeout_s=JOB_TIMEOUT_S,
        what="a first step",
    )
    assert client.fine_tuning.jobs.pause(job.id).status == "running"  # requested; the trainer acts on it
    paused = wait_for(client, job.id, lambda j: j.status == "paused", timeout_s=JOB_TIMEOUT_S, what="paused")
    assert paused.finished_at is None and wait_trainer_gone(job.id) == []
    paused_at = [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id)]
    assert paused_at and max(paused_at) < 4, paused_at  # the pause wrote its own checkpoint
    time.sleep(0.6)  # a paused job stays paused: the worker (polling every 0.2 s) leaves it
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"

    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    job = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=JOB_TIMEOUT_S, what="success")
    messages = [e.message for e in events(client, job.id)]
    assert f"Resuming training of {TINY_BASE} at step {max(paused_at)}/4" in " ".join(messages), messages
    started = [m for m in messages if m.startswith("Fine-tuning job started")]
    assert len(started) == 2 and all("(attempt 1," in m for m in started), started  # a pause is not a failure
    assert [m["step"] for m in metrics_events(client, job.id)] == [1, 2, 3, 4]  # no step lost or repeated
    assert job.fine_tuned_model and job.error is None
