"""JSON from outside the process, parsed with limits: nesting depth, and only what JSON allows.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` (not JSON; they poison rewards and losses),
and gives up on deep nesting with a RecursionError, which would surface as a 500 and, in code that
walks the value later, crash further in. Everything a tenant sends as JSON (fine-tune lines, request
bodies, function responses, model outputs read as JSON) goes through `loads` instead: too deep, or a
non-finite constant, is a `JSONLimitError` (a ValueError) with a message fit for the client.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # levels of arrays/objects; a chat line with tools and JSON-schema parameters needs ~12


class JSONLimitError(ValueError):
    """Valid-looking JSON refused by a limit: nested too deeply, or NaN/Infinity."""


def _refuse_constant(name: str) -> Any:
    raise JSONLimitError(f"{name} is not valid JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONLimitError(f"{text} is out of range (numbers must be finite)")
    return value


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, finite: bool = True) -> Any:
    """`json.loads`, refusing values nested more than `max_depth` levels and (when `finite`) NaN/Infinity.

    `finite=False` keeps Python's reading of NaN/Infinity, for callers that flag them per value (a
    reward function's scores). Raises json.JSONDecodeError for malformed text (both are ValueErrors)
    and JSONLimitError for a limit.
    """
    checks: dict[str, Any] = {"parse_constant": _refuse_constant, "parse_float": _finite_float} if finite else {}
    try:
        value = json.loads(text, **checks)
    except RecursionError:
        raise JSONLimitError(f"JSON nested more than {max_depth} levels deep") from None
    if depth_exceeds(value, max_depth):
        raise JSONLimitError(f"JSON nested more than {max_depth} levels deep")
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when `value` nests lists/dicts more than `max_depth` levels (iterative: any depth is safe)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
