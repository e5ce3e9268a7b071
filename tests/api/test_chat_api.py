"""Contract tests of /v1/chat/completions and /v1/completions through the openai SDK on a live server.

The model is a tiny random Llama built offline (tests/inference/tiny.py); its text is gibberish but
deterministic under greedy decoding, which is what these tests lean on.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from openrft.inference.registry import ensure_base_model
from tests.conftest import LiveServer
from tests.inference.tiny import TinyModels, other_project_key, tiny_dirs_fixture, tiny_fixture  # noqa: F401

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello world"}]


def greedy(client: openai.OpenAI, model: str, messages: list[ChatCompletionMessageParam] = USER, **kw: Any) -> str:
    out = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=12, **kw)
    return out.choices[0].message.content or ""


def test_chat_completion_shape_and_usage(client: openai.OpenAI, tiny: TinyModels) -> None:
    messages: list[ChatCompletionMessageParam] = [  # the tool turn is wrapped in <tool_response>: 89 of 96 tokens
        {"role": "user", "content": "one two"},
        {"role": "assistant", "content": "three"},
        {"role": "tool", "content": "four", "tool_call_id": "call_1"},
        {"role": "user", "content": "five"},
    ]
    out = client.chat.completions.create(model=tiny.base, messages=messages, max_completion_tokens=6, temperature=0)
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-") and out.model == tiny.base
    choice = out.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"
    assert out.usage is not None and out.usage.completion_tokens == 6
    assert out.usage.total_tokens == out.usage.prompt_tokens + 6 and out.usage.prompt_tokens > 10


def test_streaming_matches_and_reports_usage(client: openai.OpenAI, tiny: TinyModels) -> None:
    full = greedy(client, tiny.base)
    chunks = list(
        client.chat.completions.create(
            model=tiny.base,
            messages=USER,
            temperature=0,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


def test_n_and_seed_reproducible(client: openai.OpenAI, tiny: TinyModels) -> None:
    def sample(seed: int) -> list[str]:
        out = client.chat.completions.create(
            model=tiny.base, messages=USER, n=3, seed=seed, temperature=1.5, max_tokens=10
        )
        assert [c.index for c in out.choices] == [0, 1, 2]
        assert out.usage is not None and out.usage.completion_tokens <= 30
        return [c.message.content or "" for c in out.choices]

    first = sample(7)
    assert sample(7) == first
    assert len(set(first)) > 1  # the n choices are different samples
    assert sample(8) != first


def test_stop_sequences(client: openai.OpenAI, tiny: TinyModels) -> None:
    full = greedy(client, tiny.base)
    stop = full[4:7]
    cut = full[: full.index(stop)]
    out = client.chat.completions.create(
        model=tiny.base, messages=USER, temperature=0, max_tokens=12, stop=[stop, "@@"]
    )
    assert out.choices[0].message.content == cut and out.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(
        model=tiny.base, messages=USER, temperature=0, max_tokens=12, stop=stop, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == cut


def test_logprobs(client: openai.OpenAI, tiny: TinyModels) -> None:
    out = client.chat.completions.create(
        model=tiny.base, messages=USER, temperature=0, max_tokens=5, logprobs=True, top_logprobs=3
    )
    content = out.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None and len(content) == 5
    assert "".join(t.token for t in content) == out.choices[0].message.content
    for t in content:
        assert t.logprob <= 0 and len(t.top_logprobs) == 3
        assert t.top_logprobs[0].logprob == pytest.approx(t.logprob)  # greedy takes the best token


def test_json_object_is_constrained(client: openai.OpenAI, tiny: TinyModels) -> None:
    out = client.chat.completions.create(
        model=tiny.base, messages=USER, temperature=0, max_tokens=70, response_format={"type": "json_object"}
    )
    assert out.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(out.choices[0].message.content or ""), dict)


def test_text_completions(client: openai.OpenAI, tiny: TinyModels) -> None:
    out = client.completions.create(model=tiny.base, prompt="the quick", max_tokens=6, temperature=0, logprobs=2)
    assert out.object == "text_completion" and out.choices[0].finish_reason == "length"
    assert out.choices[0].logprobs is not None and len(out.choices[0].logprobs.tokens or []) == 6
    streamed = client.completions.create(model=tiny.base, prompt="the quick", max_tokens=6, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == out.choices[0].text


def test_concurrent_requests_match_sequential(client: openai.OpenAI, tiny: TinyModels) -> None:
    prompts: list[list[ChatCompletionMessageParam]] = [
        [{"role": "user", "content": "x " * (i * 3 + 1)}] for i in range(6)
    ]
    alone = [greedy(client, tiny.base, p) for p in prompts]
    results: list[str | None] = [None] * len(prompts)

    def call(i: int) -> None:
        results[i] = greedy(client, tiny.base if i % 2 else tiny.fine_tuned, prompts[i])

    expected = [alone[i] if i % 2 else greedy(client, tiny.fine_tuned, prompts[i]) for i in range(len(prompts))]
    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_fine_tuned_adapter_answers_differently(client: openai.OpenAI, tiny: TinyModels) -> None:
    base, tuned = greedy(client, tiny.base), greedy(client, tiny.fine_tuned)
    assert tuned and tuned != base
    chunks = client.chat.completions.create(
        model=tiny.fine_tuned, messages=USER, temperature=0, max_tokens=12, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == tuned


def test_fine_tuned_model_is_private_to_its_project(live_server: LiveServer, tiny: TinyModels) -> None:
    other = live_server.openai_client(api_key=other_project_key(live_server.settings))
    with pytest.raises(openai.NotFoundError) as err:
        greedy(other, tiny.fine_tuned)
    assert err.value.code == "model_not_found"
    assert greedy(other, tiny.base)


def test_errors(client: openai.OpenAI, tiny: TinyModels) -> None:
    with pytest.raises(openai.NotFoundError) as nf:
        greedy(client, "no-such-model")
    assert nf.value.code == "model_not_found" and nf.value.param == "model"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logit_bias": {"5": 10}}, "logit_bias"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format.json_schema"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model=tiny.base, messages=USER, **extra)
        assert bad.value.param == param, (extra, bad.value.body)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=tiny.base, messages=[])
    assert bad.value.param == "messages"
    long: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three " * 60}]
    with pytest.raises(openai.BadRequestError) as ctx:
        client.chat.completions.create(model=tiny.base, messages=long)
    assert ctx.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as ctx:
        client.chat.completions.create(model=tiny.base, messages=USER, max_tokens=500)
    assert ctx.value.code == "context_length_exceeded"


@pytest.mark.slow
def test_bundled_smollm2_answers(live_server: LiveServer) -> None:
    """Dequantizes the bundled GGUF (about 30 s, once), then answers, streams and follows json_object."""
    path = ensure_base_model(live_server.settings)
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    client = openai.OpenAI(base_url=live_server.v1, api_key=live_server.admin_key, max_retries=0, timeout=600)
    out = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What is 2+2?"}],
        temperature=0,
        max_tokens=30,
    )
    assert "4" in (out.choices[0].message.content or "")
    chunks = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What is 2+2?"}],
        temperature=0,
        max_tokens=30,
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == out.choices[0].message.content
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": 'Reply with a JSON object like {"name": "Bob"}.'}],
        temperature=0,
        max_tokens=150,
        response_format={"type": "json_object"},
    )
    assert reply.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)
