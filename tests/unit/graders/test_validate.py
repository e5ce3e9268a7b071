"""validate_grader: normalization, and every refused grader with the field it names."""

from __future__ import annotations

from typing import Any

import pytest

from openrft.errors import InvalidRequest
from openrft.graders import GraderValidationError, redact, validate_grader

SC = {
    "type": "string_check",
    "name": "sc",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.a }}",
    "operation": "eq",
}
TS = {
    "type": "text_similarity",
    "name": "ts",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.a }}",
    "evaluation_metric": "bleu",
    "pass_threshold": 0.5,
}
PY = {"type": "python", "name": "py", "source": "def grade(sample, item):\n    return 1.0\n", "image_tag": "2025-05-08"}
SM = {
    "type": "score_model",
    "name": "sm",
    "model": "judge",
    "range": [0, 10],
    "input": [
        {"role": "system", "content": "Grade."},
        {"role": "user", "type": "message", "content": [{"type": "input_text", "text": "{{ sample.output_text }}"}]},
    ],
    "sampling_params": {"temperature": 0, "seed": 1, "max_completions_tokens": 50},
    "openrft": {"api_base": "http://93.184.215.14/v1", "api_key": "sk-secret"},  # a public address
}
LM = {
    "type": "label_model",
    "name": "lm",
    "model": "judge",
    "input": [{"role": "user", "content": "{{ sample.output_text }}"}],
    "labels": ["good", "bad"],
    "passing_labels": ["good"],
}


def multi(graders: Any, formula: str = "sc") -> dict[str, Any]:
    return {"type": "multi", "name": "m", "graders": graders, "calculate_output": formula}


@pytest.mark.parametrize("grader", [SC, TS, PY, SM, {"type": "lambda", "lambda": {"function": "reward:3"}}])
def test_valid_graders_round_trip(grader: dict[str, Any]) -> None:
    out = validate_grader(grader)
    assert out["type"] == grader["type"]
    assert validate_grader(out) == out


def test_multi_forms_are_keyed_by_name() -> None:
    as_dict = validate_grader(multi({"sc": SC, "lm": LM}, "0.5 * sc + 0.5 * lm"))
    assert set(as_dict["graders"]) == {"sc", "lm"}
    as_list = validate_grader(multi([SC, LM], "sc * lm"))
    assert as_list["graders"]["sc"] == as_dict["graders"]["sc"]
    single = validate_grader(multi(SC, "sc"))
    assert list(single["graders"]) == ["sc"]


def test_defaults_dropped_and_echoed() -> None:
    out = validate_grader(TS)
    assert out["pass_threshold"] == 0.5
    assert "image_tag" not in validate_grader({k: v for k, v in PY.items() if k != "image_tag"})


def test_redact_hides_inline_keys() -> None:
    shown = redact(validate_grader(multi({"sm": SM}, "sm")))
    assert shown["graders"]["sm"]["openrft"]["api_key"] == "***"


BAD: list[tuple[Any, str, str]] = [
    ("not an object", "grader", "must be an object"),
    ({"type": "nope", "name": "x"}, "grader.type", "unknown grader type"),
    ({**SC, "operation": "neq"}, "grader.operation", "'eq', 'ne', 'like' or 'ilike'"),
    ({**TS, "evaluation_metric": "rouge_9"}, "grader.evaluation_metric", "Input should be"),
    ({**SC, "input": "{{ foo.bar }}"}, "grader.input", "invalid template"),
    ({**SC, "reference": "{{ item.x"}, "grader.reference", "unbalanced"),
    ({**SC, "extra_field": 1}, "grader.extra_field", "Extra inputs"),
    ({k: v for k, v in SC.items() if k != "name"}, "grader.name", "Field required"),
    (LM, "grader.type", "only allowed inside a multi"),
    (multi({"inner": multi({"sc": SC})}, "inner"), "grader.graders.inner.type", "cannot contain another multi"),
    (multi({"sc": {**SC, "operation": "bad"}}), "grader.graders.sc.operation", "Input should be"),
    (multi({"sc": SC}, "__import__('os')"), "grader.calculate_output", "formula_parse_error"),
    (multi({"sc": SC}, "sc + other"), "grader.calculate_output", "unknown name 'other'"),
    (multi({}), "grader.graders", "non-empty"),
    (multi([SC, SC]), "grader.graders.1.name", "duplicate"),
    ({**PY, "source": "def grade(sample):\n    return 1\n"}, "grader.source", "exactly two arguments"),
    ({**PY, "source": "def grade(sample, item, extra):\n    return 1\n"}, "grader.source", "exactly two"),
    ({**PY, "source": "def grade(sample, item)\n    return 1\n"}, "grader.source", "does not compile: line 1"),
    ({**PY, "source": "x = 1\n"}, "grader.source", "must define"),
    ({**PY, "source": "def grade(s, i):\n    return 1\n#" + "x" * 262_144}, "grader.source", "under 262144 bytes"),
    ({**SM, "range": [1, 0]}, "grader.range", "low < high"),
    ({**SM, "range": [0, 1, 2]}, "grader.range", "two numbers"),
    ({**SM, "input": []}, "grader.input", "at least one message"),
    ({**SM, "input": [{"role": "robot", "content": "x"}]}, "grader.input.0.role", "Input should be"),
    ({**SM, "input": [{"role": "user", "content": "{{ smaple.x }}"}]}, "grader.input.0.content", "invalid template"),
    ({**SM, "openrft": {"api_base": "ftp://x"}}, "grader.openrft.api_base", "http(s) URL"),
    (
        {**SM, "openrft": {"api_base": "http://93.184.215.14/v1", "api_key_env": "OPENRFT_ADMIN_KEY"}},
        "grader.openrft.api_key_env",
        "not one of the secrets the operator allows",
    ),
    ({**SM, "openrft": {"api_key_env": "JUDGE_KEY"}}, "grader.openrft.api_key_env", "only sent to an api_base"),
    ({**SM, "openrft": {"api_base": "http://127.0.0.1:9/v1"}}, "grader.openrft.api_base", "OPENRFT_OUTBOUND_ALLOW"),
    ({"type": "lambda", "lambda": {"function": "http://169.254.169.254/x"}}, "grader.lambda.function", "link-local"),
    (
        multi({"fn": {"type": "lambda", "name": "fn", "lambda": {"function": "http://10.0.0.1/"}}}, "fn"),
        "grader.graders.fn.lambda.function",
        "private addresses",
    ),
    ({**SM, "sampling_params": {"top_p": 2}}, "grader.sampling_params.top_p", "less than or equal"),
    (multi({"lm": {**LM, "passing_labels": ["great"]}}, "lm"), "grader.graders.lm.passing_labels", "subset of labels"),
    (multi({"lm": {**LM, "labels": ["a", "a"]}}, "lm"), "grader.graders.lm.labels", "distinct"),
    ({"type": "lambda", "lambda": {"function": ""}}, "grader.lambda.function", "at least 1 character"),
]


@pytest.mark.parametrize(("grader", "param", "message"), BAD)
def test_refused(grader: Any, param: str, message: str) -> None:
    with pytest.raises(GraderValidationError) as info:
        validate_grader(grader)
    assert isinstance(info.value, InvalidRequest)
    assert info.value.param == param
    assert message in info.value.message
