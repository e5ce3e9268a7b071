"""Contract tests of POST /v1/responses through the openai SDK's `client.responses` on a live server.

The tiny random Llama (tests/inference/tiny.py) answers gibberish, deterministic under greedy decoding:
the Responses answer must be the chat completion's answer to the same conversation, in Responses' shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.inference.registry import add_base_model, register_adapter
from openrft.store.db import Store
from tests.api.test_restricted_keys import make_key, message_of, sdk
from tests.conftest import LiveServer
from tests.inference.tiny import (  # noqa: F401
    TinyModels,
    build_tiny_model,
    other_project_key,
    tiny_dirs_fixture,
    tiny_fixture,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    # an enum: constrained decoding ends the random model's call in a few tokens
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
        "required": ["city"],
    },
    "strict": True,
}


@pytest.fixture(scope="session")
def long_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-long") / "base", context=2048)


@pytest.fixture
def long_model(live_server: LiveServer, long_dir: Path) -> str:
    """The tiny model with a 2048-token context: the tools' system prompt is ~900 of its tiny tokens."""
    store = Store.from_settings(live_server.settings)
    add_base_model(store, live_server.settings, "tiny-long", long_dir)
    store.dispose()
    return "tiny-long"


def chat_text(client: openai.OpenAI, model: str, messages: list[ChatCompletionMessageParam], **kw: Any) -> Any:
    return client.chat.completions.create(model=model, messages=messages, temperature=0, **kw)


def test_plain_input_is_the_chat_answer(client: openai.OpenAI, tiny: TinyModels) -> None:
    out = client.responses.create(model=tiny.base, input="hello world", temperature=0, max_output_tokens=12)
    chat = chat_text(client, tiny.base, [{"role": "user", "content": "hello world"}], max_tokens=12)
    assert out.object == "response" and out.id.startswith("resp_") and out.model == tiny.base
    assert [item.type for item in out.output] == ["message"]
    message = out.output[0]
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.content[0].type == "output_text"
    assert out.output_text == chat.choices[0].message.content and out.output_text
    # 12 tokens of gibberish: the limit cut it
    assert out.status == "incomplete" and out.incomplete_details is not None
    assert out.incomplete_details.reason == "max_output_tokens" and message.status == "incomplete"
    assert out.usage is not None and chat.usage is not None
    assert out.usage.input_tokens == chat.usage.prompt_tokens and out.usage.output_tokens == 12
    assert out.usage.total_tokens == out.usage.input_tokens + 12
    assert out.usage.input_tokens_details.cached_tokens == 0 and out.usage.output_tokens_details.reasoning_tokens == 0
    assert out.max_output_tokens == 12 and out.temperature == 0 and out.top_p == 1.0 and out.tool_choice == "auto"


def test_instructions_and_input_items(client: openai.OpenAI, tiny: TinyModels) -> None:
    out = client.responses.create(
        model=tiny.base,
        instructions="be brief",
        input=[
            {"role": "user", "content": "one two"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "three"}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "four"}]},
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "five "}, {"type": "input_text", "text": "six"}],
            },
        ],
        temperature=0,
        max_output_tokens=8,
        metadata={"run": "a"},
    )
    chat = chat_text(
        client,
        tiny.base,
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "one two"},
            {"role": "assistant", "content": "three"},
            {"role": "developer", "content": "four"},
            {"role": "user", "content": "five six"},
        ],
        max_tokens=8,
    )
    assert out.output_text == chat.choices[0].message.content
    assert out.usage is not None and chat.usage is not None and out.usage.input_tokens == chat.usage.prompt_tokens
    assert out.instructions == "be brief" and out.metadata == {"run": "a"}


def test_a_short_answer_is_completed(client: openai.OpenAI, tiny: TinyModels) -> None:
    """A stop sequence isn't a Responses parameter; a max_output_tokens the answer fits in is: json mode ends."""
    out = client.responses.create(
        model=tiny.base, input="hello", temperature=0, max_output_tokens=70, text={"format": {"type": "json_object"}}
    )
    assert out.status == "completed" and out.incomplete_details is None and out.completed_at is not None
    assert isinstance(json.loads(out.output_text), dict)
    assert out.output[0].status == "completed"  # type: ignore[union-attr]
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    typed = client.responses.create(
        model=tiny.base,
        input="hello",
        temperature=0,
        max_output_tokens=70,
        text={"format": {"type": "json_schema", "name": "n", "schema": schema, "strict": True}},
    )
    assert isinstance(json.loads(typed.output_text)["n"], int), typed.output_text
    assert typed.text is not None and typed.text.format.type == "json_schema"


EVENT_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


def test_streamed_events_in_order(client: openai.OpenAI, tiny: TinyModels) -> None:
    whole = client.responses.create(model=tiny.fine_tuned, input="hello world", temperature=0, max_output_tokens=10)
    events = list(
        client.responses.create(
            model=tiny.fine_tuned, input="hello world", temperature=0, max_output_tokens=10, stream=True
        )
    )
    kinds = [e.type for e in events]
    assert [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]] == [*EVENT_ORDER, "response.incomplete"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(d.delta for d in deltas) == whole.output_text
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == whole.output_text  # type: ignore[union-attr]
    created, last = events[0], events[-1]
    assert created.response.status == "in_progress" and created.response.output == []  # type: ignore[union-attr]
    final = last.response  # type: ignore[union-attr]
    assert final.id == created.response.id and final.output_text == whole.output_text  # type: ignore[union-attr]
    assert final.usage is not None and final.usage.output_tokens == 10 and final.status == "incomplete"
    item_done = next(e for e in events if e.type == "response.output_item.done")
    assert item_done.item.id == deltas[0].item_id and item_done.output_index == 0  # type: ignore[union-attr]


def test_sdk_stream_helper_accumulates(client: openai.OpenAI, tiny: TinyModels) -> None:
    """The SDK's helper rebuilds the Response from the events (it wants response.completed: an answer that ends)."""
    json_mode: Any = {"format": {"type": "json_object"}}
    with client.responses.stream(
        model=tiny.base, input="hello", temperature=0, max_output_tokens=70, text=json_mode
    ) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert final.output_text == text and isinstance(json.loads(text), dict) and final.status == "completed"
    assert final.usage is not None and final.usage.output_tokens > 0


def test_fine_tuned_and_checkpoint_models(live_server: LiveServer, client: openai.OpenAI, tiny: TinyModels) -> None:
    checkpoint = tiny.fine_tuned + ":ckpt-step-2"
    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        register_adapter(
            conn,
            model_id=checkpoint,
            project_id=DEFAULT_PROJECT_ID,
            kind="checkpoint",
            base_model=tiny.base,
            path=tiny.adapter_path,
            job_id="ftjob-tiny",
        )
    store.dispose()
    base = client.responses.create(model=tiny.base, input="hello world", temperature=0, max_output_tokens=10)
    tuned = client.responses.create(model=tiny.fine_tuned, input="hello world", temperature=0, max_output_tokens=10)
    ckpt = client.responses.create(model=checkpoint, input="hello world", temperature=0, max_output_tokens=10)
    assert tuned.output_text != base.output_text and ckpt.output_text == tuned.output_text
    assert ckpt.model == checkpoint
    other = live_server.openai_client(api_key=other_project_key(live_server.settings))
    with pytest.raises(openai.NotFoundError) as err:
        other.responses.create(model=tiny.fine_tuned, input="hi", max_output_tokens=2)
    assert err.value.code == "model_not_found" and err.value.param == "model"


def test_function_tools_answer_with_function_call_items(client: openai.OpenAI, long_model: str) -> None:
    out = client.responses.create(
        model=long_model,
        input="weather in Paris?",
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        temperature=0,
        max_output_tokens=200,
        parallel_tool_calls=False,  # the random model would go on calling until the limit
    )
    calls = [item for item in out.output if item.type == "function_call"]
    assert calls and out.status == "completed", out.output
    call = calls[0]
    assert call.name == "get_weather" and call.call_id and call.id and call.id.startswith("fc_")
    assert isinstance(json.loads(call.arguments), dict)
    assert out.tools[0].name == "get_weather"  # type: ignore[union-attr]
    named = client.responses.create(
        model=long_model,
        input="weather?",
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
        temperature=0,
        max_output_tokens=200,
        parallel_tool_calls=False,  # the random model would go on calling until the limit
    )
    assert [i.type for i in named.output if i.type == "function_call"] and named.tool_choice.name == "get_weather"  # type: ignore[union-attr]

    events = list(
        client.responses.create(
            model=long_model,
            input="weather in Paris?",
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice="required",
            temperature=0,
            max_output_tokens=200,
            parallel_tool_calls=False,  # the random model would go on calling until the limit
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds and kinds[-1] == "response.completed"
    args_done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert args_done.arguments == call.arguments  # type: ignore[union-attr]
    added = next(e for e in events if e.type == "response.output_item.added" and e.item.type == "function_call")
    assert added.item.name == "get_weather" and added.item.arguments == ""  # type: ignore[union-attr]

    # the call and its output go back as input items: the conversation goes on
    follow = client.responses.create(
        model=long_model,
        input=[
            {"role": "user", "content": "weather in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": '{"celsius": 21}'},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="none",
        temperature=0,
        max_output_tokens=5,
    )
    assert [i.type for i in follow.output] == ["message"] and follow.output_text


def test_unimplemented_parameters_are_refused_by_name(client: openai.OpenAI, tiny: TinyModels) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"previous_response_id": "resp_x"}, "previous_response_id"),
        ({"reasoning": {"effort": "low"}}, "reasoning"),
        ({"background": True}, "background"),
        ({"store": True}, "store"),
        ({"include": ["message.output_text.logprobs"]}, "include"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"truncation": "auto"}, "truncation"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"max_tool_calls": 2}, "max_tool_calls"),
        ({"text": {"verbosity": "low"}}, "text.verbosity"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": ["get_weather"]}, "tools[0].type"),
        ({"tools": [WEATHER, {"type": "function", "parameters": {}}]}, "tools[1].name"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice.type"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as bad:
            client.responses.create(model=tiny.base, input="hi", **extra)
        assert bad.value.param == param, (extra, bad.value.body)
        assert bad.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model=tiny.base, input="hi", stream_options={"include_obfuscation": True}, stream=True)
    assert bad.value.param == "stream_options.include_obfuscation"


def test_bad_input_items_name_the_item(client: openai.OpenAI, tiny: TinyModels) -> None:
    cases: list[tuple[Any, str]] = [
        ([], "input"),
        (["hello"], "input[0]"),
        ([{"type": "item_reference", "id": "msg_1"}], "input[0].type"),
        ([{"role": "user", "content": "a"}, {"role": "critic", "content": "b"}], "input[1].role"),
        (
            [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x/y.png"}]}],
            "input[0].content[0].type",
        ),
        ([{"type": "function_call_output", "call_id": "call_nope", "output": "1"}], "input[0].call_id"),
        ([{"type": "function_call", "name": "f", "arguments": "{}"}], "input[0].call_id"),
    ]
    for value, param in cases:
        with pytest.raises(openai.BadRequestError) as bad:
            client.responses.create(model=tiny.base, input=value)
        assert bad.value.param == param, (value, bad.value.body)
    with pytest.raises(openai.NotFoundError) as nf:
        client.responses.create(model="no-such-model", input="hi")
    assert nf.value.code == "model_not_found" and nf.value.param == "model"
    with pytest.raises(openai.BadRequestError) as long:
        client.responses.create(model=tiny.base, input="one two three " * 60)
    assert long.value.code == "context_length_exceeded" and long.value.param == "input"


def test_bad_tool_schema_and_unknown_named_function(client: openai.OpenAI, long_model: str) -> None:
    bad_schema = {**WEATHER, "parameters": {"type": "object", "properties": {"city": {"type": 12}}}}
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model=long_model, input="hi", tools=[bad_schema])  # type: ignore[list-item]
    assert bad.value.param == "tools[0].parameters", bad.value.body
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(
            model=long_model,
            input="hi",
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice={"type": "function", "name": "get_time"},
        )
    assert bad.value.param is not None and bad.value.param.startswith("tool_choice"), bad.value.body


def test_authorization_is_that_of_invoking_the_model(live_server: LiveServer, tiny: TinyModels) -> None:
    chat_only = sdk(
        live_server, make_key(live_server, permissions="restricted", resources={"model_capabilities": "write"})
    )
    assert chat_only.responses.create(model=tiny.base, input="hello", max_output_tokens=3).output_text
    read_only = sdk(live_server, make_key(live_server, permissions="read_only"))
    with pytest.raises(openai.AuthenticationError) as caught:
        read_only.responses.create(model=tiny.base, input="hello", max_output_tokens=3)
    assert "Missing scopes: api.model.request." in message_of(caught.value)
    limited = sdk(live_server, make_key(live_server, allowed_models=["ft:tiny-llama:*"]))
    with pytest.raises(openai.PermissionDeniedError) as denied:
        limited.responses.create(model=tiny.base, input="hi", max_output_tokens=2)
    assert denied.value.code == "model_not_allowed" and denied.value.param == "model"


@pytest.mark.parametrize("stream", [False, True])
def test_tokens_are_charged_to_the_key(live_server: LiveServer, tiny: TinyModels, stream: bool) -> None:
    client = sdk(live_server, make_key(live_server, tpm_limit=20))
    out = client.responses.create(model=tiny.base, input="hello world", max_output_tokens=8, stream=stream)
    if stream:
        list(out)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as caught:  # the prompt alone is over 10 tokens
        client.models.list()
    assert "tokens per minute (TPM)" in message_of(caught.value)


@pytest.mark.slow
def test_bundled_smollm2_calls_a_function(live_server: LiveServer) -> None:
    """The bundled SmolLM2 (dequantized once, about 30 s) with tool_choice required: its call (the 135M model
    answers in prose when left to choose) as a function_call item, the same streamed; then it answers
    the call's output."""
    from openrft.inference.registry import ensure_base_model

    ensure_base_model(live_server.settings)
    client = openai.OpenAI(base_url=live_server.v1, api_key=live_server.admin_key, max_retries=0, timeout=600)
    weather = {**WEATHER, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    ask: dict[str, Any] = {
        "model": "smollm2-135m-instruct",
        "input": "What is the weather like in Paris today?",
        "tools": [weather],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "temperature": 0,
        "max_output_tokens": 80,
    }
    out = client.responses.create(**ask)
    calls = [item for item in out.output if item.type == "function_call"]
    assert calls, out.output
    assert calls[0].name == "get_weather" and "paris" in json.loads(calls[0].arguments)["city"].lower()
    events = list(client.responses.create(**ask, stream=True))
    final = events[-1].response  # type: ignore[union-attr]
    streamed = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, c.arguments) for c in streamed] == [(c.name, c.arguments) for c in calls]
    follow = client.responses.create(
        **{
            **ask,
            "tool_choice": "none",
            "max_output_tokens": 40,
            "input": [
                {"role": "user", "content": ask["input"]},
                {
                    "type": "function_call",
                    "call_id": calls[0].call_id,
                    "name": "get_weather",
                    "arguments": calls[0].arguments,
                },
                {
                    "type": "function_call_output",
                    "call_id": calls[0].call_id,
                    "output": '{"celsius": 21, "sky": "clear"}',
                },
            ],
        },
    )
    assert [item.type for item in follow.output] == ["message"] and follow.output_text, follow.output
