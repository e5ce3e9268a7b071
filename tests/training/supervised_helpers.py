"""Supervised and DPO job rows for the trainer tests (the same store and tiny model as conftest's JobFactory)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from openrft.ids import now_s
from openrft.jobstate import JobHandle
from openrft.store import schema
from tests.training.conftest import TINY_MODEL_ID, WORDS, JobFactory

# Small and fast: 2 examples per step, LoRA rank 4, a high learning rate.
SFT_HP: dict[str, Any] = {
    "n_epochs": 2,
    "batch_size": 2,
    "eval_interval": 2,
    "lora_rank": 4,
    "lora_alpha": 8,
    "learning_rate_multiplier": 100.0,
    "precision": "fp32",
}


def sft_jsonl(n: int) -> bytes:
    """Conversations of different lengths whose answer is always "yes"."""
    lines = []
    for i in range(n):
        prompt = " ".join(["say"] + [WORDS[(i + k) % 5 + 3] for k in range(1 + i % 4)] + ["please"])
        lines.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "yes"}]})
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def dpo_jsonl(n: int) -> bytes:
    """Preference pairs: "yes" preferred over "no"."""
    lines = []
    for i in range(n):
        prompt = " ".join(["say"] + [WORDS[(i + k) % 5 + 3] for k in range(1 + i % 3)])
        lines.append(
            {
                "input": {"messages": [{"role": "user", "content": prompt}]},
                "preferred_output": [{"role": "assistant", "content": "yes"}],
                "non_preferred_output": [{"role": "assistant", "content": "no"}],
            }
        )
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def method_job(
    factory: JobFactory,
    method: str,
    hyperparameters: dict[str, Any],
    training: bytes,
    validation: bytes | None = None,
    *,
    model: str = TINY_MODEL_ID,
    seed: int = 7,
) -> JobHandle:
    """A leased supervised/dpo/reinforcement job row starting from `model`."""
    job_id = f"ftjob-{uuid.uuid4().hex[:12]}"
    lease = uuid.uuid4().hex
    body: dict[str, Any] = {"hyperparameters": hyperparameters}
    if method == "reinforcement":
        from tests.training.conftest import YES_GRADER

        body["grader"] = YES_GRADER
    with factory.store.begin() as conn:
        conn.execute(
            schema.jobs.insert().values(
                id=job_id,
                project_id=factory.project_id,
                model=model,
                training_file=factory.file(training),
                validation_file=factory.file(validation) if validation else None,
                seed=seed,
                method={"type": method, method: body},
                status="running",
                result_files=[],
                created_at=now_s(),
                lease_owner=lease,
                lease_expires_at=now_s() + 3600,
                attempts=1,
            )
        )
    return JobHandle(factory.store, job_id, lease)
