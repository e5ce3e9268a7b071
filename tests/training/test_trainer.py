"""The training loop end to end on a tiny random Llama: metrics, checkpoints, control, resume, failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import torch
from safetensors.torch import load_file

from openrft.inference import registry
from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training.losses import LOSSES, LossConfig, LossInputs, LossOutput, LossSpec
from openrft.training.run import run_job
from tests.training.conftest import TINY_HP, JobFactory

REPO = Path(__file__).resolve().parents[2]
# A graded reward: a group of different completions has different rewards, so every step has a signal.
SIMILAR_TO_YES = {
    "type": "text_similarity",
    "name": "close_to_yes",
    "input": "{{ sample.output_text }}",
    "reference": "yes",
    "evaluation_metric": "fuzzy_match",
}


def events(store: Store, job_id: str, type: str | None = None) -> list[Any]:
    c = schema.job_events.c
    query = sa.select(schema.job_events).where(c.job_id == job_id).order_by(c.seq)
    with store.begin() as conn:
        rows = conn.execute(query).all()
    return [r for r in rows if type is None or r.type == type]


def adapter(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_a_job_trains_reports_checkpoints_and_succeeds(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job(TINY_HP, n_train=4)  # 1 epoch x 4 rows / batch 2 = 2 steps; eval + checkpoint at 2
    assert run_job(handle, settings, store) == "succeeded"
    row = handle.row()
    assert row["status"] == "succeeded" and row["error"] is None
    assert row["fine_tuned_model"] == f"ft:tiny-llama:proj_test::{handle.job_id}"
    assert row["trained_tokens"] > 0
    hp = row["method"]["reinforcement"]["hyperparameters"]
    assert hp["batch_size"] == 2 and hp["learning_rate_multiplier"] == 50.0 and hp["loss"] == "grpo"

    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert [m["step"] for m in metrics] == [1, 2] and metrics[0]["total_steps"] == 2
    for key in (
        "critic_rewards_mean",
        "actor_pg_loss",
        "actor_entropy",
        "actor_grad_norm",
        "critic_advantages_mean",
        "response_length_mean",
        "frac_reward_zero_std",
    ):
        assert isinstance(metrics[0][key], float), key
    assert 0.0 <= metrics[0]["scores"]["train_reward_mean"] <= 1.0
    assert metrics[0]["scores"]["graders"][0]["name"] == "says_yes"
    assert set(metrics[0]["timing"]["step"]) >= {"sampling", "training", "full_iteration"}
    assert "valid_reward_mean" not in metrics[0]["scores"]
    assert "valid_reward_mean" in metrics[1]["scores"]  # evaluated at the last step
    assert "valid_reward_mean" in metrics[1]["scores"]["graders"][0]
    messages = [e.message for e in events(store, handle.job_id, "metrics")]
    assert messages[1].startswith("Step 2/2, train mean reward=") and "full validation mean reward=" in messages[1]
    audit = [e for e in events(store, handle.job_id) if e.message.startswith("Grading with")]
    assert audit and audit[0].data["grader"]["type"] == "string_check"

    ckpts = handle.checkpoints()
    assert [c["step_number"] for c in ckpts] == [2]
    assert ckpts[0]["fine_tuned_model_checkpoint"].endswith(":ckpt-step-2")
    assert (Path(ckpts[0]["path"]) / "optimizer.pt").is_file()

    # The fine-tuned adapter differs from its initialization (LoRA B starts at zero) and is servable.
    resolved = registry.resolve(store, settings, "proj_test", row["fine_tuned_model"])
    assert resolved.adapter_path is not None
    weights = adapter(resolved.adapter_path)
    assert any(float(w.abs().max()) > 0 for k, w in weights.items() if "lora_B" in k)
    assert registry.resolve(store, settings, "proj_test", ckpts[0]["fine_tuned_model_checkpoint"]).adapter_path


class CrashAt(JobHandle):
    """A handle whose process 'dies' when it writes the metrics event of step `step` (after its update)."""

    def __init__(self, handle: JobHandle, step: int):
        super().__init__(handle.store, handle.job_id, handle.lease_owner)
        self.crash_step = step

    def event(self, message: str, **kw: Any) -> str:
        if kw.get("type") == "metrics" and kw["data"]["step"] == self.crash_step:
            raise RuntimeError("simulated kill -9")
        return super().event(message, **kw)


def test_interrupted_and_resumed_run_ends_with_the_same_weights(
    make_job: JobFactory, store: Store, settings: Settings
) -> None:
    hp = {**TINY_HP, "eval_interval": 2}
    straight = make_job(hp, n_train=8)  # 4 steps, checkpoints at 2 and 4
    assert run_job(straight, settings, store) == "succeeded"

    interrupted = make_job(hp, n_train=8)
    with pytest.raises(RuntimeError, match="simulated"):
        run_job(CrashAt(interrupted, 3), settings, store)  # step 3's work is lost; step-2 checkpoint survives
    assert [c["step_number"] for c in interrupted.checkpoints()] == [2]

    # A new process with a new lease (as the worker would start it) resumes from step 2.
    resumed = make_job.relet(interrupted)
    env = {**os.environ, "OPENRFT_HOME": str(settings.home), "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "openrft.training.run", resumed.job_id, resumed.lease_owner],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert resumed.row()["status"] == "succeeded"
    assert any(e.message.startswith("Resuming training") for e in events(store, resumed.job_id))

    a = adapter(settings.models_dir / "ft" / straight.job_id)
    b = adapter(settings.models_dir / "ft" / resumed.job_id)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    # Same trajectory, so the same per-step rewards too.
    ra = [e.data["scores"]["train_reward_mean"] for e in events(store, straight.job_id, "metrics")]
    rb = [e.data["scores"]["train_reward_mean"] for e in events(store, resumed.job_id, "metrics")]
    assert ra == rb[:2] + rb[2:] and len(rb) == 4


class PauseAfter(JobHandle):
    """Asks for `control` (via the jobs table, as the API does) once step `step` has reported."""

    def __init__(self, handle: JobHandle, factory: JobFactory, step: int, control: str):
        super().__init__(handle.store, handle.job_id, handle.lease_owner)
        self.factory, self.step, self.control_value = factory, step, control

    def event(self, message: str, **kw: Any) -> str:
        out = super().event(message, **kw)
        if kw.get("type") == "metrics" and kw["data"]["step"] == self.step:
            self.factory.set_control(self.job_id, self.control_value)
        return out


def test_pause_checkpoints_and_resume_finishes(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job({**TINY_HP, "eval_interval": 10}, n_train=6)  # 3 steps, evaluation only at the end
    assert run_job(PauseAfter(handle, make_job, 1, "pause"), settings, store) == "paused"
    row = handle.row()
    assert row["status"] == "paused" and row["lease_owner"] is None and row["control"] is None
    assert [c["step_number"] for c in handle.checkpoints()] == [1]

    resumed = make_job.relet(handle)
    assert run_job(resumed, settings, store) == "succeeded"
    assert [e.data["step"] for e in events(store, handle.job_id, "metrics")] == [1, 2, 3]
    assert [c["step_number"] for c in resumed.checkpoints()] == [1, 3]


def test_cancel_stops_without_a_model(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job(TINY_HP, n_train=6)
    assert run_job(PauseAfter(handle, make_job, 1, "cancel"), settings, store) == "cancelled"
    row = handle.row()
    assert row["status"] == "cancelled" and row["fine_tuned_model"] is None
    assert [e.data["step"] for e in events(store, handle.job_id, "metrics")] == [1]


@pytest.mark.parametrize(
    ("kwargs", "code", "param"),
    [
        ({"training_content": b'{"messages": []}\n'}, "invalid_training_file", "training_file"),
        ({"training_content": b"not json\n"}, "invalid_training_file", "training_file"),
        (
            {
                "grader": {
                    "type": "string_check",
                    "name": "g",
                    "input": "{{ item.nope.deeper }}",
                    "reference": "x",
                    "operation": "eq",
                }
            },
            "grader_error_rate",
            "grader",
        ),
    ],
)
def test_failures_say_why(
    make_job: JobFactory, store: Store, settings: Settings, kwargs: dict, code: str, param: str
) -> None:
    handle = make_job(TINY_HP, n_train=6, **kwargs)
    assert run_job(handle, settings, store) == "failed"
    error = handle.row()["error"]
    assert error["code"] == code and error["param"] == param and error["message"]


def test_bad_hyperparameter_fails_the_job(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job({**TINY_HP, "loss": "nope"})
    assert run_job(handle, settings, store) == "failed"
    error = handle.row()["error"]
    assert error["code"] == "invalid_hyperparameters"
    assert error["param"] == "method.reinforcement.hyperparameters.loss"


@pytest.mark.parametrize(
    ("loss", "precision"), [("grpo", "bf16"), ("dr_grpo", "auto"), ("dapo", "auto"), ("rloo", "fp32")]
)
def test_every_loss_trains(
    make_job: JobFactory, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch, loss: str, precision: str
) -> None:
    """The named loss is the one that runs, and its step moves the weights (LoRA B starts at 0)."""
    spec, calls = LOSSES[loss], []

    def objective(x: LossInputs, cfg: LossConfig) -> LossOutput:
        calls.append(x.n_seqs)
        return spec.objective(x, cfg)

    monkeypatch.setitem(LOSSES, loss, LossSpec(spec.advantages, objective))
    hp = {**TINY_HP, "loss": loss, "kl_beta": 0.05, "precision": precision}
    handle = make_job(hp, n_train=2, grader=SIMILAR_TO_YES)  # one step, with the KL term
    assert run_job(handle, settings, store) == "succeeded"
    (metrics,) = [e.data for e in events(store, handle.job_id, "metrics")]
    assert metrics["frac_reward_zero_std"] < 1.0  # some group had a learning signal
    assert calls and set(calls) == {8}  # this loss's objective ran, on the step's 2 x 4 sequences
    weights = adapter(settings.models_dir / "ft" / handle.job_id)
    assert any(w.abs().max() > 0 for k, w in weights.items() if "lora_B" in k)  # moved from its zero init


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_full_fine_tuning(
    make_job: JobFactory, store: Store, settings: Settings, tiny_model_dir: Path, precision: str
) -> None:
    handle = make_job({**TINY_HP, "lora_rank": 0, "kl_beta": 0.05, "precision": precision}, n_train=6)
    assert run_job(handle, settings, store) == "succeeded"
    resolved = registry.resolve(store, settings, "proj_test", handle.row()["fine_tuned_model"])
    assert resolved.adapter_path is None and (resolved.base_path / "config.json").is_file()
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(resolved.base_path / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)


class CancelWhileGrading(JobHandle):
    """Requests cancel when the first step's grading is recorded (between sampling and training)."""

    def __init__(self, handle: JobHandle, factory: JobFactory):
        super().__init__(handle.store, handle.job_id, handle.lease_owner)
        self.factory = factory

    def event(self, message: str, **kw: Any) -> str:
        if message.startswith("Grading with"):
            self.factory.set_control(self.job_id, "cancel")
        return super().event(message, **kw)


def test_cancel_mid_step_skips_the_update(make_job: JobFactory, store: Store, settings: Settings) -> None:
    handle = make_job(TINY_HP, n_train=6)
    assert run_job(CancelWhileGrading(handle, make_job), settings, store) == "cancelled"
    assert events(store, handle.job_id, "metrics") == []


def test_a_job_pinned_with_retired_knobs_still_runs(make_job: JobFactory, store: Store, settings: Settings) -> None:
    """A job pinned before the inert clip knobs were removed resumes without them (they never acted)."""
    handle = make_job({**TINY_HP, "clip_eps_low": 0.2, "clip_eps_high": 0.28, "gspo_clip_eps_low": 3e-4})
    assert run_job(handle, settings, store) == "succeeded"
    with store.begin() as conn:
        row = conn.execute(sa.select(schema.jobs).where(schema.jobs.c.id == handle.job_id)).one()
    assert "clip_eps_low" not in row.method["reinforcement"]["hyperparameters"]
