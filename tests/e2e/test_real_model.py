"""The workflow once on the real bundled model (SmolLM2-135M-Instruct), with the smallest real settings.

Marked `real_model` but not `slow`: the default `make test` runs it. The registry dequantizes the bundled
GGUF on first use (30-60 s on 2 CPU cores); two training steps of 2 prompts x 2 samples x 8 tokens and
one evaluation follow, then the fine-tuned adapter answers a chat completion.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from openrft.inference.registry import DEFAULT_BASE_MODEL
from tests.e2e.conftest import Flow, events, wait_for

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the worker's launcher needs Linux"),
]

REAL_HP: dict[str, Any] = {
    "batch_size": 2,
    "samples_per_prompt": 2,
    "max_completion_tokens": 8,
    "eval_interval": 2,
    "eval_samples": 1,
    "lora_rank": 4,
    "lora_alpha": 8,
}


def test_real_model_trains_and_answers(real_flow: Flow) -> None:
    started = time.monotonic()
    project = real_flow.project("real")
    client = real_flow.client(project)
    deployed = real_flow.deploy_reward(project)
    job = real_flow.create_job(client, deployed, model=DEFAULT_BASE_MODEL, n_train=4, n_valid=1, **REAL_HP)

    job = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=420, what="success")
    trained_s = time.monotonic() - started
    steps = [e.data for e in events(client, job.id) if e.type == "metrics"]
    assert [m["step"] for m in steps] == [1, 2] and steps[-1]["total_steps"] == 2
    assert "valid_reward_mean" in steps[-1]["scores"] and "has_word" in steps[-1]
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id)] == [2]

    assert job.fine_tuned_model in {m.id for m in client.models.list()}
    answer = client.chat.completions.create(
        model=job.fine_tuned_model,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=8,
        temperature=0,
    )
    assert answer.model == job.fine_tuned_model and (answer.choices[0].message.content or "").strip()
    print(f"\nreal-model e2e: trained in {trained_s:.1f} s, total {time.monotonic() - started:.1f} s")
