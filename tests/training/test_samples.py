"""Training samples: the retention rule by hand, the rows of a graded step, and what a tiny job stores."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from openrft.graders.context import Outcome
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training import samples
from openrft.training.run import run_job
from tests.training.conftest import TINY_HP, JobFactory


@pytest.mark.parametrize(
    ("counts", "cap", "dropped"),
    [
        ([(1, 4), (2, 4), (3, 4)], 12, []),  # at the cap: nothing goes
        ([(1, 4), (2, 4), (3, 4), (4, 4)], 12, [2]),  # 16 > 12: the oldest middle step goes -> 12
        ([(1, 4), (2, 4), (3, 4), (4, 4)], 8, [2, 3]),  # the first step and the newest stay
        ([(1, 4), (2, 4), (3, 4)], 4, [2, 1]),  # the first step goes last, the newest never
        ([(5, 3)], 1, []),  # a lone step stays (the trainer never writes more than the cap)
        ([(1, 2), (2, 3), (3, 2)], 5, [2]),  # 7 - 3 = 4 <= 5
    ],
)
def test_steps_to_drop(counts: list[tuple[int, int]], cap: int, dropped: list[int]) -> None:
    assert samples.steps_to_drop(counts, cap) == dropped


class Graded:
    """The parts of a graders.BatchResult that group_rows reads."""

    def __init__(self, outcomes: list[Outcome]):
        self.outcomes = outcomes
        self.rewards = [0.0 if o.error else o.score for o in outcomes]


def test_group_rows_of_a_multi_grader_step() -> None:
    def multi(a: float, b: float) -> Outcome:
        out = Outcome(score=(a + b) / 2, sub={"a": Outcome(score=a), "b": Outcome(score=b)})
        out.extra_metrics = {"len": 2.0}
        return out

    outcomes = [multi(1, 0), multi(1, 1), Outcome(error="other_error", details="boom"), multi(0, 0)]
    rows = samples.group_rows(
        step=3,
        messages=[[{"role": "user", "content": "p0"}], [{"role": "user", "content": "p1"}]],
        texts=["w", "x", "y", "z"],
        graded=Graded(outcomes),
        advantages=[0.5, 1.0, -1.0, -0.5],
        completion_tokens=[1, 2, 3, 4],
        group_size=2,
        max_groups=5,
    )
    assert [(r["step"], r["group_index"], r["prompt"][0]["content"]) for r in rows] == [(3, 0, "p0"), (3, 1, "p1")]
    first, second = rows
    assert first["completions"][0] == {
        "text": "w",
        "reward": 0.5,
        "components": {"a": 1.0, "b": 0.0, "len": 2.0},
        "advantage": 0.5,
        "completion_tokens": 1,
        "error": None,
    }
    assert first["reward_mean"] == 0.75 and first["reward_std"] == pytest.approx(0.5**0.5 / 2)  # (0.5, 1): s = 0.354
    assert second["completions"][0]["error"] == {"code": "other_error", "message": "boom"}
    assert second["completions"][0]["reward"] == 0.0 and second["reward_std"] == 0.0
    assert first["id"].startswith("ftsample-") and first["id"] != second["id"]
    assert samples.top_ids(rows, 1) == [first["id"]]
    one = samples.group_rows(
        step=1,
        messages=[[], []],
        texts=["a"] * 4,
        graded=Graded([Outcome(score=1.0)] * 4),
        advantages=[0.0] * 4,
        completion_tokens=[1] * 4,
        group_size=2,
        max_groups=1,
    )
    assert len(one) == 1 and one[0]["completions"][0]["components"] == {}  # a single grader has no parts


def stored(store: Store, job_id: str) -> list[Any]:
    t = schema.job_samples.c
    with store.begin() as conn:
        return list(conn.execute(sa.select(schema.job_samples).where(t.job_id == job_id).order_by(t.seq)).all())


def test_a_job_stores_its_groups_bounded_per_step_and_per_job(
    make_job: JobFactory, store: Store, settings: Settings
) -> None:
    handle = make_job(TINY_HP, n_train=8)  # 4 steps of 2 prompts x 4 samples
    assert run_job(handle, settings, store) == "succeeded"
    rows = stored(store, handle.job_id)
    assert [(r.step, r.group_index) for r in rows] == [(s, g) for s in (1, 2, 3, 4) for g in (0, 1)]
    for r in rows:
        assert len(r.completions) == 4 and r.prompt[0]["role"] == "user"
        rewards = [c["reward"] for c in r.completions]
        assert r.reward_mean == pytest.approx(sum(rewards) / 4)
        assert all(
            set(c) == {"text", "reward", "components", "advantage", "completion_tokens", "error"} for c in r.completions
        )
        assert all(1 <= c["completion_tokens"] <= 6 for c in r.completions)
        if len(set(rewards)) == 1:
            assert all(c["advantage"] == 0 for c in r.completions)  # no signal in a uniform group

    # One group per step, three per job: the first step (the base model's answers) and the newest stay.
    bounded = settings.model_copy(update={"samples_groups_per_step": 1, "samples_per_job": 3})
    handle = make_job(TINY_HP, n_train=8)
    assert run_job(handle, bounded, store) == "succeeded"
    assert [(r.step, r.group_index) for r in stored(store, handle.job_id)] == [(1, 0), (3, 0), (4, 0)]

    off = settings.model_copy(update={"samples_per_job": 0})
    handle = make_job(TINY_HP, n_train=4)
    assert run_job(handle, off, store) == "succeeded"
    assert stored(store, handle.job_id) == []


def test_a_resumed_run_rewrites_the_steps_it_replays(make_job: JobFactory, store: Store, settings: Settings) -> None:
    from tests.training.test_trainer import CrashAt

    handle = make_job(TINY_HP, n_train=8)  # checkpoints at 2 and 4
    with pytest.raises(RuntimeError, match="simulated"):
        run_job(CrashAt(handle, 3), settings, store)  # step 3 stored its samples, then died
    lost = {r.id for r in stored(store, handle.job_id) if r.step == 3}
    assert len(lost) == 2
    assert run_job(make_job.relet(handle), settings, store) == "succeeded"
    rows = stored(store, handle.job_id)
    assert [(r.step, r.group_index) for r in rows] == [(s, g) for s in (1, 2, 3, 4) for g in (0, 1)]
    assert not lost & {r.id for r in rows}
