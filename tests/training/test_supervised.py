"""The supervised (SFT) loop on the tiny random Llama: metrics, checkpoints, control, crash-resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from openrft.inference import registry
from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store.db import Store
from openrft.training.run import run_job
from tests.training.conftest import JobFactory
from tests.training.supervised_helpers import SFT_HP, method_job, sft_jsonl
from tests.training.test_trainer import CrashAt, PauseAfter, adapter, events

REPO = Path(__file__).resolve().parents[2]
SFT_KEYS = ("train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy")


def test_sft_learns_reports_checkpoints_and_registers(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job_sft(make_job, {**SFT_HP, "n_epochs": 4}, n_train=8, n_valid=4)  # 4 x 4 = 16 steps
    assert run_job(handle, settings, store) == "succeeded", handle.row()["error"]
    row = handle.row()
    assert row["fine_tuned_model"] == f"ft:tiny-llama:proj_test::{handle.job_id}"
    hp = row["method"]["supervised"]["hyperparameters"]
    assert hp["batch_size"] == 2 and hp["n_epochs"] == 4 and hp["learning_rate"] == pytest.approx(100 * 1e-4)
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert [m["step"] for m in metrics] == list(range(1, 17)) and metrics[0]["total_steps"] == 16
    for key in SFT_KEYS:
        assert all(isinstance(m[key], float) for m in metrics), key
    full = [m for m in metrics if "full_valid_loss" in m]
    assert [m["step"] for m in full] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert "full_valid_mean_token_accuracy" in full[0]
    # It learns the answer: the loss on the assistant tokens ("yes" + <eos>) falls, accuracy reaches 1.
    assert full[-1]["full_valid_loss"] < full[0]["full_valid_loss"] - 0.2
    assert full[-1]["full_valid_mean_token_accuracy"] == 1.0
    start = next(e for e in events(store, handle.job_id) if e.message.startswith("Starting supervised"))
    assert start.data["padding_fraction"] <= start.data["padding_fraction_unbucketed"]
    # Checkpoints ranked by loss, registered; the final adapter is servable.
    ckpts = handle.checkpoints()
    assert len(ckpts) <= 4 and all(c["metrics"].get("full_valid_loss") is not None for c in ckpts)
    assert registry.resolve(store, settings, "proj_test", ckpts[0]["fine_tuned_model_checkpoint"]).adapter_path
    assert registry.resolve(store, settings, "proj_test", row["fine_tuned_model"]).adapter_path is not None


def make_job_sft(factory: JobFactory, hp: dict, n_train: int, n_valid: int = 0) -> JobHandle:
    return method_job(factory, "supervised", hp, sft_jsonl(n_train), sft_jsonl(n_valid) if n_valid else None)


def test_sft_without_validation_file(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job_sft(make_job, {**SFT_HP, "n_epochs": 1}, n_train=4)
    assert run_job(handle, settings, store) == "succeeded"
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert "valid_loss" not in metrics[0] and "full_valid_loss" not in metrics[-1]
    assert handle.checkpoints()[-1]["metrics"]["train_loss"] > 0


def test_sft_crash_resumes_to_the_same_weights(make_job: JobFactory, store: Store, settings: Settings) -> None:
    hp = {**SFT_HP, "n_epochs": 2}  # 8 rows / 2 = 4 steps per epoch: 8 steps, checkpoints every 2
    straight = make_job_sft(make_job, hp, n_train=8, n_valid=2)
    assert run_job(straight, settings, store) == "succeeded"

    interrupted = make_job_sft(make_job, hp, n_train=8, n_valid=2)
    with pytest.raises(RuntimeError, match="simulated"):
        run_job(CrashAt(interrupted, 5), settings, store)
    assert [c["step_number"] for c in interrupted.checkpoints()] == [2, 4]
    resumed = make_job.relet(interrupted)
    env = {**os.environ, "OPENRFT_HOME": str(settings.home), "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "openrft.training.run", resumed.job_id, resumed.lease_owner],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert resumed.row()["status"] == "succeeded"
    assert any(e.message.startswith("Resuming supervised") for e in events(store, resumed.job_id))
    a, b = adapter(settings.models_dir / "ft" / straight.job_id), adapter(settings.models_dir / "ft" / resumed.job_id)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    la = [e.data["train_loss"] for e in events(store, straight.job_id, "metrics")]
    lb = [e.data["train_loss"] for e in events(store, resumed.job_id, "metrics")]
    assert la == lb


def test_sft_pause_resume_and_cancel(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job_sft(make_job, {**SFT_HP, "n_epochs": 1, "eval_interval": 10}, n_train=6)  # 3 steps
    assert run_job(PauseAfter(handle, make_job, 1, "pause"), settings, store) == "paused"
    assert handle.row()["status"] == "paused" and [c["step_number"] for c in handle.checkpoints()] == [1]
    resumed = make_job.relet(handle)
    assert run_job(resumed, settings, store) == "succeeded"
    assert [e.data["step"] for e in events(store, handle.job_id, "metrics")] == [1, 2, 3]

    cancelled = make_job_sft(make_job, {**SFT_HP, "n_epochs": 1}, n_train=6)
    assert run_job(PauseAfter(cancelled, make_job, 1, "cancel"), settings, store) == "cancelled"
    assert cancelled.row()["fine_tuned_model"] is None


def test_bad_supervised_hyperparameter_fails_the_job(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job_sft(make_job, {**SFT_HP, "beta": 0.1}, n_train=4)
    assert run_job(handle, settings, store) == "failed"
    error = handle.row()["error"]
    assert error["code"] == "invalid_hyperparameters" and error["param"] == "method.supervised.hyperparameters.beta"
