"""Tool calls through /v1/chat/completions with the openai SDK on a live server.

The tiny random model (tests/inference/tiny.py, with room for the tools prompt) never writes a call on its
own, so these tests lean on tool_choice `required` / named, whose constrained decoding makes the reply a
valid call whatever the weights; parsing free-form replies is tests/inference/test_toolcalls.py's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from openrft.inference.registry import add_base_model
from openrft.store.db import Store
from tests.conftest import LiveServer
from tests.inference.tiny import build_tiny_model

MODEL = "tiny-tools"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello world, how are you?"}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "set_mode",
            "description": "Switch the mode",
            "parameters": {
                "type": "object",
                "properties": {"mode": {"type": "string", "enum": ["on", "off"]}, "loud": {"type": "boolean"}},
                "required": ["mode", "loud"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "ping",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
        },
    },
]


@pytest.fixture(scope="session")
def tools_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-tools") / "base", context=2048)


@pytest.fixture
def client(live_server: LiveServer, tools_model_dir: Path) -> openai.OpenAI:
    store = Store.from_settings(live_server.settings)
    add_base_model(store, live_server.settings, MODEL, tools_model_dir)
    store.dispose()
    return live_server.openai_client()


def create(client: openai.OpenAI, **kw: Any) -> Any:
    args = {"model": MODEL, "messages": USER, "tools": TOOLS, "temperature": 0, "max_tokens": 200, **kw}
    return client.chat.completions.create(**args)


def test_named_tool_choice_answers_with_a_valid_call_streamed_or_not(client: openai.OpenAI) -> None:
    named = {"type": "function", "function": {"name": "set_mode"}}
    out = create(client, tool_choice=named, parallel_tool_calls=False)  # a random model would chain calls
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "set_mode"
    arguments = json.loads(call.function.arguments)
    assert arguments["mode"] in ("on", "off") and isinstance(arguments["loud"], bool)

    chunks = list(create(client, tool_choice=named, parallel_tool_calls=False, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    heads = [d for d in deltas if d.id]
    assert heads and heads[0].index == 0 and heads[0].type == "function" and heads[0].function is not None
    assert heads[0].function.name == "set_mode" and heads[0].function.arguments == ""
    streamed = "".join(d.function.arguments or "" for d in deltas if d.index == 0 and d.function is not None)
    assert json.loads(streamed) == arguments  # greedy: the same call
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ""


def test_required_calls_an_offered_function_and_none_calls_nothing(client: openai.OpenAI) -> None:
    out = create(client, tool_choice="required", parallel_tool_calls=False)
    calls = out.choices[0].message.tool_calls
    assert out.choices[0].finish_reason == "tool_calls" and calls is not None and len(calls) == 1
    assert calls[0].function.name in ("set_mode", "ping")
    json.loads(calls[0].function.arguments)

    plain = create(client, tool_choice="none", max_tokens=8)
    assert plain.choices[0].message.tool_calls is None and plain.choices[0].finish_reason == "length"
    # none: the tools are not offered, so the prompt is the one without them
    without = client.chat.completions.create(model=MODEL, messages=USER, temperature=0, max_tokens=8)
    assert plain.usage is not None and without.usage is not None
    assert plain.usage.prompt_tokens == without.usage.prompt_tokens
    offered = create(client, max_tokens=8)  # auto: the tools prompt is there
    assert offered.usage is not None and offered.usage.prompt_tokens > without.usage.prompt_tokens + 100


def test_a_conversation_with_calls_and_results_is_served(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "ping", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "pong"},
    ]
    out = create(client, messages=messages, tool_choice="auto", max_tokens=6)
    assert out.choices[0].finish_reason in ("length", "stop", "tool_calls")


def test_bad_tools_and_tool_choice_are_refused_naming_the_field(client: openai.OpenAI) -> None:
    bad_schema = [TOOLS[0], {"type": "function", "function": {"name": "f", "parameters": {"type": "nonsense"}}}]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tools": bad_schema}, "tools[1].function.parameters"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"required": 3}}}]},
            "tools[0].function.parameters",
        ),
        ({"tools": [{"type": "function", "function": {"description": "x"}}]}, "tools[0].function.name"),
        ({"tool_choice": {"type": "function", "function": {"name": "send_email"}}}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice"),
        ({"tools": None, "tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": "required", "response_format": {"type": "json_object"}}, "tool_choice"),
    ]
    for extra, param in cases:
        kw = {"model": MODEL, "messages": USER, "tools": TOOLS, **extra}
        if kw["tools"] is None:
            del kw["tools"]
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(**kw)
        assert bad.value.param == param, (extra, bad.value.body)
        assert bad.value.code is None or bad.value.code != "", bad.value.body
