"""Chained starts: a job whose model is an ft: model or checkpoint starts from its adapter (SFT -> DPO,
SFT -> RFT), names and registers its model on the root base with the parent as lineage, and uses the
parent as its reference."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import torch

from openrft.inference import registry
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training import trainer
from openrft.training.hparams_supervised import resolve
from openrft.training.reference import reference_mode
from openrft.training.run import run_job
from tests.training.conftest import TINY_HP, JobFactory, rows_jsonl
from tests.training.supervised_helpers import SFT_HP, dpo_jsonl, method_job, sft_jsonl
from tests.training.test_trainer import events


@pytest.fixture
def parent(make_job: JobFactory, store: Store, settings: Settings) -> str:
    """An SFT model of the test project."""
    handle = method_job(make_job, "supervised", {**SFT_HP, "n_epochs": 2}, sft_jsonl(4))
    assert run_job(handle, settings, store) == "succeeded"
    return str(handle.row()["fine_tuned_model"])


def model_row(store: Store, model_id: str) -> dict:
    with store.begin() as conn:
        return dict(conn.execute(sa.select(schema.models).where(schema.models.c.id == model_id)).mappings().one())


def test_reference_mode_is_the_parent(parent: str, store: Store, settings: Settings) -> None:
    resolved = registry.resolve(store, settings, "proj_test", parent)
    hp = resolve("supervised", {"lora_rank": 4, "lora_alpha": 8, "precision": "fp32"}, 4, 0)
    model, tok = trainer.load_policy(resolved.base_path, hp, resolved.adapter_path)
    ids = torch.tensor([tok.encode("<|user|> say yes <eos> <|assistant|> yes")])
    with torch.no_grad():
        start = model(input_ids=ids).logits
        with model.disable_adapter():
            base = model(input_ids=ids).logits
    assert not torch.allclose(start, base)  # the policy starts from the parent's adapter, not the base
    trained = [p for p in model.parameters() if p.requires_grad]
    assert trained and all(p.dtype == torch.float32 for p in trained)
    with torch.no_grad():
        for p in trained:  # a training step moved the policy
            p.add_(0.05)
        moved = model(input_ids=ids).logits
        with reference_mode(model):
            reference = model(input_ids=ids).logits
    torch.testing.assert_close(reference, start)  # the reference is still the parent
    assert not torch.allclose(moved, start)
    assert [p for p in model.parameters() if p.requires_grad] == trained  # the same adapter trains on


def test_dpo_chained_on_sft(parent: str, make_job: JobFactory, store: Store, settings: Settings) -> None:
    hp = {k: v for k, v in SFT_HP.items() if k not in ("lora_rank", "lora_alpha")}
    handle = method_job(make_job, "dpo", {**hp, "n_epochs": 1}, dpo_jsonl(4), model=parent)
    assert run_job(handle, settings, store) == "succeeded", handle.row()["error"]
    row = handle.row()
    assert row["fine_tuned_model"] == f"ft:tiny-llama:proj_test::{handle.job_id}"  # named on the root base
    pinned = row["method"]["dpo"]["hyperparameters"]
    assert (pinned["lora_rank"], pinned["lora_alpha"]) == (4, 8)  # the parent's adapter shape
    first = events(store, handle.job_id, "metrics")[0].data
    assert first["train_loss"] == pytest.approx(0.6931, abs=1e-4)  # policy == reference == the parent
    for model_id in [row["fine_tuned_model"], *[c["fine_tuned_model_checkpoint"] for c in handle.checkpoints()]]:
        stored = model_row(store, model_id)
        assert (stored["base_model"], stored["parent_model"]) == ("tiny-llama", parent)
    assert registry.resolve(store, settings, "proj_test", row["fine_tuned_model"]).adapter_path is not None
    assert any(f"from {parent}" in e.message for e in events(store, handle.job_id))


def test_rft_chained_on_sft_checkpoint(parent: str, make_job: JobFactory, store: Store, settings: Settings) -> None:
    ckpt = model_row(store, parent)["job_id"]
    with store.begin() as conn:
        ckpt_model = conn.scalar(
            sa.select(schema.checkpoints.c.fine_tuned_model_checkpoint).where(schema.checkpoints.c.job_id == ckpt)
        )
    hp = {k: v for k, v in TINY_HP.items() if k not in ("lora_rank", "lora_alpha")}
    handle = method_job(make_job, "reinforcement", {**hp, "kl_beta": 0.1}, rows_jsonl(4), model=ckpt_model)
    assert run_job(handle, settings, store) == "succeeded", handle.row()["error"]
    row = handle.row()
    assert row["fine_tuned_model"] == f"ft:tiny-llama:proj_test::{handle.job_id}"
    stored = model_row(store, row["fine_tuned_model"])
    assert (stored["base_model"], stored["parent_model"]) == ("tiny-llama", ckpt_model)
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert metrics[0]["actor_kl"] == pytest.approx(0.0, abs=1e-6)  # step 1: policy == reference (the parent)


def test_a_chained_job_cannot_reshape_the_parent(
    parent: str, make_job: JobFactory, store: Store, settings: Settings
) -> None:
    handle = method_job(make_job, "supervised", {**SFT_HP, "lora_rank": 8}, sft_jsonl(2), model=parent)
    assert run_job(handle, settings, store) == "failed"
    error = handle.row()["error"]
    assert error["code"] == "invalid_hyperparameters"
    assert error["param"] == "method.supervised.hyperparameters.lora_rank" and "lora_rank 4" in error["message"]


def test_a_checkpoint_a_queued_job_starts_from_is_not_pruned(
    make_job: JobFactory, store: Store, settings: Settings
) -> None:
    """Pruning keeps the best few checkpoints; one that another job was queued on stays too (the child would
    otherwise fail to start, or the parent's loop on the registry's refusal)."""
    parent_job = method_job(make_job, "supervised", {**SFT_HP, "n_epochs": 6, "eval_interval": 1}, sft_jsonl(4))
    first = f"ft:tiny-llama:proj_test::{parent_job.job_id}:ckpt-step-1"
    child = method_job(make_job, "supervised", SFT_HP, sft_jsonl(2), model=first)
    with store.begin() as conn:  # queued: it has not started from its model yet
        conn.execute(schema.jobs.update().where(schema.jobs.c.id == child.job_id).values(status="queued"))
    assert run_job(parent_job, settings, store) == "succeeded", parent_job.row()["error"]
    kept = {c["fine_tuned_model_checkpoint"] for c in parent_job.checkpoints()}
    assert first in kept  # kept beside the best three and the newest, while the other steps were pruned
    assert len(kept) <= trainer.KEEP_CHECKPOINTS + 2 < 12  # 12 steps, each evaluated and checkpointed
    assert registry.model_exists(store, "proj_test", first)
