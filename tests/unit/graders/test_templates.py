"""Templates: namespaces, nested and indexed access, JSON rendering, unresolved variables."""

from __future__ import annotations

import pytest

from openrft.graders.context import Sample
from openrft.graders.errors import GradeError
from openrft.graders.templates import TemplateSyntaxError, check_template, parse_variable, render

TOOLS = [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
ENV = {
    "sample": Sample(output_text="hi", output_json={"a": {"b": [10, 20]}, "n": 3}, output_tools=TOOLS).namespace(),
    "item": {"answer": "42", "ground_truth": {"date": "2024-01-02"}, "list": ["x", "y"], "odd key": 1, "none": None},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ sample.output_text }}", "hi"),
        ("{{sample.output_text}}", "hi"),
        ("a={{  item.answer  }}!", "a=42!"),
        ("{{ item.ground_truth.date }}", "2024-01-02"),
        ("{{ sample.output_json.a.b[1] }}", "20"),
        ("{{ sample.output_json.n }}", "3"),
        ("{{ sample.output_json.a }}", '{"b": [10, 20]}'),
        ("{{ sample.output_tools[0].function.name }}", "get_weather"),
        ("{{ sample.choices[0].message.content }}", "hi"),
        ("{{ item.list[-1] }}", "y"),
        ('{{ item["odd key"] }}', "1"),
        ("{{ item.none }}", "null"),
        ("{{ item.list }} and {{ item.answer }}", '["x", "y"] and 42'),
        ("no variables", "no variables"),
    ],
)
def test_render(template: str, expected: str) -> None:
    check_template(template)
    assert render(template, ENV) == expected


def test_choices_render_as_json() -> None:
    text = render("{{ sample.choices }}", ENV)
    assert text.startswith('[{"index": 0, "message": {"role": "assistant", "content": "hi"')


@pytest.mark.parametrize(
    "template",
    [
        "{{ item.missing }}",
        "{{ item.list[5] }}",
        "{{ item.answer.deeper }}",
        "{{ sample.output_tools[1].function.name }}",
        "{{ sample.output_json.a.b[0].c }}",
    ],
)
def test_unresolved_is_invalid_variable_error(template: str) -> None:
    with pytest.raises(GradeError) as info:
        render(template, ENV)
    assert info.value.family == "invalid_variable_error"


def test_missing_output_json_is_invalid_variable_error() -> None:
    env = {"sample": Sample(output_text="not json").namespace(), "item": {}}
    with pytest.raises(GradeError, match="output_json"):
        render("{{ sample.output_json.x }}", env)


@pytest.mark.parametrize(
    "template", ["{{ foo.x }}", "{{ item..x }}", "{{ item.x[abc] }}", "{{ item.x", "{{ }}", "{{ item.x + 1 }}"]
)
def test_syntax_errors(template: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        check_template(template)


def test_parse_variable_steps() -> None:
    assert parse_variable(" sample.output_tools[0].function.name ") == (
        "sample",
        ("output_tools", 0, "function", "name"),
    )


def test_unparseable_json_sample_is_a_sample_parse_error() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    good = Sample.from_completion('{"x": 1}', response_format=fmt)
    assert good.output_json == {"x": 1} and good.json_expected
    bad = Sample.from_completion("not json", response_format=fmt)
    env = {"sample": bad.namespace(), "item": {}, "json_expected": bad.json_expected}
    with pytest.raises(GradeError) as info:
        render("{{ sample.output_json.x }}", env)
    assert info.value.family == "sample_parse_error"
    assert render("{{ sample.output_text }}", env) == "not json"
    plain = Sample.from_completion('{"x": 1}')  # no response_format: output_json stays unset
    assert plain.output_json is None and not plain.json_expected
