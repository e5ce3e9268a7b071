"""The lambda grader adapter: Bedrock events out, rewards, metrics and mapped error families back.

The target here is an `http://` reward endpoint on loopback speaking the Bedrock contract (a real HTTP
server); openrft functions in the sandbox go through the same `call_reward_function`.
"""

from __future__ import annotations

import pytest

from openrft.graders import GraderValidationError, GradingContext, Sample, grade_batch, validate_grader
from openrft.settings import Settings
from tests.doubles.fake_judge import LOOPBACK
from tests.doubles.reward_server import reward_server


def test_lambda_grader_over_the_reward_contract() -> None:
    with reward_server() as (url, seen):
        grader = validate_grader({"type": "lambda", "lambda": {"function": url}}, egress=LOOPBACK.egress)
        prompt = [{"role": "user", "content": "Say 42"}]
        result = grade_batch(
            grader,
            [Sample(output_text="42"), Sample(output_text="four"), Sample(output_text="bad")],
            [{"answer": "42"}] * 3,
            ctx=GradingContext(project_id="p", settings=LOOPBACK),
            messages=[prompt] * 3,
        )
    assert result.rewards == [1.2, 0.4, 0.0]
    assert result.errors == [None, None, "other_error"]
    assert "[invalid_score]" in result.error_details[0]
    assert result.extra_metrics == {"len": 3.0}
    assert result.audit == [{"function_name": url, "version": None, "code_sha256": None, "arn": None}]
    event = seen[0][0]
    assert event["messages"] == [*prompt, {"role": "assistant", "content": "42"}]
    assert event["answer"] == "42" and event["metadata"] == {"answer": "42"}


def test_lambda_grader_inside_multi() -> None:
    with reward_server() as (url, _seen):
        grader = {
            "type": "multi",
            "name": "m",
            "graders": {"fn": {"type": "lambda", "name": "fn", "lambda": {"function": url}}},
            "calculate_output": "fn / 2",
        }
        result = grade_batch(
            grader, [Sample(output_text="42")], [{"answer": "42"}], ctx=GradingContext("p", settings=LOOPBACK)
        )
    assert result.rewards == [pytest.approx(0.6)]


def test_unknown_function_is_a_validation_error(settings: Settings) -> None:
    from openrft.store.blobs import BlobStore
    from openrft.store.db import Store

    store = Store.from_settings(settings)
    try:
        ctx = GradingContext("proj", settings=settings, store=store, blobs=BlobStore(settings.blobs_dir))
        with pytest.raises(GraderValidationError) as info:
            grade_batch({"type": "lambda", "lambda": {"function": "nope"}}, [Sample("x")], [{}], ctx=ctx)
        assert info.value.param == "grader.lambda.function"
    finally:
        store.dispose()


def test_a_tool_calling_answer_reaches_the_reward_with_its_calls() -> None:
    """A reply with tool calls is the event's assistant turn with OpenAI's `tool_calls` next to its text."""
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    text = 'Checking.<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>'
    with reward_server() as (url, seen):
        grader = validate_grader({"type": "lambda", "lambda": {"function": url}}, egress=LOOPBACK.egress)
        grade_batch(
            grader,
            [Sample.from_completion(text, tools=tools)],
            [{"answer": "42"}],
            ctx=GradingContext(project_id="p", settings=LOOPBACK),
            messages=[[{"role": "user", "content": "Weather in Paris?"}]],
        )
    turn = seen[0][0]["messages"][-1]
    assert turn["role"] == "assistant" and turn["content"] == "Checking."
    [call] = turn["tool_calls"]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == '{"city": "Paris"}'
