"""Hyperparameter resolution ("auto" -> numbers), the data schedule and checkpoint retention."""

from __future__ import annotations

import re
from itertools import chain
from pathlib import Path

import pytest

from openrft.training import data
from openrft.training.checkpoints import to_prune
from openrft.training.hparams import LIMITS, HParams, HParamsError, resolve


def test_auto_from_dataset_size() -> None:
    # n_train 100: batch = min(8, 100 // 10) = 8; epochs = ceil(200 / 100) = 2;
    # steps = 2 x ceil(100 / 8) = 26; eval_interval = 26 // 5 = 5; eval_samples = min(32, 10) = 10.
    hp = resolve({"batch_size": "auto", "n_epochs": "auto", "eval_interval": "auto"}, 100, 10, seed=3)
    assert (hp.batch_size, hp.n_epochs, hp.total_steps(100), hp.eval_interval, hp.eval_samples) == (8, 2, 26, 5, 10)
    assert hp.seed == 3 and hp.loss == "grpo" and hp.reasoning_effort == "medium"
    # A tiny dataset: batch never exceeds the rows, epochs capped at 10.
    tiny = resolve({}, 3, 0)
    assert (tiny.batch_size, tiny.n_epochs) == (1, 10)


def test_explicit_values_and_derived_numbers() -> None:
    hp = resolve(
        {"batch_size": 2, "compute_multiplier": 1.5, "reasoning_effort": "high", "learning_rate_multiplier": 2},
        10,
        0,
    )
    assert hp.batch_size == 2
    assert hp.group_size == 6  # 4 samples x 1.5
    assert hp.completion_budget == 128  # 64 x 2 (high)
    assert hp.learning_rate == pytest.approx(2e-4)  # 2 x 1e-4 (LoRA base rate)
    assert resolve({"lora_rank": 0}, 10, 0).learning_rate == pytest.approx(1e-5)
    assert resolve({"reasoning_effort": "default"}, 10, 0).reasoning_effort == "medium"
    # resolve(public()) is a fixed point: what's written back into the job resumes identically.
    assert resolve(hp.public(), 10, 0) == hp


def test_precision_is_pinned_to_what_runs() -> None:
    from openrft.hardware import cpu_has_fast_bf16

    assert resolve({}, 10, 0).precision == ("bf16" if cpu_has_fast_bf16() else "fp32")  # "auto" resolved
    assert resolve({"precision": "fp32"}, 10, 0).precision == "fp32"


def test_dapo_gets_clip_higher() -> None:
    assert resolve({"loss": "dapo"}, 10, 0).clip_eps_high == 0.28
    assert resolve({"loss": "dapo", "clip_eps_high": 0.3}, 10, 0).clip_eps_high == 0.3
    assert resolve({"loss": "grpo"}, 10, 0).clip_eps_high == HParams().clip_eps_high


@pytest.mark.parametrize(
    ("request_hp", "param"),
    [
        ({"bogus": 1}, "bogus"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"n_epochs": "many"}, "n_epochs"),
        ({"loss": "ppo"}, "loss"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"lora_rank": -1}, "lora_rank"),
        ({"precision": "fp16"}, "precision"),
    ],
)
def test_bad_hyperparameters_name_the_field(request_hp: dict, param: str) -> None:
    with pytest.raises(HParamsError) as err:
        resolve(request_hp, 10, 0)
    assert err.value.param == param


def test_batch_schedule_is_a_seeded_permutation_per_epoch() -> None:
    # 5 rows, batch 2 -> 3 steps per epoch (2, 2, 1); every row once per epoch.
    epoch0 = [data.batch_indices(s, 5, 2, seed=1) for s in range(3)]
    epoch1 = [data.batch_indices(s, 5, 2, seed=1) for s in range(3, 6)]
    assert [len(b) for b in epoch0] == [2, 2, 1]
    assert sorted(chain(*epoch0)) == sorted(chain(*epoch1)) == [0, 1, 2, 3, 4]
    assert epoch0 != epoch1  # reshuffled per epoch
    assert data.batch_indices(4, 5, 2, seed=1) == epoch1[1]  # a pure function of the step
    assert [data.batch_indices(s, 5, 2, seed=2) for s in range(3)] != epoch0


def _ckpt(step: int, valid: float | None, train: float = 0.0) -> dict:
    return {"id": f"c{step}", "step_number": step, "metrics": {"valid_reward_mean": valid, "train_reward_mean": train}}


def test_prune_keeps_three_best_and_the_newest() -> None:
    ckpts = [_ckpt(2, 0.5), _ckpt(4, 0.9), _ckpt(6, 0.1), _ckpt(8, 0.7), _ckpt(10, 0.2)]
    # best three by valid reward: 4 (0.9), 8 (0.7), 2 (0.5); the newest (10) is kept for resuming.
    assert [c["step_number"] for c in to_prune(ckpts, keep=3)] == [6]
    # without validation rewards the train reward ranks them
    train_only = [
        _ckpt(1, None, 0.3),
        _ckpt(2, None, 0.1),
        _ckpt(3, None, 0.2),
        _ckpt(4, None, 0.0),
        _ckpt(5, None, 0.4),
    ]
    assert [c["step_number"] for c in to_prune(train_only, keep=3)] == [2, 4]
    assert to_prune([], keep=3) == []


def test_every_bound_is_enforced_and_documented() -> None:
    """LIMITS is the one table: resolve refuses a value past each bound, and hyperparameters.md states it."""
    docs = (Path(__file__).parents[2] / "docs" / "hyperparameters.md").read_text()
    for name, bound in LIMITS.items():
        is_int = isinstance(getattr(HParams(), name), int)
        too_big = int(bound.high) + 1 if is_int else bound.high * 2
        with pytest.raises(HParamsError) as info:
            resolve({name: too_big}, 10, 0)
        assert info.value.param == name and f"<= {bound.high:g}" in str(info.value)
        row = re.search(rf"^\| `{name}` \| ([^|]+) \|", docs, re.MULTILINE)
        assert row is not None, name
        assert f"{bound.high:g}" in row.group(1) and f"{bound.low:g}" in row.group(1), (name, row.group(1))
