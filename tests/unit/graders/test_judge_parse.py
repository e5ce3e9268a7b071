"""Reading judge replies: numbers and labels in the forms judges actually write."""

from __future__ import annotations

import pytest

from openrft.graders.errors import GradeError
from openrft.graders.judge_parse import parse_label, parse_score


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ('{"steps": [], "result": 0.8}', 0, 1, 0.8),
        ('```json\n{"result": 7}\n```', 0, 10, 7.0),
        ('Reasoning... final: {"result": 3, "steps": []} done', 0, 5, 3.0),
        ("0.25", 0, 1, 0.25),
        ("Score: 7/10", 0, 1, 0.7),
        ("Score: 7/10", 0, 10, 7.0),
        ("I'd give it 3 out of 4.", 0, 1, 0.75),
        ("**Rating**: 4", 1, 5, 4.0),
        ("score = 0.9 (after 2 checks)", 0, 1, 0.9),
        ("The answer deserves a 12", 0, 10, 10.0),  # clipped to the range
        ('{"result": -3}', 0, 1, 0.0),
        ('{"score": "0.5"}', 0, 1, 0.5),
        ('{"result": "6/8"}', 0, 1, 0.75),
    ],
)
def test_parse_score(text: str, low: float, high: float, expected: float) -> None:
    assert parse_score(text, low, high) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["no idea", "between 3 and 4", '{"result": "great"}', '{"result": NaN}', "1e999"])
def test_unparseable_scores(text: str) -> None:
    with pytest.raises(GradeError) as info:
        parse_score(text, 0, 1)
    assert info.value.family == "model_grader_parse_error"


LABELS = ["positive", "neutral", "negative"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"steps": [], "result": "negative"}', "negative"),
        ("Positive.", "positive"),
        ('"neutral"', "neutral"),
        ("The sentiment here is clearly negative overall", "negative"),
    ],
)
def test_parse_label(text: str, expected: str) -> None:
    assert parse_label(text, LABELS) == expected


@pytest.mark.parametrize("text", ["happy", "positive or negative", '{"result": "mixed"}'])
def test_unparseable_labels(text: str) -> None:
    with pytest.raises(GradeError):
        parse_label(text, LABELS)
