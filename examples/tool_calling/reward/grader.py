"""The tool-calling example's reward: an OpenAI `python` grader scoring the model's tool calls.

`grade(sample, item)` reads the calls as graders see them, `sample["output_tools"]` (OpenAI's shape:
`{"type": "function", "function": {"name", "arguments": <JSON string>}}`), and compares the first one
with the row's `expected_call` ({"name", "arguments": {...}}), in thirds as AWS's BFCL reward does:

- 1/3 the function's name;
- 1/3 the argument names: the share of the expected ones present, less the share of unexpected ones;
- 1/3 the argument values: the share of expected arguments with the right value (a string compared
  case-insensitively, a number as a number, so "20" and 20.0 both match 20).

Extra calls dilute the score (it is divided by the number of calls), no call or unreadable arguments
score 0. Partial credit matters for a small model: a group of samples that all score 0 teaches nothing,
and the right function with one wrong value is a step towards the right call.
"""

from __future__ import annotations

import json
from typing import Any


def same_value(got: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, int | float):
        try:
            return float(got) == float(want)
        except (TypeError, ValueError):
            return False
    if isinstance(want, str) and isinstance(got, str):
        return got.strip().lower() == want.strip().lower()
    return bool(got == want)


def call_score(call: Any, expected: dict[str, Any]) -> float:
    """One call (OpenAI's shape) against the expected {"name", "arguments"}: 0..1 in thirds."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return 0.0
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except (TypeError, ValueError):
        return 0.0
    if not isinstance(arguments, dict):
        return 0.0
    want = expected["arguments"]
    name = 1.0 if function.get("name") == expected["name"] else 0.0
    if not want:
        keys = values = 1.0 if not arguments else 0.0
    else:
        present = sum(1 for k in want if k in arguments) / len(want)
        unexpected = sum(1 for k in arguments if k not in want) / len(want)
        keys = max(0.0, present - unexpected)
        values = sum(1 for k, v in want.items() if k in arguments and same_value(arguments[k], v)) / len(want)
    return (name + keys + values) / 3


def grade(sample: dict[str, Any], item: dict[str, Any]) -> float:
    calls = sample.get("output_tools") or []
    if not calls:
        return 0.0
    return round(call_score(calls[0], item["expected_call"]) / len(calls), 4)
