"""How far a reward agrees with the experts: agreement rate and Cohen's kappa over good/bad verdicts.

Each rated completion has two verdicts: the expert's (`good` or `bad`) and the reward's, `good` when its
score is at or above a threshold (0.5 unless the caller names one). Over n rated completions the four
counts of the 2x2 table are

                      reward good   reward bad
    expert good           a             b
    expert bad            c             d

- agreement rate p_o = (a + d) / n: the share of completions both call the same;
- expected agreement p_e = P(expert good) P(reward good) + P(expert bad) P(reward bad)
  = ((a + b)(a + c) + (c + d)(b + d)) / n^2: what two independent raters with the same marginals would
  agree on by chance;
- Cohen's kappa = (p_o - p_e) / (1 - p_e): 1 is perfect agreement, 0 no better than chance, below 0
  worse. When p_e = 1 (both sides gave one and the same verdict to everything) kappa is 0/0: undefined,
  reported as None rather than a made-up number.

The report is computed overall and per component: each grader component of a training sample (its
metrics_list values, or a multi grader's sub-scores), or each testing criterion of an eval output item.
A training component is judged at the same threshold only when every value it took lies in [0, 1]
(a score); one outside (a length, a count) is a measure, not a verdict, and is listed as skipped.
Pure functions: no store, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Table:
    """The 2x2 table: a = both good, b = expert good / reward bad, c = expert bad / reward good, d = both bad."""

    a: int = 0
    b: int = 0
    c: int = 0
    d: int = 0

    @property
    def n(self) -> int:
        return self.a + self.b + self.c + self.d


def table(pairs: Iterable[tuple[bool, bool]]) -> Table:
    """(expert_good, reward_good) pairs -> their 2x2 table."""
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for expert_good, reward_good in pairs:
        counts[(bool(expert_good), bool(reward_good))] += 1
    return Table(counts[(True, True)], counts[(True, False)], counts[(False, True)], counts[(False, False)])


def agreement_rate(t: Table) -> float | None:
    """p_o = (a + d) / n; None with no pairs."""
    return (t.a + t.d) / t.n if t.n else None


def expected_agreement(t: Table) -> float | None:
    """p_e = ((a + b)(a + c) + (c + d)(b + d)) / n^2: chance agreement with the same marginals."""
    if not t.n:
        return None
    return ((t.a + t.b) * (t.a + t.c) + (t.c + t.d) * (t.b + t.d)) / (t.n * t.n)


def cohen_kappa(t: Table) -> float | None:
    """(p_o - p_e) / (1 - p_e); None with no pairs or when p_e = 1 (kappa is 0/0 there)."""
    p_o, p_e = agreement_rate(t), expected_agreement(t)
    if p_o is None or p_e is None or p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def summary(t: Table) -> dict[str, Any]:
    """The figures of one table, as the API returns them."""
    return {
        "n": t.n,
        "agreed": t.a + t.d,
        "agreement_rate": agreement_rate(t),
        "cohen_kappa": cohen_kappa(t),
        "expected_agreement": expected_agreement(t),
        "table": {
            "expert_good_reward_good": t.a,
            "expert_good_reward_bad": t.b,
            "expert_bad_reward_good": t.c,
            "expert_bad_reward_bad": t.d,
        },
    }


def is_good(score: float | None, threshold: float) -> bool | None:
    """The reward's verdict on a score: good at or above the threshold; None without a score (an error)."""
    return None if score is None else score >= threshold


@dataclass(frozen=True)
class Rated:
    """One rated completion: the expert's verdict and what the reward made of it.

    `reward_good` is the reward's overall verdict (None: it has none, e.g. the grader failed);
    `component_good` each component's verdict by name, beside the scores they came from (for display).
    """

    rating_id: str
    expert_good: bool
    reward: float | None
    reward_good: bool | None
    components: dict[str, float] = field(default_factory=dict)
    component_good: dict[str, bool] = field(default_factory=dict)


def judge_components(
    values: Sequence[dict[str, float]], threshold: float
) -> tuple[list[dict[str, bool]], list[dict[str, str]]]:
    """Verdicts of training components: per completion {name: value >= threshold} for the components that
    are scores (every value in [0, 1]), and the skipped ones [{name, reason}]."""
    names = sorted({name for parts in values for name in parts})
    scores = {n for n in names if all(0.0 <= parts[n] <= 1.0 for parts in values if n in parts)}
    skipped = [
        {"name": n, "reason": "its values leave [0, 1]: a measure beside the reward, not a score"}
        for n in names
        if n not in scores
    ]
    verdicts = [{n: v >= threshold for n, v in parts.items() if n in scores} for parts in values]
    return verdicts, skipped


def report(rated: Sequence[Rated]) -> dict[str, Any]:
    """Overall and per-component agreement, and the ids of the disagreements (expert and reward differ).

    A completion the reward has no verdict on (a grading error) is left out of that table: it is neither
    an agreement nor a disagreement, and `unscored` counts it.
    """
    overall = table((r.expert_good, r.reward_good) for r in rated if r.reward_good is not None)
    names = sorted({name for r in rated for name in r.component_good})
    per_component = []
    for name in names:
        t = table((r.expert_good, r.component_good[name]) for r in rated if name in r.component_good)
        per_component.append({"name": name, **summary(t)})
    disagreements = [r.rating_id for r in rated if r.reward_good is not None and r.reward_good != r.expert_good]
    return {
        "overall": summary(overall),
        "components": per_component,
        "unscored": sum(1 for r in rated if r.reward_good is None),
        "disagreement_ids": disagreements,
    }


def disagreements_first(rated: Sequence[Rated]) -> list[Rated]:
    """The disagreements (in their given order), then the unscored, then the agreements."""

    def rank(r: Rated) -> int:
        if r.reward_good is None:
            return 1
        return 0 if r.reward_good != r.expert_good else 2

    return sorted(rated, key=rank)  # sorted is stable: each kind keeps its order
