"""DPO on the tiny random Llama: pairs, the reference (the starting model), metrics, a learned preference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from openrft.datasets import PreferenceRow
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.training import dpo, trainer
from openrft.training.hparams_supervised import resolve
from openrft.training.run import run_job
from tests.training.conftest import JobFactory
from tests.training.supervised_helpers import SFT_HP, dpo_jsonl, method_job
from tests.training.test_trainer import events


def test_pairs_learn_only_their_outputs(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    row = PreferenceRow(
        line=1,
        messages=[{"role": "user", "content": "say yes"}, {"role": "assistant", "content": "no"},
                  {"role": "user", "content": "please"}],
        tools=None,
        preferred=[{"role": "assistant", "content": "yes"}],
        non_preferred=[{"role": "assistant", "content": "no maybe"}],
        item={},
    )  # fmt: skip
    (pair,), cut = dpo.encode_pairs(tok, [row], max_length=64)
    # <|user|> say yes <eos> <|assistant|> no <eos> <|user|> please <eos> <|assistant|> yes <eos>
    # the prompt's own assistant turn ("no <eos>") is not learned; the output's tokens are.
    assert pair.chosen.mask == [0] * 11 + [1, 1]
    assert tok.convert_ids_to_tokens([t for t, m in zip(pair.rejected.ids, pair.rejected.mask, strict=True) if m]) == [
        "no", "maybe", "<eos>"
    ]  # fmt: skip
    assert cut == 0
    (short,), cut = dpo.encode_pairs(tok, [row], max_length=12)
    assert cut == 2 and len(short.chosen.ids) == 12


def test_reference_is_the_starting_model(tiny_model_dir: Path) -> None:
    hp = resolve("dpo", {"lora_rank": 4, "lora_alpha": 8, "precision": "fp32"}, 4, 0)
    model, tok = trainer.load_policy(tiny_model_dir, hp)
    rows = [PreferenceRow(1, [{"role": "user", "content": "say"}], None, [{"role": "assistant", "content": "yes"}],
                          [{"role": "assistant", "content": "no"}], {})]  # fmt: skip
    pairs, _ = dpo.encode_pairs(tok, rows, 64)
    chosen, rejected = dpo.reference_logps(model, pairs, tok.pad_token_id, 8)
    with torch.no_grad(), model.disable_adapter():  # the base: LoRA starts at B = 0
        base = dpo.sequence_logps(model, [pairs[0].chosen, pairs[0].rejected], tok.pad_token_id)
    torch.testing.assert_close(torch.stack([chosen[0], rejected[0]]), base)


def test_dpo_learns_the_preference(make_job: JobFactory, store: Store, settings: Settings) -> None:
    hp = {**SFT_HP, "n_epochs": 4, "beta": 0.5}
    handle = method_job(make_job, "dpo", hp, dpo_jsonl(8), dpo_jsonl(4))
    assert run_job(handle, settings, store) == "succeeded", handle.row()["error"]
    row = handle.row()
    assert row["method"]["dpo"]["hyperparameters"]["beta"] == 0.5
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert metrics[0]["train_loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1: log 2
    for key in ("train_reward_accuracy", "train_reward_margin", "valid_loss", "valid_reward_accuracy"):
        assert isinstance(metrics[-1][key], float), key
    full = [m for m in metrics if "full_valid_loss" in m]
    assert full[-1]["full_valid_loss"] < 0.69 and full[-1]["full_valid_reward_accuracy"] == 1.0
    assert full[-1]["full_valid_reward_margin"] > 0
    assert row["fine_tuned_model"] and handle.checkpoints()


def test_beta_auto_is_pinned(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = method_job(make_job, "dpo", {**SFT_HP, "n_epochs": 1, "beta": "auto"}, dpo_jsonl(2))
    assert run_job(handle, settings, store) == "succeeded"
    assert handle.row()["method"]["dpo"]["hyperparameters"]["beta"] == 0.1
    assert json.dumps(handle.row()["method"]).count('"auto"') == 0
