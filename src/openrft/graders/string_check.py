"""`string_check`: compare the rendered input with the rendered reference; 1.0 on a match, else 0.0.

eq: equal (case-sensitive); ne: not equal; like: input contains reference; ilike: contains, ignoring case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openrft.graders.context import GradingContext, Outcome, per_sample
from openrft.graders.schemas import StringCheckGrader
from openrft.graders.templates import render

OPERATIONS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda text, ref: text == ref,
    "ne": lambda text, ref: text != ref,
    "like": lambda text, ref: ref in text,
    "ilike": lambda text, ref: ref.casefold() in text.casefold(),
}


def check(operation: str, text: str, reference: str) -> float:
    return 1.0 if OPERATIONS[operation](text, reference) else 0.0


def grade_many(grader: StringCheckGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    op = grader.operation
    return per_sample(lambda env: check(op, render(grader.input, env), render(grader.reference, env)), envs)
