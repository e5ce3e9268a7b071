"""`multi`: run named sub-graders, then combine their scores with the `calculate_output` formula.

Every sub-grader grades the whole batch (model graders concurrently); a sample whose sub-grader failed
takes that error (reward 0), and a formula that fails numerically for a sample (division by zero, log
of a negative score, overflow) is an `other_error` for it. `Outcome.sub` keeps each sub-grader's outcome:
the run endpoint's `sub_rewards` and the per-grader metrics come from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from openrft.graders.context import GradingContext, Outcome, TokenUsage
from openrft.graders.formula import evaluate, parse_formula
from openrft.graders.schemas import MultiGrader

GradeMany = Callable[[Any, list[dict[str, Any]], GradingContext], list[Outcome]]


def _combine(formula: Any, subs: dict[str, Outcome]) -> Outcome:
    out = Outcome(sub=subs, latency_s=sum(o.latency_s for o in subs.values()))
    for outcome in subs.values():
        for model, usage in outcome.usage.items():
            out.usage.setdefault(model, TokenUsage()).add(usage)
        out.extra_metrics.update(outcome.extra_metrics)
        out.audit = out.audit or outcome.audit
    failed = next(((name, o) for name, o in subs.items() if o.error), None)
    if failed is not None:
        out.error, out.details = failed[1].error, f"[{failed[0]}] {failed[1].details or ''}"
        return out
    try:
        value = evaluate(formula, {name: o.score for name, o in subs.items()})
        if not math.isfinite(value):
            raise ValueError(f"result is {value}")
        out.score = value
    except (ArithmeticError, ValueError, TypeError) as exc:
        out.error, out.details = "other_error", f"calculate_output failed: {exc}"
    return out


def grade_many(
    grader: MultiGrader, envs: list[dict[str, Any]], ctx: GradingContext, grade_sub: GradeMany
) -> list[Outcome]:
    formula = parse_formula(grader.calculate_output, grader.graders.keys())
    per_grader = {name: grade_sub(sub, envs, ctx) for name, sub in grader.graders.items()}
    return [_combine(formula, {name: outs[i] for name, outs in per_grader.items()}) for i in range(len(envs))]
