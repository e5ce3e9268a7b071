"""Slow: the real SmolLM2-135M-Instruct learns a trivially learnable task on CPU within a few steps.

Task: "What is a + b? Reply with the number only." for a fixed pool of 4 questions, reward 1 when the
completion contains the sum (string_check `like`). The base model gets ~10-20% of sampled completions
right; after a short job with a high learning rate the train reward of the last steps is clearly above
that of the first steps. Both numbers are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training.run import run_job
from tests.training.conftest import JobFactory

QUESTIONS = [(3, 4), (2, 5), (6, 2), (4, 4)]


def _rows() -> bytes:
    return b"".join(
        json.dumps(
            {
                "messages": [{"role": "user", "content": f"What is {a} + {b}? Reply with the number only."}],
                "answer": str(a + b),
            }
        ).encode()
        + b"\n"
        for a, b in QUESTIONS
    )


@pytest.mark.slow
@pytest.mark.real_model
def test_smollm2_reward_rises(settings: Settings, store: Store) -> None:
    from openrft.inference.registry import ensure_base_model

    # OPENRFT_TEST_SMOLLM2 = an already converted folder (skips the one-time ~30 s GGUF conversion)
    folder = os.environ.get("OPENRFT_TEST_SMOLLM2")
    base = Path(folder) if folder else ensure_base_model(settings)
    factory = JobFactory(settings, store, base)
    hp = {
        "n_epochs": 6,
        "batch_size": 4,
        "samples_per_prompt": 8,
        "max_completion_tokens": 16,
        "learning_rate_multiplier": 10.0,
        "eval_interval": 100,
        "eval_samples": 4,
        "lora_rank": 16,
    }
    grader = {
        "type": "string_check",
        "name": "sum",
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.answer }}",
        "operation": "like",
    }
    handle = factory(hp, grader=grader, training_content=_rows(), n_valid=0, seed=1)
    assert run_job(handle, settings, store) == "succeeded"
    with store.begin() as conn:
        events = conn.execute(
            sa.select(schema.job_events.c.data)
            .where(schema.job_events.c.job_id == handle.job_id, schema.job_events.c.type == "metrics")
            .order_by(schema.job_events.c.seq)
        ).all()
    rewards = [e.data["scores"]["train_reward_mean"] for e in events]
    first, last = sum(rewards[:2]) / 2, sum(rewards[-2:]) / 2
    print(f"\ntrain reward per step: {[round(r, 2) for r in rewards]}; first 2 steps {first:.2f}, last 2 {last:.2f}")
    print(f"seconds per step: {[round(e.data['timing']['step']['full_iteration'], 1) for e in events]}")
    assert last > first + 0.2
