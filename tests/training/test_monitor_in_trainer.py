"""The monitor, the linked eval, guard graders and early stopping inside real (tiny) training runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.graders.context import Outcome
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training import watch
from openrft.training.monitor import DETECTORS
from openrft.training.run import run_job
from tests.conftest import LiveServer
from tests.training.conftest import TINY_HP, JobFactory, rows_jsonl
from tests.training.test_trainer import adapter, events

# Rewards every completion 0: every group has zero variance and the reward never rises (no_signal's case).
NEVER = {
    "type": "string_check",
    "name": "never",
    "input": "{{ sample.output_text }}",
    "reference": "zzz",
    "operation": "eq",
}
SAYS_NO = {**NEVER, "name": "says_no", "reference": "no", "operation": "like"}
# Graded against the item's answer: the training rows answer "yes" (rewards vary, the weights move); the
# validation rows below answer "zzz", which no word of the tiny vocabulary resembles (validation reward 0).
CLOSE_TO_ANSWER = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "evaluation_metric": "fuzzy_match",
}


class Graded:
    def __init__(self, outcomes: list[Outcome], types: dict[str, str]):
        self.outcomes, self.metric_types = outcomes, types


def lam(**metrics: float) -> Outcome:
    return Outcome(score=1.0, extra_metrics=metrics)


def test_parts_split_components_from_penalties() -> None:
    graded = Graded(
        [lam(acc=1.0, harm=0.0, brevity=1.0), lam(acc=0.0, harm=1.0)], {"harm": "Metric", "brevity": "Metric"}
    )
    # Default: the Metric-type entries are the penalties; components are the rest.
    assert watch.parts(graded, None) == ({"acc": 0.5}, {"harm": 0.5, "brevity": 1.0})
    # Declared: only those are penalties; an undeclared Metric entry is neither.
    assert watch.parts(graded, ["harm"]) == ({"acc": 0.5}, {"harm": 0.5})
    multi = Outcome(score=0.5, sub={"a": Outcome(score=1.0), "b": Outcome(score=0.0)})
    assert watch.parts(Graded([multi], {}), ["b"]) == ({"a": 1.0}, {"b": 0.0})


def test_early_stop_counts_evaluations_since_the_best() -> None:
    early = watch.EarlyStop(patience=2)
    assert [early.observe(s, r) for s, r in [(1, 0.2), (2, 0.5), (3, 0.5), (4, 0.4)]] == [False, False, False, True]
    assert (early.best, early.best_step, early.since_best) == (0.5, 2, 2)  # a tie is no improvement
    assert not any(watch.EarlyStop(patience=0).observe(s, 0.0) for s in range(5))


def warnings_of(store: Store, job_id: str) -> list[Any]:
    return [e for e in events(store, job_id) if e.level == "warn"]


def test_a_detector_that_fires_writes_a_warn_event_with_samples(
    make_job: JobFactory, store: Store, settings: Settings
) -> None:
    handle = make_job({**TINY_HP, "eval_interval": 5}, n_train=20, grader=NEVER)  # 10 steps: 5 baseline + 5 now
    assert run_job(handle, settings, store) == "succeeded"
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert all(set(m["reward_hacking"]) == set(DETECTORS) for m in metrics)
    assert metrics[0]["reward_hacking"]["no_signal"] is None  # not enough steps yet
    assert metrics[-1]["reward_hacking"]["no_signal"] == 1.0
    assert metrics[-1]["signals"]["frac_zero_std"] == 1.0 and "distinct_across_prompts" in metrics[-1]["signals"]
    assert metrics[4]["kl_eval"] >= 0.0 and metrics[4]["signals"]["kl_eval"] == metrics[4]["kl_eval"]
    (warn,) = [w for w in warnings_of(store, handle.job_id) if w.data["signal"] == "no_signal"]
    assert (
        warn.message.startswith("Reward hacking signal no_signal: 100% of groups")
        and "samples_per_prompt" in warn.message
    )
    assert warn.data["step"] == 10 and warn.data["values"]["now"] == 1.0 and warn.data["values"]["step"] == 10.0
    t = schema.job_samples.c
    with store.begin() as conn:
        step_10 = set(conn.execute(sa.select(t.id).where(t.job_id == handle.job_id, t.step == 10)).scalars())
    assert warn.data["sample_ids"] and set(warn.data["sample_ids"]) <= step_10


def test_on_reward_hacking_pause_pauses_and_resume_rebuilds_the_monitor(
    make_job: JobFactory, store: Store, settings: Settings
) -> None:
    hp = {**TINY_HP, "eval_interval": 100, "on_reward_hacking": "pause"}
    handle = make_job(hp, n_train=24, grader=NEVER)  # 12 steps; no_signal fires at step 10
    assert run_job(handle, settings, store) == "paused"
    row = handle.row()
    assert row["status"] == "paused" and row["lease_owner"] is None
    assert [c["step_number"] for c in handle.checkpoints()] == [10]
    pause = [w for w in warnings_of(store, handle.job_id) if w.message.startswith("Pausing the job at step 10")]
    assert pause and pause[0].data["signals"] == ["no_signal"] and pause[0].data["sample_ids"]

    assert run_job(make_job.relet(handle), settings, store) == "succeeded"
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert [m["step"] for m in metrics] == list(range(1, 13))
    # A fresh monitor would need 10 steps before no_signal has a value; the rebuilt one has it at step 11,
    # and the episode that paused the job is still open, so it does not pause (or warn) again.
    assert metrics[10]["reward_hacking"]["no_signal"] == 1.0
    assert len([w for w in warnings_of(store, handle.job_id) if w.data and w.data.get("signal") == "no_signal"]) == 1


def test_early_stopping_stops_and_keeps_the_best_checkpoint(
    make_job: JobFactory, store: Store, settings: Settings
) -> None:
    hp = {**TINY_HP, "eval_interval": 1, "early_stopping_patience": 2}
    handle = make_job(hp, n_train=12, grader=CLOSE_TO_ANSWER, validation_content=rows_jsonl(2, answer="zzz"))
    assert run_job(handle, settings, store) == "succeeded"  # 6 steps planned
    metrics = [e.data for e in events(store, handle.job_id, "metrics")]
    assert [m["step"] for m in metrics] == [1, 2, 3] and metrics[-1]["total_steps"] == 6
    assert [m["scores"]["valid_reward_mean"] for m in metrics] == [0.0, 0.0, 0.0]
    (stop,) = [e for e in events(store, handle.job_id) if e.message.startswith("Early stopping at step 3")]
    assert stop.data == {"best_step": 1, "best_valid_reward_mean": 0.0, "stopped_at_step": 3}
    final = adapter(settings.models_dir / "ft" / handle.job_id)
    ckpts = {c["step_number"]: adapter(Path(c["path"]) / "model") for c in handle.checkpoints()}
    assert set(ckpts) >= {1, 3}
    assert all(bool((final[k] == ckpts[1][k]).all()) for k in final)  # step 1's weights ...
    assert any(not bool((final[k] == ckpts[3][k]).all()) for k in final)  # ... not the last step's
    assert handle.row()["status"] == "succeeded"


def test_evaluation_steps_are_runs_of_the_linked_eval(
    live_server: LiveServer, make_job: JobFactory, store: Store, settings: Settings
) -> None:
    make_job.project_id = DEFAULT_PROJECT_ID  # the admin key's project, so the SDK reads the runs
    hp = {**TINY_HP, "eval_samples": 3}
    handle = make_job(hp, n_train=8, n_valid=3, guard_graders=[SAYS_NO])  # 4 steps, evaluations at 2 and 4
    assert run_job(handle, settings, store) == "succeeded"
    eval_id = handle.row()["eval_id"]
    metrics = {e.data["step"]: e.data for e in events(store, handle.job_id, "metrics")}
    for step in (2, 4):
        (guard,) = metrics[step]["scores"]["guards"]
        assert guard["name"] == "says_no" and 0.0 <= guard["valid_score_mean"] <= 1.0
        assert metrics[step]["kl_eval"] >= 0.0 and metrics[step]["signals"]["guards"] == {
            "says_no": guard["valid_score_mean"]
        }
    assert "guards" not in metrics[1]["scores"] and "kl_eval" not in metrics[1]

    client = live_server.openai_client()
    runs = sorted(client.evals.runs.list(eval_id), key=lambda r: int(r.name.removeprefix("step ")))  # 1 s clock
    assert [r.name for r in runs] == ["step 2", "step 4"] and all(r.status == "completed" for r in runs)
    for run, step in zip(runs, (2, 4), strict=True):
        assert run.id == metrics[step]["eval_run_id"] and run.result_counts.total == 3
        assert run.model == f"{handle.row()['fine_tuned_model']}:ckpt-step-{step}"
        items = list(client.evals.runs.output_items.list(run.id, eval_id=eval_id))
        assert sorted(i.datasource_item_id for i in items) == [0, 1, 2]
        for item in items:
            assert [r.name for r in item.results] == ["reward", "says_no"]  # type: ignore[attr-defined]
            assert item.sample.output[0].content is not None and item.sample.input[-1].role == "user"
        rewards = [item.results[0].score for item in items]  # type: ignore[attr-defined]
        assert sum(rewards) / 3 == pytest.approx(metrics[step]["scores"]["valid_reward_mean"])
        guards = [item.results[1].score for item in items]  # type: ignore[attr-defined]
        assert sum(guards) / 3 == pytest.approx(metrics[step]["scores"]["guards"][0]["valid_score_mean"])


def test_kl_to_base_is_zero_at_the_base_and_grows_with_the_change(tiny_model_dir: Path) -> None:
    import copy

    import torch

    from openrft.training import rollout, validation
    from openrft.training.hparams import HParams
    from openrft.training.trainer import load_policy

    lora, tokenizer = load_policy(tiny_model_dir, HParams(lora_rank=4, lora_alpha=8, precision="fp32"))
    prompts = [rollout.render_prompt(tokenizer, [{"role": "user", "content": w}], None) for w in ("yes", "cat dog")]
    out = rollout.generate(lora, tokenizer, prompts, group_size=1, completion_budget=5, temperature=1.0, greedy=True)
    assert validation.kl_to_base(lora, None, out) == pytest.approx(0.0, abs=1e-6)  # LoRA B starts at zero

    full, _ = load_policy(tiny_model_dir, HParams(lora_rank=0, precision="fp32"))
    base = copy.deepcopy(full)
    assert validation.kl_to_base(full, lambda: base, out) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="reference"):
        validation.kl_to_base(full, None, out)
    kls = []
    for scale in (0.01, 0.1):
        with torch.no_grad():
            for p, p0 in zip(full.parameters(), base.parameters(), strict=True):
                p.copy_(p0 + scale * torch.randn_like(p0))
        kls.append(validation.kl_to_base(full, lambda: base, out))
    assert 0 < kls[0] < kls[1]
    reasons = validation.finish_reasons(out, rollout.eos_token_ids(full, tokenizer))
    assert set(reasons) <= {"stop", "length"}
    assert all(r == "stop" for r, n in zip(reasons, out.completion_tokens, strict=True) if n < 5)  # ended on EOS
    assert validation.finish_reasons(out, []) == ["length", "length"]  # no EOS at all: cut at the budget
