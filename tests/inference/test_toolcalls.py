"""Tool calls as text: rendering them in the family format, parsing replies back, streaming the deltas."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from openrft.graders import Sample
from openrft.inference import prompts, toolcalls

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIMER = {"type": "function", "function": {"name": "set_timer", "parameters": {"type": "object", "properties": {}}}}
TOOLS = [WEATHER, TIMER]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def chatml() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer with a ChatML template that ignores tools, as SmolLM2's does."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(['<tool_call>[{"name": "get_weather"}]</tool_call> weather in Paris'], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>")
    tokenizer.chat_template = CHATML
    return tokenizer


def call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def test_a_single_call_in_the_smollm2_format() -> None:
    reply = toolcalls.parse_tool_calls(
        '<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>', TOOLS
    )
    assert reply.content is None and len(reply.calls) == 1
    (c,) = reply.calls
    assert c["type"] == "function" and c["id"].startswith("call_") and len(c["id"]) == 29
    assert c["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_parallel_calls_hermes_blocks_and_text_around_them() -> None:
    text = (
        "Let me check.\n<tool_call>[\n"
        '{"name": "get_weather", "arguments": {"city": "Oslo"}},\n'
        '{"name": "set_timer", "arguments": {}}\n]</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}\n</tool_call>'
    )
    reply = toolcalls.parse_tool_calls(text, TOOLS)
    assert reply.content == "Let me check."
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in reply.calls] == [
        ("get_weather", {"city": "Oslo"}),
        ("set_timer", {}),
        ("get_weather", {"city": "Rome"}),  # arguments written as a JSON string are decoded once
    ]
    assert len({c["id"] for c in reply.calls}) == 3
    assert toolcalls.keep_first(reply).calls == reply.calls[:1]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>[{"name": "send_email", "arguments": {}}]</tool_call>',  # not an offered function
        '<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}</tool_call>',  # malformed JSON
        '<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]',  # never closed (max_tokens)
        '<tool_call>[{"name": "get_weather", "arguments": 3}]</tool_call>',  # arguments not an object
        '<tool_call>[{"name": "get_weather", "arguments": {}}, {"name": "nope"}]</tool_call>',  # all or nothing
    ],
)
def test_what_is_not_a_valid_call_stays_content(text: str) -> None:
    assert toolcalls.parse_tool_calls(text, TOOLS) == toolcalls.ToolReply(text, [])


def test_without_tools_nothing_is_parsed_and_an_empty_list_is_no_call() -> None:
    text = '<tool_call>[{"name": "get_weather", "arguments": {}}]</tool_call>'
    assert toolcalls.parse_tool_calls(text, None) == toolcalls.ToolReply(text, [])
    assert toolcalls.parse_tool_calls("  No tool fits. <tool_call>[]</tool_call>", TOOLS) == toolcalls.ToolReply(
        "No tool fits.", []
    )


def test_the_renderer_writes_tools_calls_and_results_in_the_family_format(chatml: PreTrainedTokenizerFast) -> None:
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", {"city": "Paris"})]},
        {"role": "tool", "content": "18C, sunny", "tool_call_id": "call_1"},
    ]
    text = chatml.decode(prompts.render_chat(chatml, conversation, TOOLS))
    system = text.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nYou are an expert in composing functions.")
    assert json.dumps([WEATHER["function"], TIMER["function"]]) in system and system.endswith("\n\nBe brief.")
    assert (
        '<|im_start|>assistant\n<tool_call>[\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n]</tool_call>'
        "<|im_end|>\n<|im_start|>user\n<tool_response>\n18C, sunny\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    ) in text
    # What an assistant turn's calls train on is what the server parses back into the same calls.
    written = text.split("<|im_start|>assistant\n")[1].split("<|im_end|>")[0]
    parsed = toolcalls.parse_tool_calls(written, TOOLS)
    assert parsed.content is None and [c["function"] for c in parsed.calls] == [
        conversation[2]["tool_calls"][0]["function"]
    ]


def test_without_tools_or_calls_the_render_is_unchanged(chatml: PreTrainedTokenizerFast) -> None:
    messages = [{"role": "user", "content": "hi"}]
    assert (
        chatml.decode(prompts.render_chat(chatml, messages))
        == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_template_that_renders_tools_keeps_its_own_format(chatml: PreTrainedTokenizerFast) -> None:
    native = PreTrainedTokenizerFast(tokenizer_object=chatml.backend_tokenizer, eos_token="<|im_end|>")
    native.chat_template = "{% if tools %}TOOLS{{ tools | length }} {% endif %}" + CHATML.replace(
        "{{ m['content'] }}",
        "{{ m['content'] }}{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments.city }}{% endif %}",
    )
    conversation = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Paris"})]},
    ]
    text = native.decode(prompts.render_chat(native, conversation, TOOLS))
    assert text.startswith("TOOLS2 ") and "<|im_start|>assistant\nParis<|im_end|>" in text  # arguments as an object
    assert "<tools>" not in text


def stream(pieces: list[str], tools: list[dict[str, Any]] = TOOLS, parallel: bool = True) -> list[dict[str, Any]]:
    splitter = toolcalls.CallStream(tools, parallel=parallel)
    deltas = [d for p in pieces for d in splitter.push(p)]
    return deltas + splitter.close()


def test_streamed_deltas_follow_openai_and_match_the_whole_reply() -> None:
    text = (
        'Sure.\n<tool_call>[{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
        '{"name": "set_timer", "arguments": {}}]</tool_call>'
    )
    deltas = stream([text[i : i + 3] for i in range(0, len(text), 3)])  # tags split across pieces
    assert "".join(d.get("content", "") for d in deltas) == "Sure."
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [c["index"] for c in calls] == [0, 0, 1, 1]
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""} and calls[0]["id"].startswith("call_")
    assert calls[1] == {"index": 0, "function": {"arguments": '{"city": "Oslo"}'}}
    assert calls[2]["function"]["name"] == "set_timer" and calls[3]["function"]["arguments"] == "{}"
    assert len(stream([text], parallel=False)) == 3  # the text and one call


def test_streamed_text_that_is_not_a_call_goes_out_as_content() -> None:
    assert "".join(d["content"] for d in stream(["a <tool", "_c", "all> oops"])) == "a <tool_call> oops"
    assert "".join(d["content"] for d in stream(["x < y", " and <b>\n"])) == "x < y and <b>"
    bad = '<tool_call>[{"name": "nope", "arguments": {}}]</tool_call>'
    assert stream([bad[:10], bad[10:]]) == [{"content": bad}]


def test_required_and_named_constraints() -> None:
    prefix, schema, suffix = toolcalls.constraint(TOOLS, None, parallel=True)
    assert (prefix, suffix) == ("<tool_call>", "</tool_call>") and schema["minItems"] == 1 and "maxItems" not in schema
    assert [o["properties"]["name"]["enum"] for o in schema["items"]["anyOf"]] == [["get_weather"], ["set_timer"]]
    _, named, _ = toolcalls.constraint(TOOLS, "get_weather", parallel=False)
    assert named["maxItems"] == 1 and named["items"]["properties"]["arguments"] == WEATHER["function"]["parameters"]


def test_graders_see_the_calls_as_output_tools() -> None:
    text = 'Checking.<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>'
    sample = Sample.from_completion(text, tools=TOOLS)
    assert sample.output_text == "Checking."
    assert sample.output_tools is not None and sample.output_tools[0]["function"]["name"] == "get_weather"
    ns = sample.namespace()
    assert ns["output_tools"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert ns["choices"][0]["message"]["tool_calls"] == sample.output_tools
    assert Sample.from_completion(text).output_text == text  # no tools on the row: nothing parsed
