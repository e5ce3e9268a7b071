"""Slow: a short RFT job on the real SmolLM2-135M-Instruct beats the base model on HELD-OUT questions.

Task, made for a 135M model: "What is a + b? Reply with the number only." for single-digit a, b; reward 1
when the completion states the right sum in the answer format "= N" (string_check `like` on "= {sum}",
the equation form this model answers in). The 81 (a, b) pairs are split into a training split (60) and a
disjoint held-out split (21). Held-out reward, same rule, for the base model (adapter disabled) and the
trained one: the mean over 8 samples per question at the training temperature 1 (the policy RL optimizes;
asserted) and one greedy completion per question. Measured (seed 3, 30 steps, ~3.5 min on 1 loaded
core): sampled 0.12 -> 0.94, greedy 0.71 -> 1.00. Most base samples ramble; greedy it is often right.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training import rollout
from openrft.training.run import run_job
from tests.training.conftest import JobFactory

PROMPT = "What is {a} + {b}? Reply with the number only."
N_HELD_OUT = 21


def _splits() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    pairs = [(a, b) for a in range(1, 10) for b in range(1, 10)]
    random.Random(0).shuffle(pairs)
    return pairs[N_HELD_OUT:], pairs[:N_HELD_OUT]  # train (60), held out (21)


def _jsonl(pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(
        json.dumps({"messages": [{"role": "user", "content": PROMPT.format(a=a, b=b)}], "answer": str(a + b)}).encode()
        + b"\n"
        for a, b in pairs
    )


def held_out_reward(model: torch.nn.Module, tokenizer: object, pairs: list[tuple[int, int]], samples: int) -> float:
    """Mean reward (the job's grader rule) on the held-out questions: `samples` at temperature 1, or greedy (0)."""
    prompts = [
        rollout.render_prompt(tokenizer, [{"role": "user", "content": PROMPT.format(a=a, b=b)}], None)  # type: ignore[arg-type]
        for a, b in pairs
    ]
    torch.manual_seed(0)
    out = rollout.generate(
        model,
        tokenizer,  # type: ignore[arg-type]
        prompts,
        group_size=max(samples, 1),
        completion_budget=16,
        temperature=1.0,
        greedy=samples == 0,
    )
    answers = [f"= {a + b}" for a, b in pairs for _ in range(max(samples, 1))]
    return sum(ans in t for t, ans in zip(out.texts, answers, strict=True)) / len(answers)


@pytest.mark.slow
@pytest.mark.real_model
def test_smollm2_held_out_reward_beats_base(settings: Settings, store: Store) -> None:
    from openrft.inference.registry import ensure_base_model

    folder = os.environ.get("OPENRFT_TEST_SMOLLM2")  # an already converted folder skips the GGUF conversion
    base = Path(folder) if folder else ensure_base_model(settings)
    train_pairs, held_out = _splits()
    factory = JobFactory(settings, store, base)
    hp = {
        "n_epochs": 2,
        "batch_size": 4,
        "samples_per_prompt": 8,
        "max_completion_tokens": 16,
        "learning_rate_multiplier": 10.0,
        "eval_interval": 1000,
        "lora_rank": 16,
    }
    grader = {
        "type": "string_check",
        "name": "states_the_sum",
        "input": "{{ sample.output_text }}",
        "reference": "= {{ item.answer }}",
        "operation": "like",
    }
    t0 = time.perf_counter()
    handle = factory(hp, grader=grader, training_content=_jsonl(train_pairs), n_valid=0, seed=3)
    assert run_job(handle, settings, store) == "succeeded"
    train_s = time.perf_counter() - t0
    with store.begin() as conn:
        events = conn.execute(
            sa.select(schema.job_events.c.data)
            .where(schema.job_events.c.job_id == handle.job_id, schema.job_events.c.type == "metrics")
            .order_by(schema.job_events.c.seq)
        ).all()
    print(f"\ntrain reward per step: {[round(e.data['scores']['train_reward_mean'], 2) for e in events]}")

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), settings.models_dir / "ft" / handle.job_id
    ).eval()
    with model.disable_adapter():
        base_sampled, base_greedy = (held_out_reward(model, tokenizer, held_out, n) for n in (8, 0))
    trained_sampled, trained_greedy = (held_out_reward(model, tokenizer, held_out, n) for n in (8, 0))
    print(
        f"\nheld-out reward ({len(held_out)} questions): sampled (8 per question, T=1) base {base_sampled:.2f}, "
        f"trained {trained_sampled:.2f}; greedy base {base_greedy:.2f}, trained {trained_greedy:.2f}; "
        f"job took {train_s:.0f} s"
    )
    assert trained_sampled >= base_sampled + 0.3
    assert trained_greedy >= base_greedy
