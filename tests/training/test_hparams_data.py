"""Hyperparameter resolution ("auto" -> numbers), the data schedule and checkpoint retention."""

from __future__ import annotations

import re
from itertools import chain
from pathlib import Path
from typing import get_args

import pytest

from openrft.training import data
from openrft.training.checkpoints import to_prune
from openrft.training.hparams import (
    DERIVED,
    HELP,
    LIMITS,
    REASONING_EFFORT_SCALE,
    HParams,
    HParamsError,
    HParamsRequest,
    Loss,
    Precision,
    ReasoningEffort,
    check_request,
    resolve,
)

DOCS = Path(__file__).parents[2] / "docs" / "hyperparameters.md"


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


def test_the_inert_knobs_are_gone() -> None:
    """One on-policy update per rollout: no ratio to clip, so no clip knob and no gspo (grpo when the ratio is 1)."""
    for name in ("clip_eps_low", "clip_eps_high", "gspo_clip_eps_low", "gspo_clip_eps_high", "ppo_epochs"):
        with pytest.raises(HParamsError, match=f"unknown hyperparameter '{name}'"):
            resolve({name: 1}, 10, 0)
    with pytest.raises(HParamsError) as info:
        resolve({"loss": "gspo"}, 10, 0)
    assert info.value.param == "loss"


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
    docs = DOCS.read_text()
    for name, bound in LIMITS.items():
        is_int = isinstance(getattr(HParams(), name), int)
        too_big = int(bound.high) + 1 if is_int else bound.high * 2
        low, high = (str(int(bound.low)), str(int(bound.high))) if is_int else (f"{bound.low:g}", f"{bound.high:g}")
        with pytest.raises(HParamsError) as info:
            resolve({name: too_big}, 10, 0)
        assert info.value.param == name and f"<= {high}" in str(info.value)
        row = re.search(rf"^\| `{name}` \| ([^|]+) \|", docs, re.MULTILINE)
        assert row is not None, name
        assert high in row.group(1) and low in row.group(1), (name, row.group(1))


def test_every_field_is_documented_and_every_number_bounded() -> None:
    docs = DOCS.read_text()
    for name in HELP:
        assert re.search(rf"^\| `{name}` \|", docs, re.MULTILINE), f"{name} has no row in hyperparameters.md"
    numbers = {name for name in HELP if name not in DERIVED and isinstance(getattr(HParams(), name), int | float)}
    assert numbers == set(LIMITS)


def test_the_request_model_is_generated_from_hparams() -> None:
    """One definition: the API's model has HParams' fields, help lines, bounds and Literal choices."""
    from openrft.training.losses import LOSSES
    from openrft.training.precision import PRECISIONS

    assert list(HParamsRequest.model_fields) == list(HELP)
    assert all(str(HParamsRequest.model_fields[n].description).startswith(h.text) for n, h in HELP.items())
    assert set(get_args(Loss)) == set(LOSSES) and get_args(Precision) == PRECISIONS
    assert set(get_args(ReasoningEffort)) == set(REASONING_EFFORT_SCALE)
    schema = HParamsRequest.model_json_schema()["properties"]
    assert (schema["samples_per_prompt"]["minimum"], schema["samples_per_prompt"]["maximum"]) == (2, 64)
    assert schema["loss"]["anyOf"][0]["enum"] == list(get_args(Loss))
    # The request as sent: OpenAI's fields say "auto"/"default" until resolved, the extras are absent.
    sent = HParamsRequest.model_validate({"n_epochs": 2}).model_dump(exclude_none=True)
    assert sent["n_epochs"] == 2 and sent["batch_size"] == "auto" and sent["reasoning_effort"] == "default"
    assert "samples_per_prompt" not in sent and "group_size" not in sent


def test_derived_values_are_shown_and_cannot_be_set() -> None:
    hp = resolve(
        {"samples_per_prompt": 8, "compute_multiplier": 1.5, "max_completion_tokens": 16, "reasoning_effort": "high"},
        10,
        0,
    )
    shown = hp.public()
    assert (shown["group_size"], shown["completion_budget"], shown["learning_rate"]) == (12, 32, pytest.approx(1e-4))
    assert set(DERIVED) == {"group_size", "completion_budget", "learning_rate"}
    assert resolve(shown, 10, 0) == hp  # a pinned job (or its method sent again) repeats them: accepted
    with pytest.raises(HParamsError) as info:
        resolve({**shown, "group_size": 8}, 10, 0)
    assert info.value.param == "group_size" and "12" in str(info.value)
    with pytest.raises(HParamsError) as info:
        resolve({"learning_rate": 3e-4}, 10, 0)  # not a knob: learning_rate_multiplier is
    assert info.value.param == "learning_rate"


def test_job_creation_checks_what_the_trainer_will() -> None:
    # batch_size "auto" is at most 8 at creation: 8 x 64 = 512 samples per step passes, 1024 x 8 doesn't.
    assert check_request({"samples_per_prompt": 64}).group_size == 64
    with pytest.raises(HParamsError) as info:
        check_request({"batch_size": 1024, "samples_per_prompt": 8})
    assert info.value.param == "batch_size" and "at most 4096" in str(info.value)
    assert check_request({"max_completion_tokens": 5000, "reasoning_effort": "high"}).completion_budget == 10_000
