"""Testing criteria: pass rules per grader kind on numbers worked by hand, and the per-item verdict."""

from __future__ import annotations

from typing import Any

import pytest

from openrft.errors import InvalidRequest
from openrft.evals import criteria as crit
from openrft.evals import datasource, definitions
from openrft.graders import GradingContext, Sample

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.a}}",
    "operation": "eq",
}


def similarity(threshold: float) -> dict[str, Any]:
    return {
        "type": "text_similarity",
        "name": "sim",
        "input": "{{sample.output_text}}",
        "reference": "{{item.a}}",
        "evaluation_metric": "fuzzy_match",
        "pass_threshold": threshold,
    }


def python(source: str, **extra: Any) -> dict[str, Any]:
    return {"type": "python", "name": "py", "source": source, **extra}


CTX = GradingContext(project_id="proj_test")


def grade(raw: list[dict[str, Any]], outputs: list[str], items: list[dict[str, Any]]) -> list[tuple[list[dict], bool]]:
    parsed = crit.parse_criteria(raw)
    return crit.grade_items(parsed, [Sample(output_text=o) for o in outputs], items, CTX)


def test_pass_rules_by_kind() -> None:
    c = {"type": "string_check", "id": "x"}
    assert crit.passes(c, 1.0) and not crit.passes(c, 0.0)
    label = {"type": "label_model", "id": "x"}
    assert crit.passes(label, 1.0) and not crit.passes(label, 0.0)
    # thresholds: score >= pass_threshold, and 0.5 where none is given
    assert crit.passes({"type": "text_similarity", "pass_threshold": 0.8}, 0.8)
    assert not crit.passes({"type": "text_similarity", "pass_threshold": 0.8}, 0.79)
    for kind in ("python", "score_model", "multi", "lambda"):
        assert crit.passes({"type": kind}, 0.5) and not crit.passes({"type": kind}, 0.49)
        assert crit.passes({"type": kind, "pass_threshold": 2.0}, 2.0)
        assert not crit.passes({"type": kind, "pass_threshold": 2.0}, 1.9)


def test_fuzzy_threshold_on_hand_worked_similarity() -> None:
    # "hellp" vs "hello": one substitution in 5 characters, rapidfuzz ratio = 1 - 2/10 = 0.8 (0.8 passes 0.8).
    (ok, ok_passed), (bad, bad_passed) = grade([similarity(0.8)], ["hellp", "help!"], [{"a": "hello"}] * 2)
    assert ok[0]["score"] == pytest.approx(0.8) and ok_passed
    # "help!" is processed to "help" (punctuation dropped): ratio = 2 * 3 matching / (4 + 5) = 0.667 < 0.8
    assert bad[0]["score"] == pytest.approx(2 / 3) and not bad_passed


def test_an_item_passes_when_every_criterion_passes() -> None:
    rows = grade([EXACT, similarity(0.5)], ["hello", "hellp", "zzzzz"], [{"a": "hello"}] * 3)
    assert [passed for _, passed in rows] == [True, False, False]
    assert [[r["passed"] for r in results] for results, _ in rows] == [[True, True], [False, True], [False, False]]
    results, _ = rows[0]
    assert [(r["name"], r["type"], r["score"], r["sample"]) for r in results] == [
        ("exact", "string_check", 1.0, None),
        ("sim", "text_similarity", 1.0, None),
    ]
    ids = [c["testing_criteria"] for c in results]
    assert ids[0].startswith("exact-") and ids[1].startswith("sim-")


def test_default_threshold_and_multi_sub_rewards() -> None:
    # No pass_threshold: score >= 0.5. "hello": e = s = 1, so 1 * 0.5 = 0.5 passes;
    # "hellp": s = 0.8, so 0.8 * 0.5 = 0.4 does not.
    half_e = {"type": "multi", "name": "he", "graders": {"e": EXACT}, "calculate_output": "e * 0.5"}
    half_s = {"type": "multi", "name": "hs", "graders": {"s": similarity(0.0)}, "calculate_output": "s * 0.5"}
    ((results, passed),) = grade([half_e, half_s], ["hello"], [{"a": "hello"}])
    assert [r["passed"] for r in results] == [True, True] and passed
    ((results, passed),) = grade([half_s], ["hellp"], [{"a": "hello"}])
    assert results[0]["score"] == pytest.approx(0.4) and not passed
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {"e": EXACT, "s": similarity(0.0)},
        "calculate_output": "(e + s) / 2",
        "pass_threshold": 0.9,
    }
    ((results, passed),) = grade([multi], ["hellp"], [{"a": "hello"}])
    # e = 0, s = 0.8: (0 + 0.8) / 2 = 0.4 < 0.9
    assert results[0]["score"] == pytest.approx(0.4) and not passed
    assert results[0]["sample"]["sub_rewards"] == pytest.approx({"e": 0.0, "s": 0.8})


def test_a_grader_error_fails_and_marks_the_item_errored() -> None:
    missing_var = {**EXACT, "reference": "{{item.b}}"}
    ((results, passed),) = grade([missing_var], ["x"], [{"a": "x"}])
    assert not passed and not results[0]["passed"] and results[0]["score"] == 0.0
    assert results[0]["sample"]["error"]["code"] == "invalid_variable_error"
    assert crit.is_errored(results)
    ok, _ = grade([EXACT], ["x"], [{"a": "x"}])[0]
    assert not crit.is_errored(ok)


def test_parse_normalizes_ids_and_thresholds() -> None:
    (c,) = crit.parse_criteria([python("def grade(s, i):\n    return 1\n", pass_threshold=1)])
    assert c["pass_threshold"] == 1.0 and isinstance(c["pass_threshold"], float)
    assert c["id"].startswith("py-") and len(c["id"]) == len("py-") + 36
    lam = crit.parse_criteria([{"type": "lambda", "lambda": {"function": "reward"}}])[0]
    assert lam["name"] == "lambda" and lam["id"].startswith("lambda-")
    with pytest.raises(InvalidRequest) as err:
        crit.parse_criteria([EXACT, {"type": "label_model", "name": "l"}], param="grader")
    assert err.value.param is not None and err.value.param.startswith("grader[1].")


def test_template_variables_and_what_reads_the_sample() -> None:
    judge = {
        "type": "score_model",
        "name": "j",
        "model": "m",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "{{item.q}} {{sample.output_text}}"}]}],
    }
    parsed = crit.parse_criteria([{**EXACT, "input": "{{item.a}}"}, judge])
    found = crit.template_variables(parsed)
    assert found == [
        ("testing_criteria[0].input", ("item", ("a",))),
        ("testing_criteria[0].reference", ("item", ("a",))),
        ("testing_criteria[1].input[0].content", ("item", ("q",))),
        ("testing_criteria[1].input[0].content", ("sample", ("output_text",))),
    ]
    assert crit.reads_sample(parsed) == "testing_criteria[1].input[0].content"
    assert crit.reads_sample(parsed[:1]) is None
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with pytest.raises(InvalidRequest) as err:
        definitions.check_item_variables(schema, found)
    assert err.value.param == "testing_criteria[1].input[0].content" and "item.q" in err.value.message


def test_custom_config_wraps_item_and_sample() -> None:
    config = definitions.parse_data_source_config(
        {"type": "custom", "item_schema": {"type": "object"}, "include_sample_schema": True}
    )
    assert config["schema"]["required"] == ["item", "sample"]
    assert definitions.item_schema_of(config) == {"type": "object"} and definitions.has_sample_schema(config)
    assert definitions.item_properties({"type": "object"}) is None
    assert definitions.item_properties({"properties": {}, "additionalProperties": False}) == set()


def test_render_input_and_item_reference() -> None:
    template = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "Q: {{item.q}}"}]},
    ]
    assert datasource.render_input(template, {"q": "2+2?"}) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: 2+2?"},
    ]
    item = {"history": [{"role": "user", "content": "hi", "name": "x"}]}
    assert datasource.reference_input("item.history", item) == [{"role": "user", "content": "hi"}]


def test_evals_file_lines() -> None:
    rows = list(datasource.iter_eval_rows([b'{"item": {"a": 1}, "sample": {"output_text": "x"}}\n\n{"a": 2}\n']))
    assert rows == [{"item": {"a": 1}, "sample": {"output_text": "x"}}, {"item": {"a": 2}, "sample": None}]
    # a line with other keys besides "item" is a bare item that happens to have an "item" field
    assert datasource.parse_eval_line(b'{"item": 1, "b": 2}', 1) == {"item": {"item": 1, "b": 2}, "sample": None}
    sample = datasource.grader_sample({"choices": [{"message": {"content": "from choices"}}]})
    assert sample.output_text == "from choices"
