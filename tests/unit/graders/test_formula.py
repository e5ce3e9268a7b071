"""The calculate_output evaluator: arithmetic worked by hand, and everything unsafe refused."""

from __future__ import annotations

import math

import pytest

from openrft.graders.formula import FormulaError, evaluate, parse_formula

NAMES = ("a", "b", "compliant")
VALUES = {"a": 0.5, "b": 2.0, "compliant": 1.0}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("0.5 * compliant + 0.5 * a", 0.75),
        ("a + b * 2", 4.5),
        ("(a + b) * 2", 5.0),
        ("b ^ 3", 8.0),
        ("2 * b ^ 2", 8.0),  # ^ binds tighter than *
        ("-b ^ 2", -4.0),  # unary minus after the power, as in mathematics
        ("2 ^ 3 ^ 2", 512.0),  # right-associative
        ("b / 4 - a", 0.0),
        ("min(a, b, 0.1)", 0.1),
        ("max(a, b)", 2.0),
        ("abs(a - b)", 1.5),
        ("floor(b + a)", 2.0),
        ("ceil(a)", 1.0),
        ("exp(0)", 1.0),
        ("sqrt(b * 8)", 4.0),
        ("log(exp(2))", 2.0),
        ("log(8, b)", 3.0),
        ("-(-a)", 0.5),
        ("7", 7.0),
    ],
)
def test_evaluate(formula: str, expected: float) -> None:
    assert evaluate(parse_formula(formula, NAMES), VALUES) == pytest.approx(expected)


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "a.__class__",
        "[a][0]",
        "a if b else 1",
        "a < b",
        "'x'",
        "lambda: 1",
        "open('/etc/passwd')",
        "min(a, key=b)",
        "unknown + 1",
        "a ** 2",
        "a and b",
        "True",
        "",
        "a +",
        "sqrt(a, b)",
        "(a for a in b)",
    ],
)
def test_refused(formula: str) -> None:
    with pytest.raises(FormulaError):
        parse_formula(formula, NAMES)


def test_runtime_errors_are_exceptions_not_crashes() -> None:
    with pytest.raises(ZeroDivisionError):
        evaluate(parse_formula("a / (b - 2)", NAMES), VALUES)
    with pytest.raises(ValueError):
        evaluate(parse_formula("sqrt(a - b)", NAMES), VALUES)
    with pytest.raises(ValueError):
        evaluate(parse_formula("(a - b) ^ 0.5", NAMES), VALUES)
    with pytest.raises(OverflowError):
        evaluate(parse_formula("10 ^ 10 ^ 10", NAMES), VALUES)
    assert math.isclose(evaluate(parse_formula("10 ^ 2", NAMES), VALUES), 100.0)
