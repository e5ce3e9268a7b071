"""The checkpoints page's and the playground's pure parts (api/console/models.py)."""

from __future__ import annotations

from typing import Any

from openrft.api.console.models import base_of, checkpoint_rows, comparisons, model_groups, short_name

FT = "ft:tiny-base:proj_x:e2e:ftjob-1"


def ckpt(step: int, valid: float | None) -> dict[str, Any]:
    return {
        "step_number": step,
        "fine_tuned_model_checkpoint": f"{FT}:ckpt-step-{step}",
        "metrics": {"step": step, "valid_reward_mean": valid, "train_reward_mean": 0.1 * step},
    }


def run(step: int | None, **meta: str) -> dict[str, Any]:
    metadata = {"step": str(step)} if step is not None else meta
    return {"id": f"evalrun_{step}{''.join(meta.values())}", "model": f"{FT}:ckpt-step-{step}", "metadata": metadata}


def test_kept_and_pruned_merge_by_step_newest_first_with_the_best_marked() -> None:
    kept = [ckpt(4, 0.5), ckpt(2, 0.75)]
    step_runs = {s: run(s) for s in (1, 2, 3, 4)}
    series: dict[int, dict[str, float | None]] = {
        1: {"valid_reward_mean": 0.25, "train_reward_mean": 0.0},
        3: {"valid_reward_mean": 0.5},
    }
    rows = checkpoint_rows(kept, step_runs, series)
    assert [(r.step, r.kept, r.valid_reward, r.best) for r in rows] == [
        (4, True, 0.5, False),
        (3, False, 0.5, False),  # pruned: its numbers come from the metrics events
        (2, True, 0.75, True),  # the best among the kept ones, not among all
        (1, False, 0.25, False),
    ]
    assert rows[1].model == f"{FT}:ckpt-step-3"  # a pruned checkpoint is named by its step's run


def test_comparisons_pair_the_two_runs_of_one_compare() -> None:
    a, b = run(None, pair="p1", side="A"), run(None, pair="p1", side="B")
    alone = run(None)
    assert comparisons([b, alone, a]) == [[a, b], [alone]]


def test_names() -> None:
    assert short_name(f"{FT}:ckpt-step-12", "tiny-base") == "step 12"
    assert short_name("tiny-base", "tiny-base") == "tiny-base (base)"
    assert short_name(FT, "tiny-base") == "final model"
    assert base_of(f"{FT}:ckpt-step-3") == "tiny-base" and base_of("tiny-base") is None
    assert model_groups(["tiny-base", FT, f"{FT}:ckpt-step-2"]) == [
        ("Base models", ["tiny-base"]),
        ("Fine-tuned", [FT]),
        ("Checkpoints", [f"{FT}:ckpt-step-2"]),
    ]
