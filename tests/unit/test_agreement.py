"""Agreement rate and Cohen's kappa (openrft.reviews.agreement), with the numbers worked by hand."""

from __future__ import annotations

import pytest

from openrft.reviews.agreement import (
    Rated,
    Table,
    agreement_rate,
    cohen_kappa,
    disagreements_first,
    expected_agreement,
    judge_components,
    report,
    table,
)


def test_a_two_by_two_table_worked_by_hand() -> None:
    """10 rated completions:

                      reward good   reward bad
        expert good       a = 4        b = 1      (expert: 5 good)
        expert bad        c = 2        d = 3      (expert: 5 bad)
                      reward: 6 good, 4 bad

    p_o = (4 + 3) / 10 = 0.7
    p_e = (5 * 6 + 5 * 4) / 10^2 = (30 + 20) / 100 = 0.5
    kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    """
    pairs = [(True, True)] * 4 + [(True, False)] + [(False, True)] * 2 + [(False, False)] * 3
    t = table(pairs)
    assert t == Table(a=4, b=1, c=2, d=3) and t.n == 10
    assert agreement_rate(t) == pytest.approx(0.7)
    assert expected_agreement(t) == pytest.approx(0.5)
    assert cohen_kappa(t) == pytest.approx(0.4)


def test_high_agreement_can_be_chance() -> None:
    """The expert calls all 4 good, the reward 3 of them: p_o = 3/4 = 0.75, but
    p_e = (4 * 3 + 0 * 1) / 16 = 0.75, so kappa = (0.75 - 0.75) / 0.25 = 0: no better than chance."""
    t = Table(a=3, b=1)
    assert agreement_rate(t) == pytest.approx(0.75)
    assert cohen_kappa(t) == pytest.approx(0.0)


def test_perfect_and_opposite_agreement() -> None:
    # a=3, d=2: p_o = 1, p_e = (3*3 + 2*2) / 25 = 0.52, kappa = 0.48 / 0.48 = 1
    assert cohen_kappa(Table(a=3, d=2)) == pytest.approx(1.0)
    # b=2, c=2: p_o = 0, p_e = (2*2 + 2*2) / 16 = 0.5, kappa = -0.5 / 0.5 = -1
    assert cohen_kappa(Table(b=2, c=2)) == pytest.approx(-1.0)


def test_kappa_is_undefined_when_expected_agreement_is_one() -> None:
    """Both sides call all 4 good: p_e = (4*4 + 0*0) / 16 = 1, kappa = 0/0 -> None (p_o is still 1)."""
    t = Table(a=4)
    assert expected_agreement(t) == 1.0 and cohen_kappa(t) is None and agreement_rate(t) == 1.0
    assert cohen_kappa(Table(d=2)) is None
    empty = Table()
    assert (agreement_rate(empty), expected_agreement(empty), cohen_kappa(empty)) == (None, None, None)


def test_components_outside_zero_one_are_skipped() -> None:
    values = [{"has_word": 1.0, "chars": 12.0}, {"has_word": 0.0, "chars": 0.5}, {}]
    verdicts, skipped = judge_components(values, threshold=0.5)
    assert verdicts == [{"has_word": True}, {"has_word": False}, {}]
    assert [s["name"] for s in skipped] == ["chars"]


def test_report_overall_per_component_and_disagreements_first() -> None:
    rated = [
        Rated("r1", expert_good=True, reward=1.0, reward_good=True, component_good={"x": True, "y": False}),
        Rated("r2", expert_good=False, reward=0.9, reward_good=True, component_good={"x": False, "y": False}),
        Rated("r3", expert_good=False, reward=None, reward_good=None),  # the grader failed
        Rated("r4", expert_good=False, reward=0.0, reward_good=False, component_good={"x": False}),
    ]
    out = report(rated)
    # overall over r1, r2, r4: a=1, c=1, d=1 -> p_o = 2/3; p_e = (1*2 + 2*1) / 9 = 4/9;
    # kappa = (2/3 - 4/9) / (5/9) = (2/9) / (5/9) = 0.4
    assert out["overall"]["n"] == 3 and out["overall"]["agreed"] == 2
    assert out["overall"]["agreement_rate"] == pytest.approx(2 / 3)
    assert out["overall"]["cohen_kappa"] == pytest.approx(0.4)
    assert out["overall"]["table"]["expert_bad_reward_good"] == 1
    assert out["unscored"] == 1 and out["disagreement_ids"] == ["r2"]
    by_name = {c["name"]: c for c in out["components"]}
    # x: r1 (T,T) r2 (F,F) r4 (F,F): all agree, p_e = (1*1 + 2*2)/9 = 5/9, kappa 1
    assert by_name["x"]["agreement_rate"] == 1.0 and by_name["x"]["cohen_kappa"] == pytest.approx(1.0)
    # y: r1 (T,F) r2 (F,F): p_o = 1/2; reward never says good: p_e = (1*0 + 1*2)/4 = 1/2, kappa 0
    assert by_name["y"]["n"] == 2 and by_name["y"]["cohen_kappa"] == pytest.approx(0.0)
    assert [r.rating_id for r in disagreements_first(rated)] == ["r2", "r3", "r1", "r4"]
