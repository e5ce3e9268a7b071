"""Fixtures for trainer tests: a tiny random Llama with an offline word-level tokenizer, and job rows.

The tokenizer is built from a fixed vocabulary (no downloads) and wrapped in PreTrainedTokenizerFast
with a minimal chat template, so the trainer exercises the same code path as with a real model.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from openrft.ids import now_s
from openrft.inference import registry
from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from tests.tiny import build_tiny_llama, save_tiny_llama

SPECIALS = ["<pad>", "<eos>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
WORDS = ["yes", "no", "maybe", "cat", "dog", "red", "blue", "one", "two", "say", "please", "the"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <eos> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
TINY_MODEL_ID = "tiny-llama"
# Reward 1 when the completion contains "yes" (string_check `like` is a case-sensitive substring test).
YES_GRADER = {
    "type": "string_check",
    "name": "says_yes",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "operation": "like",
}


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    vocab = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>", chat_template=CHAT_TEMPLATE
    )
    return save_tiny_llama(folder, build_tiny_llama(fast, context=128, seed=seed, tie_word_embeddings=True), fast)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def rows_jsonl(n: int, prompt: str = "say yes please", answer: str = "yes") -> bytes:
    line = {"messages": [{"role": "user", "content": prompt}], "answer": answer}
    return b"".join(
        json.dumps({**line, "messages": [{"role": "user", "content": f"{prompt} {WORDS[i % 5 + 3]}"}]}).encode() + b"\n"
        for i in range(n)
    )


class JobFactory:
    """Creates a project, files and a leased job row; returns a JobHandle on it."""

    def __init__(self, settings: Settings, store: Store, model_dir: Path):
        self.settings, self.store = settings, store
        self.blobs = BlobStore(settings.blobs_dir)
        self.project_id = "proj_test"
        with store.begin() as conn:
            conn.execute(schema.projects.insert().values(id=self.project_id, name="test", created_at=now_s()))
        registry.add_base_model(store, settings, TINY_MODEL_ID, model_dir)

    def file(self, content: bytes) -> str:
        file_id = f"file-{uuid.uuid4().hex[:12]}"
        self.blobs.put(f"files/{file_id}", content)
        return file_id

    def __call__(
        self,
        hyperparameters: dict[str, Any],
        *,
        n_train: int = 4,
        n_valid: int = 2,
        grader: dict[str, Any] | None = None,
        seed: int = 7,
        training_content: bytes | None = None,
        validation_content: bytes | None = None,
        linked_eval: bool = False,
        guard_graders: list[dict[str, Any]] | None = None,
        penalty_metrics: list[str] | None = None,
    ) -> JobHandle:
        """A leased job row; `linked_eval` (implied by guard_graders) also creates its eval, as the API does."""
        job_id = f"ftjob-{uuid.uuid4().hex[:12]}"
        lease = uuid.uuid4().hex
        extras: dict[str, Any] = {"guard_graders": guard_graders} if guard_graders is not None else {}
        if penalty_metrics is not None:
            extras["penalty_metrics"] = penalty_metrics
        method = {
            "type": "reinforcement",
            "reinforcement": {"grader": grader or YES_GRADER, "hyperparameters": hyperparameters, **extras},
        }
        with self.store.begin() as conn:
            conn.execute(
                schema.jobs.insert().values(
                    id=job_id,
                    project_id=self.project_id,
                    model=TINY_MODEL_ID,
                    training_file=self.file(training_content or rows_jsonl(n_train)),
                    validation_file=self.file(validation_content or rows_jsonl(n_valid)) if n_valid else None,
                    seed=seed,
                    method=method,
                    status="running",
                    result_files=[],
                    created_at=now_s(),
                    lease_owner=lease,
                    lease_expires_at=now_s() + 3600,
                    attempts=1,
                )
            )
            if linked_eval or guard_graders:
                from openrft.evals.records import create_linked_eval

                create_linked_eval(
                    conn,
                    project_id=self.project_id,
                    job_id=job_id,
                    grader=grader or YES_GRADER,
                    guard_graders=guard_graders or [],
                )
        return JobHandle(self.store, job_id, lease)

    def set_control(self, job_id: str, control: str | None) -> None:
        with self.store.begin() as conn:
            conn.execute(schema.jobs.update().where(schema.jobs.c.id == job_id).values(control=control))

    def relet(self, handle: JobHandle) -> JobHandle:
        """A new lease on the same job (what the worker does when it re-queues and claims it again)."""
        lease = uuid.uuid4().hex
        with self.store.begin() as conn:
            conn.execute(
                schema.jobs.update()
                .where(schema.jobs.c.id == handle.job_id)
                .values(lease_owner=lease, status="running", control=None)
            )
        return JobHandle(self.store, handle.job_id, lease)


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store.from_settings(settings)


@pytest.fixture
def make_job(settings: Settings, store: Store, tiny_model_dir: Path) -> Callable[..., JobHandle]:
    return JobFactory(settings, store, tiny_model_dir)


# Small and fast: 2 prompts x 4 samples, 6 completion tokens, LoRA rank 4, a high learning rate.
TINY_HP: dict[str, Any] = {
    "n_epochs": 1,
    "batch_size": 2,
    "samples_per_prompt": 4,
    "max_completion_tokens": 6,
    "eval_interval": 2,
    "eval_samples": 2,
    "lora_rank": 4,
    "lora_alpha": 8,
    "learning_rate_multiplier": 50.0,
}
