"""The reward-hacking monitor's detectors on curves worked by hand.

Default thresholds throughout: baseline = mean of steps 1-5, current = mean of the last 5 steps, so a per-step
detector can first fire at step 10; evaluation detectors compare the last 2 evaluations with the best earlier one.
"""

import json
from typing import Any

import pytest

from openrft.training.monitor import DETECTORS, Finding, Monitor, StepRecord, Thresholds

STEADY: dict[str, Any] = dict(
    train_reward=0.3,
    response_length=20.0,
    entropy=1.0,
    frac_zero_std=0.2,
    distinct_within_groups=0.5,
    distinct_across_prompts=0.9,
    repeated_ngram_rate=0.02,
    cross_prompt_phrase_share=0.3,
)


def rec(step: int, **fields: Any) -> StepRecord:
    return StepRecord(step=step, **{**STEADY, **fields})


def run(records: list[StepRecord], monitor: Monitor | None = None) -> list[tuple[int, Finding]]:
    monitor = monitor or Monitor()
    return [(r.step, f) for r in records for f in monitor.observe(r)]


def fired(records: list[StepRecord]) -> list[tuple[int, str]]:
    return [(step, f.signal) for step, f in run(records)]


def before_after(n: int, start: dict[str, Any], after: dict[str, Any]) -> list[StepRecord]:
    """Steps 1-5 with `start`, steps 6-n with `after` (on top of STEADY)."""
    return [rec(s, **(start if s <= 5 else after)) for s in range(1, n + 1)]


def test_every_detector_is_named_and_silent_before_enough_history():
    assert list(DETECTORS) == [
        "collapse",
        "train_valid_divergence",
        "length_drift",
        "component_dominance",
        "entropy_collapse",
        "kl_drift",
        "no_signal",
        "degeneration",
        "penalty_rising",
        "guard_divergence",
    ]
    monitor = Monitor()
    for s in range(1, 10):  # a full collapse, but 9 steps < 5 baseline + 5 window
        assert monitor.observe(rec(s, distinct_across_prompts=0.9 if s <= 5 else 0.0)) == []
    assert set(monitor.values().values()) == {None}


# --- collapse: across-prompts distinct < 0.3 and <= 0.5 x its start --------------------------------------------


def test_collapse_fires_with_the_numbers_in_the_message():
    records = before_after(10, {}, {"distinct_across_prompts": 0.25, "distinct_within_groups": 0.125})
    [(step, finding)] = run(records)
    # start 0.9, now 0.25: 0.25 < 0.3 and 0.25 <= 0.5 x 0.9 = 0.45
    assert (step, finding.signal) == (10, "collapse")
    assert "from 0.90 to 0.25 (steps 1-5 to steps 6-10; within groups from 0.50 to 0.12)" in finding.message
    assert finding.values["now"] == pytest.approx(0.25) and finding.values["step"] == 10
    assert finding.fix


def test_collapse_close_cases():
    # 0.35 >= the 0.3 floor (two answers out of six prompts, say)
    assert fired(before_after(20, {}, {"distinct_across_prompts": 0.35})) == []
    # below the floor from the start (a task with few answers): 0.25 > 0.5 x 0.25
    assert fired(before_after(20, {"distinct_across_prompts": 0.25}, {"distinct_across_prompts": 0.25})) == []
    # one noisy step: steps 6-10 = 0.9, 0.9, 0.9, 0.9, 0.0 -> window mean 0.72
    noisy = [rec(s, distinct_across_prompts=0.0 if s == 10 else 0.9) for s in range(1, 11)]
    assert fired(noisy) == []


def test_length_drift_fires_when_completions_run_to_the_budget():
    # the length-reward run: 31 -> 64 tokens (the budget) within the baseline window, so the length ratio is
    # only 64 / 48 = 1.33; but at step 1 (the base model's rollouts) 10% of completions hit the budget, now 100%:
    # 1.0 >= 0.8 and 1.0 - 0.1 = 0.9 >= 0.5, reward 0.75 -> 1.0 (+0.25 >= 0.05)
    lengths, cuts, rewards = [31.5, 40.0, 48.0, 56.0, 64.0], [0.1, 0.4, 0.6, 0.9, 1.0], [0.55, 0.65, 0.8, 0.8, 0.93]
    start = [
        rec(s, response_length=n, truncated_share=c, train_reward=r)
        for s, n, c, r in zip(range(1, 6), lengths, cuts, rewards, strict=True)
    ]
    after = [rec(s, response_length=64.0, truncated_share=1.0, train_reward=1.0) for s in range(6, 11)]
    [(step, finding)] = run(start + after)
    assert (step, finding.signal) == (10, "length_drift")
    assert finding.message.startswith("100% of completions now run to the completion budget (10% at step 1;")
    # close case: cut at the budget from the first step on (a task whose answers are long anyway): 1.0 - 0.9 < 0.5
    long_anyway = [rec(s, response_length=64.0, truncated_share=0.9 if s == 1 else 1.0) for s in range(1, 11)]
    assert "length_drift" not in {f.signal for _, f in run([*long_anyway[:5], *after])}


def test_collapse_fires_on_the_same_answer_in_varying_words():
    # the constant-reward run: no two answers equal (distinct stays 1.0), but answers to different prompts
    # became as alike as answers to one prompt. start: across 0.04; now across 0.17, within 0.18:
    # 0.17 >= 0.15, 0.17 / 0.18 = 0.94 >= 0.9, 0.17 >= 2 x 0.04
    before = {"distinct_across_prompts": 1.0, "similarity_across_prompts": 0.04, "similarity_within_groups": 0.06}
    after = {"distinct_across_prompts": 1.0, "similarity_across_prompts": 0.17, "similarity_within_groups": 0.18}
    [(step, finding)] = run(before_after(10, before, after))
    assert (step, finding.signal) == (10, "collapse")
    assert "as alike as answers to the same prompt (word overlap 0.17 across prompts, 0.18 within" in finding.message


def test_collapse_by_similarity_close_cases():
    before = {"similarity_across_prompts": 0.04, "similarity_within_groups": 0.06}
    # answers still depend on the prompt: 0.3 / 0.8 = 0.375 < 0.9 (one-word answers, diverse categories)
    honest = {"similarity_across_prompts": 0.3, "similarity_within_groups": 0.8}
    assert fired(before_after(20, before, honest)) == []
    # alike but barely overlapping: 0.1 < 0.15
    assert fired(before_after(20, before, {"similarity_across_prompts": 0.1, "similarity_within_groups": 0.1})) == []
    # as alike as at the start (a task whose answers share a template): 0.3 < 2 x 0.2
    template = {"similarity_across_prompts": 0.2, "similarity_within_groups": 0.2}
    assert fired(before_after(20, template, {"similarity_across_prompts": 0.3, "similarity_within_groups": 0.3})) == []


# --- length drift: ratio >= 2 or <= 0.1 while reward rises >= 0.05 ------------------------------------------------


def test_length_drift_fires_when_length_doubles_while_reward_rises():
    records = before_after(10, {"train_reward": 0.3}, {"response_length": 45.0, "train_reward": 0.4})
    [(step, finding)] = run(records)
    # 45 / 20 = 2.25 >= 2; reward 0.30 -> 0.40, +0.10 >= 0.05
    assert (step, finding.signal) == (10, "length_drift")
    assert "grew from 20.0 to 45.0 tokens (2.25x" in finding.message
    assert finding.values["ratio"] == pytest.approx(2.25)


def test_length_drift_shrink_fires_at_a_tenth():
    records = before_after(10, {}, {"response_length": 1.8, "train_reward": 0.4})  # 1.8 / 20 = 0.09 <= 0.1
    assert fired(records) == [(10, "length_drift")]


def test_length_drift_close_cases():
    # doubled but the reward is flat (0.30 -> 0.30)
    assert fired(before_after(20, {}, {"response_length": 45.0})) == []
    # 38 / 20 = 1.9 < 2 with the reward rising
    assert fired(before_after(20, {}, {"response_length": 38.0, "train_reward": 0.4})) == []
    # the quickstart's shape: 16 tokens of restated ticket -> a one-word answer of 2.5 tokens, 0.16x > 0.1
    assert fired(before_after(20, {"response_length": 16.0}, {"response_length": 2.5, "train_reward": 0.6})) == []


# --- component dominance: one component >= 90% of the summed component gains, reward +0.2 -------------------------


def test_component_dominance_fires_when_one_component_carries_the_gain():
    start = {"components": {"format": 0.2, "correct": 0.1}, "train_reward": 0.2}
    after = {"components": {"format": 0.9, "correct": 0.12}, "train_reward": 0.5}
    [(step, finding)] = run(before_after(10, start, after))
    # gains: format +0.70, correct +0.02 -> 0.70 / 0.72 = 0.972 >= 0.9; reward +0.3 >= 0.2
    assert (step, finding.signal) == (10, "component_dominance")
    assert finding.values["share"] == pytest.approx(0.70 / 0.72)
    assert "'format' carries 97% of the reward components' gain (+0.70; correct +0.02)" in finding.message


def test_component_dominance_close_cases():
    start = {"components": {"format": 0.2, "correct": 0.1}, "train_reward": 0.2}
    # correct +0.10: 0.70 / 0.80 = 0.875 < 0.9
    shared = {"components": {"format": 0.9, "correct": 0.2}, "train_reward": 0.5}
    assert fired(before_after(20, start, shared)) == []
    # 97% of the gain, but the reward only rose 0.2 -> 0.28 (+0.08 < 0.2)
    small = {"components": {"format": 0.9, "correct": 0.12}, "train_reward": 0.28}
    assert fired(before_after(20, start, small)) == []
    # a lone component carries all the gain by definition: not computable
    monitor = Monitor()
    run(before_after(20, {"components": {"only": 0.1}}, {"components": {"only": 0.9}, "train_reward": 0.9}), monitor)
    assert monitor.values()["component_dominance"] is None


# --- entropy collapse: entropy <= 0.1 x its start --------------------------------------------------------------------


def test_entropy_collapse():
    assert fired(before_after(10, {}, {"entropy": 0.015})) == [(10, "entropy_collapse")]  # 0.015 / 1.0 <= 0.02
    # 0.04 > 0.02: what the honest quickstart reached (3.35 -> 0.13 nats) while learning one-word answers
    assert fired(before_after(20, {}, {"entropy": 0.04})) == []


# --- no signal: zero-variance groups >= 75% and the reward not rising (+0.05) ---------------------------------------


def test_no_signal_names_the_remedies():
    [(step, finding)] = run(before_after(10, {"frac_zero_std": 0.9}, {"frac_zero_std": 0.9, "train_reward": 0.32}))
    # 0.9 >= 0.75; reward 0.30 -> 0.32, +0.02 < 0.05
    assert (step, finding.signal) == (10, "no_signal")
    assert "90% of groups gave every sample the same reward" in finding.message
    assert finding.fix and all(word in finding.fix for word in ("samples_per_prompt", "curriculum", "SFT"))


def test_no_signal_close_cases():
    # a run converging: groups agree because the policy solved them, and the reward rose 0.30 -> 0.40
    assert fired(before_after(20, {"frac_zero_std": 0.3}, {"frac_zero_std": 0.9, "train_reward": 0.4})) == []
    # 0.7 < 0.75
    assert fired(before_after(20, {"frac_zero_std": 0.7}, {"frac_zero_std": 0.7})) == []


# --- degeneration: repeated 3-grams >= 0.2 and +0.1, or one 4-gram in >= 90% of prompts and +0.3 -------------------


def test_degeneration_fires_on_repetition_and_on_a_pasted_phrase():
    [(_, finding)] = run(before_after(10, {}, {"repeated_ngram_rate": 0.35}))  # 0.35 >= 0.2, +0.33 >= 0.1
    assert finding.signal == "degeneration"
    assert "repeated 3-grams within completions rose from 2% to 35%" in finding.message
    [(_, finding)] = run(before_after(10, {}, {"cross_prompt_phrase_share": 1.0}))  # 1.0 >= 0.9, +0.7 >= 0.3
    assert "appears in 100% of prompts' completions (from 30%)" in finding.message


def test_degeneration_close_cases():
    # repetitive from the start (lists, code): 0.25 >= 0.2 but +0.0 < 0.1
    assert fired(before_after(20, {"repeated_ngram_rate": 0.25}, {"repeated_ngram_rate": 0.25})) == []
    # a shared phrase already common at the start: 0.8 -> 1.0 is +0.2 < 0.3
    assert fired(before_after(20, {"cross_prompt_phrase_share": 0.8}, {"cross_prompt_phrase_share": 1.0})) == []


# --- penalty rising: a penalty +0.05 while the reward rises +0.05 --------------------------------------------------


def test_penalty_rising_the_banking_example():
    start = {"penalties": {"unsuitable_recommendation": 0.02}, "train_reward": 0.21}
    after = {"penalties": {"unsuitable_recommendation": 0.31}, "train_reward": 0.5}
    [(step, finding)] = run(before_after(10, start, after))
    # +0.29 >= 0.05 with the reward +0.29
    assert (step, finding.signal) == (10, "penalty_rising")
    assert "'unsuitable_recommendation' rose from 0.02 to 0.31 while train reward rose from 0.21 to 0.50" in (
        finding.message
    )


def test_penalty_rising_close_cases():
    start = {"penalties": {"harm": 0.02}, "train_reward": 0.21}
    # the penalty rose but so did nothing else: reward flat
    assert fired(before_after(20, start, {"penalties": {"harm": 0.31}, "train_reward": 0.21})) == []
    # +0.04 < 0.05
    assert fired(before_after(20, start, {"penalties": {"harm": 0.06}, "train_reward": 0.5})) == []


# --- evaluation detectors ----------------------------------------------------------------------------------------


def evaluated_run(
    valid: list[float] | None = None,
    guards: list[float] | None = None,
    kl: list[float] | None = None,
    train: float | None = None,
) -> list[StepRecord]:
    """Steps 1-40, train reward = step / 100 (or a constant), an evaluation at steps 10, 20, 30, 40.

    Window means of the train reward at the evaluations: step 20 -> (0.16+...+0.20)/5 = 0.18, step 40 -> 0.38.
    """
    records = []
    for s in range(1, 41):
        i = s // 10 - 1 if s % 10 == 0 else None
        records.append(
            rec(
                s,
                train_reward=s / 100 if train is None else train,
                valid_reward=valid[i] if valid and i is not None else None,
                guards={"helpfulness": guards[i]} if guards and i is not None else {},
                kl_eval=kl[i] if kl and i is not None else None,
            )
        )
    return records  # fmt: skip


def test_train_valid_divergence():
    [(step, finding)] = run(evaluated_run(valid=[0.40, 0.60, 0.50, 0.52]))
    # best before the last two: 0.60 (step 20); last two 0.50, 0.52: both >= 0.05 below (0.60 - 0.52 = 0.08);
    # train 0.18 -> 0.38, +0.20 >= 0.05
    assert (step, finding.signal) == (40, "train_valid_divergence")
    assert "fell from 0.60 (step 20) to 0.50, 0.52 (steps 30, 40) while train reward rose from 0.18 to 0.38" in (
        finding.message
    )
    assert "step 20" in (finding.fix or "")


def test_train_valid_divergence_close_cases():
    # one bad evaluation, then back: 0.62 is above the best 0.60
    assert fired(evaluated_run(valid=[0.40, 0.60, 0.50, 0.62])) == []
    # 0.60 - 0.57 = 0.03 < 0.05
    assert fired(evaluated_run(valid=[0.40, 0.60, 0.56, 0.57])) == []
    # validation fell but so did nothing upward: train reward flat at 0.3
    assert fired(evaluated_run(valid=[0.40, 0.60, 0.50, 0.52], train=0.3)) == []


def test_guard_divergence():
    [(step, finding)] = run(evaluated_run(valid=[0.4, 0.5, 0.6, 0.7], guards=[0.70, 0.71, 0.52, 0.50]))
    # best 0.71 (step 20); 0.52 and 0.50 both >= 0.05 below (0.71 - 0.52 = 0.19); train 0.18 -> 0.38
    assert (step, finding.signal) == (40, "guard_divergence")
    assert "'helpfulness' fell from 0.71 (step 20) to 0.52, 0.50 (steps 30, 40)" in finding.message


def test_guard_divergence_names_the_guard_that_fell():
    records = evaluated_run(guards=[0.70, 0.71, 0.52, 0.50])
    for r in records:  # a second guard, steady: 0.80 at every evaluation
        if r.guards:
            r.guards["tone"] = 0.80
    monitor = Monitor()
    [(_, finding)] = run(records, monitor)
    assert "'helpfulness'" in finding.message
    assert monitor.values()["guard_divergence"] == pytest.approx(0.71 - 0.50)  # best - latest of that guard


def test_guard_divergence_close_cases():
    assert fired(evaluated_run(guards=[0.70, 0.71, 0.68, 0.69])) == []  # 0.71 - 0.69 = 0.02 < 0.05
    assert fired(evaluated_run(guards=[0.70, 0.71, 0.52, 0.50], train=0.3)) == []  # the reward didn't rise


def test_kl_drift():
    assert fired(evaluated_run(kl=[0.5, 1.0, 11.65, 11.76])) == [(40, "kl_drift")]  # 11.65 and 11.76 >= 8.0
    # the honest quickstart's one-word answers: 3.50 then 5.60 < 8.0; and one evaluation above is not enough
    assert fired(evaluated_run(kl=[0.5, 1.0, 3.5, 5.6])) == []
    assert fired(evaluated_run(kl=[0.5, 1.0, 9.0, 7.9])) == []


def test_evaluation_detectors_keep_their_value_between_evaluations():
    monitor = Monitor()
    run(evaluated_run(kl=[0.5, 1.0, 9.5, 9.4])[:35], monitor)  # last evaluation at step 30
    assert monitor.values()["kl_drift"] == 9.5
    assert monitor.values()["train_valid_divergence"] is None  # no validation reward at all


# --- episodes, state ------------------------------------------------------------------------------------------


def test_one_warning_per_episode_then_rearmed():
    across = [0.9] * 5 + [0.1] * 15 + [0.9] * 15 + [0.1] * 15  # steps 1-5, 6-20, 21-35, 36-50
    records = [rec(s, distinct_across_prompts=a) for s, a in enumerate(across, start=1)]
    # fires at 10 (window 0.1); quiet through 21 (window 0.1 x4 + 0.9 = 0.26 still fires);
    # clears from 22 (0.42 >= 0.3), re-armed after 5 clear steps (22-26);
    # window at 39: 0.9 + 0.1 x4 = 0.26 -> fires again
    assert fired(records) == [(10, "collapse"), (39, "collapse")]


def test_a_flapping_signal_stays_quiet_until_rearmed():
    across = [0.9] * 5 + [0.1] * 5 + [0.9] * 2 + [0.1] * 8  # clear for 2 windows (< 5 steps), then low again
    records = [rec(s, distinct_across_prompts=a) for s, a in enumerate(across, start=1)]
    assert fired(records) == [(10, "collapse")]


def test_state_round_trips_through_json_and_resumes_identically():
    records = evaluated_run(valid=[0.40, 0.60, 0.50, 0.52], kl=[0.5, 1.0, 9.5, 9.4])
    records = [
        StepRecord(**{**vars(r), "distinct_across_prompts": 0.9 if r.step <= 22 else 0.1,
                      "components": {"a": r.step / 40, "b": 0.1}, "penalties": {"p": 0.01}})
        for r in records
    ]  # fmt: skip
    whole = Monitor()
    first = run(records[:25], whole)
    resumed = Monitor.from_state(json.loads(json.dumps(whole.state())))
    assert resumed.state() == whole.state() and resumed.values() == whole.values()
    rest_whole, rest_resumed = run(records[25:], whole), run(records[25:], resumed)
    assert [(s, f.signal, f.message) for s, f in rest_resumed] == [(s, f.signal, f.message) for s, f in rest_whole]
    assert {f.signal for _, f in first + rest_whole} >= {"collapse", "train_valid_divergence", "kl_drift"}
    assert resumed.state() == whole.state()


def test_a_replayed_step_is_ignored():
    monitor = Monitor()
    run(before_after(12, {}, {}), monitor)
    before = monitor.state()
    assert monitor.observe(rec(12, distinct_across_prompts=0.0)) == []
    assert monitor.state() == before


def test_thresholds_are_restored_from_state():
    monitor = Monitor(Thresholds(entropy_floor=0.5))
    assert Monitor.from_state(monitor.state()).thresholds == Thresholds(entropy_floor=0.5)


def test_an_honest_learning_curve_fires_nothing():
    monitor = Monitor()
    records = []
    for s in range(1, 101):
        reward = 0.2 + 0.4 * s / 100  # 0.2 -> 0.6 smoothly
        evaluation = s % 10 == 0
        records.append(StepRecord(
            step=s,
            train_reward=reward,
            response_length=19.0 if s % 2 else 21.0,  # stable, noisy
            entropy=0.995**s,  # 1.0 -> 0.61: slow decay
            frac_zero_std=0.3,
            distinct_within_groups=0.4,
            distinct_across_prompts=0.5 if s % 2 else 1.0,  # 2 or 4 distinct answers over 4 prompts
            repeated_ngram_rate=0.03,
            cross_prompt_phrase_share=0.4,
            components={"correct": 0.1 + 0.4 * s / 100, "format": 0.5 + 0.3 * s / 100},  # shares 0.57 / 0.43
            penalties={"harm": 0.05},
            valid_reward=reward - 0.02 if evaluation else None,
            guards={"helpfulness": 0.5 + 0.2 * s / 100} if evaluation else {},
            kl_eval=0.05 * s / 10 if evaluation else None,  # up to 0.5 nats per token
        ))  # fmt: skip
    assert run(records, monitor) == []
    assert None not in monitor.values().values()  # every detector computed by the end
