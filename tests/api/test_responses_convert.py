"""The Responses -> chat translation (api/responses/convert.py) and the stream translator, without a server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openrft.api.responses import convert
from openrft.api.responses.schemas import ResponseCreate
from openrft.api.responses.service import ResponseEvents, response_of
from openrft.errors import InvalidRequest
from openrft.inference.schemas import ChatCompletionCreate


def test_items_become_chat_messages_with_their_origins() -> None:
    messages, origins = convert.chat_messages(
        "be brief",
        [
            {"role": "user", "content": "weather?"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
            {"type": "function_call", "call_id": "call_1", "name": "w", "arguments": '{"city": "Rome"}'},
            {"type": "function_call", "call_id": "call_2", "name": "w", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "21"},
            {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "19"}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "in C"}]},
        ],
    )
    call = {"type": "function", "function": {"name": "w", "arguments": '{"city": "Rome"}'}}
    assert messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",  # the text and both calls: one assistant turn
            "content": "Let me look.",
            "tool_calls": [
                {"id": "call_1", **call},
                {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": '{"city": "Paris"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "21"},
        {"role": "tool", "tool_call_id": "call_2", "content": "19"},
        {"role": "developer", "content": "in C"},
    ]
    assert origins == ["instructions", "input[0]", "input[1]", "input[4]", "input[5]", "input[6]"]
    assert convert.chat_messages(None, "hi") == ([{"role": "user", "content": "hi"}], ["input"])


def test_a_call_without_a_preceding_assistant_turn_opens_one() -> None:
    messages, origins = convert.chat_messages(
        None,
        [{"role": "user", "content": "x"}, {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}],
    )
    assert messages[1]["role"] == "assistant" and messages[1]["content"] is None and origins[1] == "input[1]"


def test_tools_tool_choice_and_text_format() -> None:
    flat = {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True}
    assert convert.chat_tools([flat]) == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "description": "d", "strict": True},
        }
    ]
    bare = convert.chat_tools([{"type": "function", "name": "g"}])[0]["function"]
    assert bare["parameters"] == {"type": "object", "properties": {}}
    assert convert.chat_tool_choice({"type": "function", "name": "f"}) == {
        "type": "function",
        "function": {"name": "f"},
    }
    assert convert.chat_tool_choice("required") == "required"
    schema = {"type": "json_schema", "name": "n", "schema": {"type": "object"}, "strict": True}
    assert convert.response_format({"format": schema}) == {
        "type": "json_schema",
        "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": True},
    }
    assert convert.response_format({"format": {"type": "text"}}) is None


@pytest.mark.parametrize(
    ("chat_param", "expected"),
    [
        ("messages", "input"),
        ("messages.[0].content", "instructions"),
        ("messages.[1].content", "input[0].content"),
        ("messages.3.content", "input[3].content"),
        ("messages.9", "input"),
        ("tools[0].function.parameters", "tools[0].parameters"),
        ("tools.1.function.name", "tools[1].name"),
        ("tool_choice.function.name", "tool_choice.name"),
        ("tool_choice", "tool_choice"),
        ("max_completion_tokens", "max_output_tokens"),
        ("response_format.json_schema", "text.format"),
        ("temperature", "temperature"),
        ("model", "model"),
        (None, None),
    ],
)
def test_chat_params_named_in_the_responses_request(chat_param: str | None, expected: str | None) -> None:
    assert convert.responses_param(chat_param, ["instructions", "input[0]", "input[1]", "input[3]"]) == expected


def test_every_translated_field_is_a_chat_field() -> None:
    """A chat field the chat path would silently drop (extra="ignore") must not be sent: the guard refuses it."""
    body = ResponseCreate.model_validate(
        {
            "model": "m",
            "input": "hi",
            "max_output_tokens": 3,
            "temperature": 0,
            "top_p": 0.5,
            "user": "u",
            "tools": [{"type": "function", "name": "f"}],
            "tool_choice": "auto",
            "text": {"format": {"type": "json_object"}},
            "parallel_tool_calls": False,
        }
    )
    chat = convert.chat_request(body, ChatCompletionCreate.model_fields).body
    assert set(chat) <= set(ChatCompletionCreate.model_fields)
    with pytest.raises(InvalidRequest) as refused:
        convert.chat_request(body, {k: v for k, v in ChatCompletionCreate.model_fields.items() if k != "top_p"})
    assert refused.value.param == "top_p"


def _events(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = ResponseEvents({"id": "resp_1", "output": [], "status": "in_progress"})
    raw = [*events.start()]
    for chunk in chunks:
        raw += events.chunk(chunk)
    raw += events.end()
    return [json.loads(r.split("data: ", 1)[1]) for r in raw]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_stream_of_text_then_a_call() -> None:
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Sure"}),
        _chunk({"content": "."}),
        _chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_9", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}),
        _chunk({}, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}},
    ]
    events = _events(chunks)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["total_tokens"] == 12
    message, call = final["output"]
    assert message["content"][0]["text"] == "Sure." and message["status"] == "completed"
    assert call["call_id"] == "call_9" and call["name"] == "f" and call["arguments"] == '{"a": 1}'
    assert events[9]["output_index"] == 1 and events[10]["item_id"] == call["id"]
    # the same reply, not streamed, gives the same output items (ids aside)
    whole = response_of(
        {"id": "resp_1"},
        {
            "choices": [
                {
                    "message": {
                        "content": "Sure.",
                        "tool_calls": [{"id": "call_9", "function": {"name": "f", "arguments": '{"a": 1}'}}],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7},
        },
    )
    strip = [{k: v for k, v in item.items() if k != "id"} for item in whole["output"]]
    assert strip == [{k: v for k, v in item.items() if k != "id"} for item in final["output"]]


def test_stream_cut_by_the_limit_is_incomplete() -> None:
    events = _events([_chunk({"content": "abc"}), _chunk({}, "length")])
    assert events[-1]["type"] == "response.incomplete"
    final = events[-1]["response"]
    assert (
        final["incomplete_details"] == {"reason": "max_output_tokens"} and final["output"][0]["status"] == "incomplete"
    )


def test_nothing_generated_is_one_empty_message() -> None:
    events = _events([_chunk({}, "stop")])
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == ""
    assert [e["type"] for e in events][2:4] == ["response.output_item.added", "response.content_part.added"]
