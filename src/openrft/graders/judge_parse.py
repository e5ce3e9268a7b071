"""Reading a judge's reply: a number for score_model, a label for label_model.

Judges are asked for OpenAI's structured output `{"steps": [...], "result": x}`, but many endpoints
(and small local models) answer in prose, so the parser accepts, in this order:
1. JSON (bare or in a ```json fence, or the first {...} in the text) with a `result` (or `score`/`label`);
2. a fraction: "Score: 7/10", "7 out of 10" -> low + 0.7 * (high - low) of the grader's range;
3. a labelled number: "score: 0.8", "Rating = 4";
4. the only number in the text, or the whole reply if it is one number.
Anything else is a `model_grader_parse_error` for that sample.
"""

from __future__ import annotations

import math
import re
from typing import Any

from openrft import safejson
from openrft.graders.errors import GradeError

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_FRACTION = re.compile(rf"({_NUM})\s*(?:/|out of)\s*({_NUM})", re.IGNORECASE)
_LABELLED = re.compile(rf"\b(?:score|result|rating|grade|reward)\b\s*[:=]?\s*\**\s*({_NUM})", re.IGNORECASE)
_NUMBERS = re.compile(_NUM)
_RESULT_KEYS = ("result", "score", "label", "grade")


def _json_result(text: str) -> tuple[bool, Any]:
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    found = _OBJECT.search(text)
    if found:
        candidates.append(found.group(0))
    for candidate in candidates:
        try:
            value = safejson.loads(candidate)
        except ValueError:  # malformed, too deep or NaN: not a verdict
            continue
        if isinstance(value, dict):
            for key in _RESULT_KEYS:
                if key in value:
                    return True, value[key]
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            return True, value
    return False, None


def _finite(value: float, text: str) -> float:
    if not math.isfinite(value):
        raise GradeError("model_grader_parse_error", f"judge returned a non-finite score: {text[:200]!r}")
    return value


def parse_score(text: str, low: float, high: float) -> float:
    """The judge's score, clipped to [low, high]."""
    found, value = _json_result(text)
    if found:
        try:
            return min(max(_finite(float(value), text), low), high)
        except (TypeError, ValueError):
            pass  # e.g. {"result": "7/10"}: read it as text below
        text = str(value)
    fraction = _FRACTION.search(text)
    if fraction and float(fraction.group(2)) > 0:
        share = float(fraction.group(1)) / float(fraction.group(2))
        return min(max(_finite(low + share * (high - low), text), low), high)
    labelled = _LABELLED.search(text)
    numbers = _NUMBERS.findall(text)
    if labelled or len(numbers) == 1:
        raw = labelled.group(1) if labelled else numbers[0]
        return min(max(_finite(float(raw), text), low), high)
    raise GradeError("model_grader_parse_error", f"no score found in the judge's reply: {text[:300]!r}")


def _match_label(candidate: str, labels: list[str]) -> str | None:
    cleaned = candidate.strip().strip("\"'`.*!").strip()
    for label in labels:
        if cleaned == label or cleaned.casefold() == label.casefold():
            return label
    return None


def parse_label(text: str, labels: list[str]) -> str:
    """The one label of `labels` the judge chose."""
    found, value = _json_result(text)
    if found and isinstance(value, str) and (label := _match_label(value, labels)):
        return label
    if label := _match_label(text, labels):
        return label
    mentioned = [lb for lb in labels if re.search(rf"(?<!\w){re.escape(lb)}(?!\w)", text, re.IGNORECASE)]
    if len(mentioned) == 1:
        return mentioned[0]
    raise GradeError("model_grader_parse_error", f"expected one of {labels} in the judge's reply, got: {text[:300]!r}")
