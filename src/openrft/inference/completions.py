"""Chat and text completions: validate, template, run on the engine, shape OpenAI's responses.

The one completion path, with no transport in it: the API's /v1/chat/completions and /v1/completions,
model graders (through `inference.chat`) and anything else that asks a served model go through here.

`prepare_*` (sync, run in a worker thread) resolves the model, renders the prompt and checks limits;
`complete` and `stream` (async) drive the engine's sequences and build `ChatCompletion`,
`ChatCompletionChunk` or `Completion` bodies. A client that goes away cancels its sequences.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from openrft.errors import GenerationFailed, InvalidRequest
from openrft.ids import new_id, now_s
from openrft.inference import prompts
from openrft.inference.engine import Delta, Engine, Finished, SamplingParams, SequenceHandle, TokenLogprob
from openrft.inference.registry import ResolvedModel, resolve
from openrft.inference.schemas import ChatCompletionCreate, CompletionCreate, SamplingFields
from openrft.settings import Settings
from openrft.store.db import Store

DEFAULT_MAX_TOKENS = 1024  # when the request sets none: what a CPU can produce in reasonable time
MAX_STOP_SEQUENCES = 4


class StoreContext(Protocol):
    """What preparing a request needs: an AppContext, or a grader's GradingContext."""

    @property
    def store(self) -> Store: ...

    @property
    def settings(self) -> Settings: ...


@dataclass
class Prepared:
    """Everything needed to run one request: the prompts (token ids) and one SamplingParams per choice."""

    kind: str  # chat | text
    model: ResolvedModel
    prompts: list[list[int]]
    params: list[SamplingParams]  # n entries; choice index = prompt_index * n + i
    json_schema: dict[str, Any] | None = None
    created: int = field(default_factory=now_s)
    id: str = ""


# -- preparation -----------------------------------------------------------------------------------


def _check_unsupported(body: SamplingFields) -> None:
    """Refuse, rather than silently ignore, the options this engine does not implement."""
    for name in ("frequency_penalty", "presence_penalty", "logit_bias"):
        if getattr(body, name):
            raise InvalidRequest(f"{name} is not supported by this server; leave it unset.", param=name)
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest("stream_options is only allowed when stream is true.", param="stream_options")


def _stop(body: SamplingFields) -> tuple[str, ...]:
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stops) > MAX_STOP_SEQUENCES or any(not s for s in stops):
        raise InvalidRequest(f"stop: at most {MAX_STOP_SEQUENCES} non-empty sequences.", param="stop")
    return tuple(stops)


def _params(
    body: SamplingFields, max_tokens: int, *, logprobs: bool, top: int, json_mode: bool
) -> list[SamplingParams]:
    _check_unsupported(body)
    stop = _stop(body)
    return [
        SamplingParams(
            max_tokens=max_tokens,
            temperature=body.temperature,  # inference.sampling: 0, or one too small for float32, is greedy
            top_p=body.top_p,
            stop=stop,
            seed=None if body.seed is None else body.seed + i,
            logprobs=logprobs,
            top_logprobs=top,
            json_mode=json_mode,
        )
        for i in range(body.n)
    ]


def _budget(prompt_len: int, requested: int | None, context: int, param: str, default: int = DEFAULT_MAX_TOKENS) -> int:
    """max_tokens for a prompt, or the OpenAI context_length_exceeded error."""
    if prompt_len >= context or (requested is not None and prompt_len + requested > context):
        asked = f" ({prompt_len} in the prompt, {requested} for the completion)" if requested else ""
        raise InvalidRequest(
            f"This model's maximum context length is {context} tokens. However, you requested "
            f"{prompt_len + (requested or 0)} tokens{asked}. Please reduce the length of the prompt"
            f"{' or the completion' if requested else ''}.",
            param="messages" if param == "messages" else param,
            code="context_length_exceeded",
        )
    return requested if requested is not None else min(default, context - prompt_len)


def render_chat(tokenizer: Any, body: ChatCompletionCreate) -> list[int]:
    """The request's prompt, rendered by the one renderer training and grading use (inference.prompts)."""
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    try:
        return prompts.render_chat(tokenizer, messages, body.tools)
    except prompts.UnsupportedContent as exc:
        raise InvalidRequest(str(exc), param=f"messages.[{exc.index}].content") from None


def prepare_chat(
    ctx: StoreContext,
    engine: Engine,
    project_id: str,
    body: ChatCompletionCreate,
    *,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Prepared:
    """Validate, render and budget one chat request; `default_max_tokens` applies when it sets none."""
    if body.top_logprobs and not body.logprobs:
        raise InvalidRequest("top_logprobs requires logprobs to be true.", param="top_logprobs")
    fmt = body.response_format
    schema = {"type": "object"} if fmt is not None and fmt.type == "json_object" else None  # OpenAI: an object
    if fmt is not None and fmt.type == "json_schema":
        if not fmt.json_schema or not isinstance(fmt.json_schema.get("schema"), dict):
            raise InvalidRequest(
                "response_format.json_schema.schema must be a JSON Schema object.", param="response_format.json_schema"
            )
        schema = fmt.json_schema["schema"]
    model = resolve(ctx.store, ctx.settings, project_id, body.model)
    prompt = render_chat(engine.tokenizer(model), body)
    requested = body.max_completion_tokens or body.max_tokens
    budget = _budget(len(prompt), requested, engine.context_length(model), "messages", default_max_tokens)
    json_mode = fmt is not None and fmt.type in ("json_object", "json_schema")
    params = _params(body, budget, logprobs=body.logprobs, top=body.top_logprobs or 0, json_mode=json_mode)
    engine.prepare(model, params[0])  # here, in a worker thread: submit() runs on the event loop
    return Prepared("chat", model, [prompt], params, schema, id=new_id("chatcmpl-"))


def prepare_text(ctx: StoreContext, engine: Engine, project_id: str, body: CompletionCreate) -> Prepared:
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    if not prompts or len(prompts) * body.n > 64:
        raise InvalidRequest("prompt: give 1 to 64 prompts (times n).", param="prompt")
    if body.echo:
        raise InvalidRequest("echo is not supported.", param="echo")
    model = resolve(ctx.store, ctx.settings, project_id, body.model)
    tokenizer = engine.tokenizer(model)
    ids = [list(tokenizer.encode(p)) for p in prompts]
    if not all(ids):  # nothing to condition on (a tokenizer without BOS encodes "" as no tokens)
        raise InvalidRequest("prompt: every prompt needs at least one token; got an empty one.", param="prompt")
    budget = min(_budget(len(p), body.max_tokens, engine.context_length(model), "prompt") for p in ids)
    top = body.logprobs or 0
    params = _params(body, budget, logprobs=body.logprobs is not None, top=top, json_mode=False)
    return Prepared("text", model, ids, params, id=new_id("cmpl-"))


# -- running -----------------------------------------------------------------------------------------


def _launch(engine: Engine, prep: Prepared) -> tuple[asyncio.Queue[tuple[int, Delta | Finished]], list[SequenceHandle]]:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[int, Delta | Finished]] = asyncio.Queue()
    handles = []
    for p, prompt in enumerate(prep.prompts):
        for i, params in enumerate(prep.params):
            index = p * len(prep.params) + i

            def sink(ev: Delta | Finished, index: int = index) -> None:
                # The engine's thread calls this; a consumer gone with its loop (a judge past its deadline)
                # must not raise there, where it would fail the other sequences of the batch.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(events.put_nowait, (index, ev))

            handles.append(engine.submit(prep.model, prompt, params, sink, json_schema=prep.json_schema))
    return events, handles


async def _events(
    engine: Engine, prep: Prepared, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncGenerator[tuple[int, Delta | Finished], None]:
    """Every (choice index, event) until each sequence finished; cancels them all if the client leaves."""
    events, handles = _launch(engine, prep)
    remaining = len(handles)
    try:
        while remaining:
            try:
                index, ev = await asyncio.wait_for(events.get(), timeout=0.5)
            except TimeoutError:
                if await disconnected():
                    return
                continue
            if isinstance(ev, Finished):
                remaining -= 1
                if ev.error:
                    raise GenerationFailed(f"generation failed: {ev.error}")
            yield index, ev
    finally:
        for h in handles:
            h.cancel()


def _chat_logprobs(items: list[TokenLogprob]) -> dict[str, Any]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    return {
        "content": [{**entry(t.token, t.logprob), "top_logprobs": [entry(a, b) for a, b in t.top]} for t in items],
        "refusal": None,
    }


def _text_logprobs(items: list[TokenLogprob], start: int = 0) -> dict[str, Any]:
    offsets, pos = [], start
    for t in items:
        offsets.append(pos)
        pos += len(t.token)
    return {
        "tokens": [t.token for t in items],
        "token_logprobs": [t.logprob for t in items],
        "top_logprobs": [dict(t.top) for t in items],
        "text_offset": offsets,
    }


def _usage(prep: Prepared, completion_tokens: int) -> dict[str, int]:
    prompt_tokens = sum(len(p) for p in prep.prompts)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _head(prep: Prepared, obj: str) -> dict[str, Any]:
    return {"id": prep.id, "object": obj, "created": prep.created, "model": prep.model.id}


async def complete(engine: Engine, prep: Prepared, disconnected: Callable[[], Awaitable[bool]]) -> dict[str, Any]:
    """The whole ChatCompletion / Completion body, once every choice finished."""
    count = len(prep.prompts) * len(prep.params)
    texts, lps = [""] * count, [[] for _ in range(count)]  # type: list[str], list[list[TokenLogprob]]
    reasons, completion_tokens = ["stop"] * count, 0
    async for index, ev in _events(engine, prep, disconnected):
        if isinstance(ev, Delta):
            texts[index] += ev.text
            lps[index].extend(ev.logprobs)
        else:
            reasons[index], completion_tokens = ev.finish_reason, completion_tokens + ev.completion_tokens
    logprobs_on = prep.params[0].logprobs
    if prep.kind == "chat":
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": texts[i], "refusal": None},
                "finish_reason": reasons[i],
                "logprobs": _chat_logprobs(lps[i]) if logprobs_on else None,
            }
            for i in range(count)
        ]
        body = _head(prep, "chat.completion")
    else:
        choices = [
            {
                "index": i,
                "text": texts[i],
                "finish_reason": reasons[i],
                "logprobs": _text_logprobs(lps[i]) if logprobs_on else None,
            }
            for i in range(count)
        ]
        body = _head(prep, "text_completion")
    return {**body, "choices": choices, "usage": _usage(prep, completion_tokens), "system_fingerprint": "openrft"}


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(
    engine: Engine, prep: Prepared, disconnected: Callable[[], Awaitable[bool]], *, include_usage: bool
) -> AsyncGenerator[str, None]:
    """Server-sent ChatCompletionChunk / Completion events ending with `data: [DONE]`."""
    chat = prep.kind == "chat"
    head = _head(prep, "chat.completion.chunk" if chat else "text_completion")
    logprobs_on, completion_tokens = prep.params[0].logprobs, 0
    offsets = [0] * (len(prep.prompts) * len(prep.params))
    choice: dict[str, Any]
    if chat:
        for i in range(len(offsets)):
            choice = {
                "index": i,
                "delta": {"role": "assistant", "content": ""},
                "finish_reason": None,
                "logprobs": None,
            }
            yield _sse({**head, "choices": [choice], "system_fingerprint": "openrft"})
    async for index, ev in _events(engine, prep, disconnected):
        if isinstance(ev, Finished):
            completion_tokens += ev.completion_tokens
            choice = {"index": index, "finish_reason": ev.finish_reason, "logprobs": None}
            if chat:
                choice["delta"] = {}
            else:
                choice["text"] = ""

        elif chat:
            lp = _chat_logprobs(list(ev.logprobs)) if logprobs_on else None
            choice = {"index": index, "delta": {"content": ev.text}, "finish_reason": None, "logprobs": lp}
        else:
            lp = _text_logprobs(list(ev.logprobs), offsets[index]) if logprobs_on else None
            offsets[index] += len(ev.text)
            choice = {"index": index, "text": ev.text, "finish_reason": None, "logprobs": lp}
        yield _sse({**head, "choices": [choice], "system_fingerprint": "openrft"})
    if include_usage:
        yield _sse({**head, "choices": [], "usage": _usage(prep, completion_tokens)})
    yield "data: [DONE]\n\n"
