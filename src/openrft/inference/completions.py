"""Chat and text completions: validate, template, run on the engine, shape OpenAI's responses.

The one completion path, with no transport in it: the API's /v1/chat/completions and /v1/completions,
model graders (through `inference.chat`) and anything else that asks a served model go through here.

`prepare_*` (sync, run in a worker thread) resolves the model, renders the prompt and checks limits;
`complete` and `stream` (async) drive the engine's sequences and build `ChatCompletion`,
`ChatCompletionChunk` or `Completion` bodies. A client that goes away cancels its sequences.

Tools (chat): the prompt offers them (inference.prompts), the reply is parsed into `tool_calls`
(inference.toolcalls) with finish_reason `tool_calls` when it made any. tool_choice `auto` (the default
with tools) lets the model choose; `required` and a named function constrain decoding so the reply is
one `<tool_call>` block of valid calls (of that function); `none` renders the conversation without the
tools' offer and parses nothing. `parallel_tool_calls: false` keeps one call per reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from openrft import datasets
from openrft.errors import GenerationFailed, InvalidRequest
from openrft.ids import new_id, now_s
from openrft.inference import prompts, toolcalls
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
    tools: list[dict[str, Any]] | None = None  # chat: the tools whose calls the reply is parsed into
    parallel_tool_calls: bool = True


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
    body: SamplingFields,
    max_tokens: int,
    *,
    logprobs: bool,
    top: int,
    json_mode: bool,
    wrap: tuple[str, str] = ("", ""),
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
            json_prefix=wrap[0],
            json_suffix=wrap[1],
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


def _check_tools(body: ChatCompletionCreate) -> None:
    """Each tool a function with a name and a JSON Schema for its parameters; tool_choice one of them."""
    names = []
    for k, tool in enumerate(body.tools or []):
        fn = tool.get("function")
        if tool.get("type") != "function" or not isinstance(fn, dict):
            raise InvalidRequest(
                "Only tools of type 'function' with a 'function' object are supported.", param=f"tools[{k}]"
            )
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequest("A function needs a non-empty name.", param=f"tools[{k}].function.name")
        if problem := datasets.tool_schema_problem(fn.get("parameters", {})):  # the rule fine-tune files follow
            raise InvalidRequest(
                f"Invalid schema for function '{fn['name']}': parameters {problem}",
                param=f"tools[{k}].function.parameters",
            )
        names.append(fn["name"])
    choice = body.tool_choice
    if choice is not None and not body.tools and choice != "none":
        raise InvalidRequest("tool_choice is only allowed when tools are specified.", param="tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if choice.get("type") == "function" else None
        if not isinstance(name, str):
            raise InvalidRequest(
                'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}.',
                param="tool_choice",
            )
        if name not in names:
            raise InvalidRequest(f"tool_choice names function '{name}', which is not in tools.", param="tool_choice")


def _tool_constraint(body: ChatCompletionCreate) -> tuple[str, dict[str, Any], str] | None:
    """(prefix, schema, suffix) the reply is held to for tool_choice required or named; None otherwise."""
    choice = body.tool_choice
    if not body.tools or choice in (None, "auto", "none"):
        return None
    name = choice["function"]["name"] if isinstance(choice, dict) else None
    return toolcalls.constraint(body.tools, name, parallel=body.parallel_tool_calls)


def render_chat(tokenizer: Any, body: ChatCompletionCreate) -> list[int]:
    """The request's prompt, rendered by the one renderer training and grading use (inference.prompts)."""
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    tools = None if body.tool_choice == "none" else body.tools
    try:
        return prompts.render_chat(tokenizer, messages, tools)
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
    _check_tools(body)
    forced = _tool_constraint(body)
    json_mode = fmt is not None and fmt.type in ("json_object", "json_schema")
    if forced is not None and json_mode:
        raise InvalidRequest(
            "tool_choice required or a named function can't be combined with a JSON response_format.",
            param="tool_choice",
        )
    model = resolve(ctx.store, ctx.settings, project_id, body.model)
    prompt = render_chat(engine.tokenizer(model), body)
    requested = body.max_completion_tokens or body.max_tokens
    budget = _budget(len(prompt), requested, engine.context_length(model), "messages", default_max_tokens)
    wrap = ("", "")
    if forced is not None:
        wrap, schema, json_mode = (forced[0], forced[2]), forced[1], True
    top = body.top_logprobs or 0
    params = _params(body, budget, logprobs=body.logprobs, top=top, json_mode=json_mode, wrap=wrap)
    engine.prepare(model, params[0])  # here, in a worker thread: submit() runs on the event loop
    parsed = body.tools if body.tools and body.tool_choice != "none" else None
    return Prepared(
        "chat",
        model,
        [prompt],
        params,
        schema,
        id=new_id("chatcmpl-"),
        tools=parsed,
        parallel_tool_calls=body.parallel_tool_calls,
    )


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
        choices = []
        for i in range(count):
            message, reason = _message(prep, texts[i], reasons[i])
            lp = _chat_logprobs(lps[i]) if logprobs_on else None
            choices.append({"index": i, "message": message, "finish_reason": reason, "logprobs": lp})
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


def _message(prep: Prepared, text: str, reason: str) -> tuple[dict[str, Any], str]:
    """The assistant message of one choice and its finish_reason: tool calls parsed out when tools are on."""
    if prep.tools is None:
        return {"role": "assistant", "content": text, "refusal": None}, reason
    reply = toolcalls.parse_tool_calls(text, prep.tools)
    if not prep.parallel_tool_calls:
        reply = toolcalls.keep_first(reply)
    message = {"role": "assistant", "content": reply.content, "refusal": None, "tool_calls": reply.calls or None}
    return message, "tool_calls" if reply.calls and reason == "stop" else reason


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
    splitters = (
        [toolcalls.CallStream(prep.tools, parallel=prep.parallel_tool_calls) for _ in offsets]
        if chat and prep.tools is not None
        else None
    )

    def chunk(choice: dict[str, Any]) -> str:
        return _sse({**head, "choices": [choice], "system_fingerprint": "openrft"})

    if chat:
        for i in range(len(offsets)):
            yield chunk(
                {"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}
            )
    async for index, ev in _events(engine, prep, disconnected):
        if isinstance(ev, Finished):
            completion_tokens += ev.completion_tokens
            reason = ev.finish_reason
            if splitters is not None:
                for delta in splitters[index].close():
                    yield chunk({"index": index, "delta": delta, "finish_reason": None, "logprobs": None})
                reason = "tool_calls" if splitters[index].calls and reason == "stop" else reason
            choice = {"index": index, "finish_reason": reason, "logprobs": None}
            if chat:
                choice["delta"] = {}
            else:
                choice["text"] = ""
            yield chunk(choice)
        elif splitters is not None:  # tool calls: text is held while it may still be a call
            lp = _chat_logprobs(list(ev.logprobs)) if logprobs_on else None
            deltas = splitters[index].push(ev.text) or ([{"content": ""}] if lp else [])
            for k, delta in enumerate(deltas):
                yield chunk({"index": index, "delta": delta, "finish_reason": None, "logprobs": lp if k == 0 else None})
        elif chat:
            lp = _chat_logprobs(list(ev.logprobs)) if logprobs_on else None
            yield chunk({"index": index, "delta": {"content": ev.text}, "finish_reason": None, "logprobs": lp})
        else:
            lp = _text_logprobs(list(ev.logprobs), offsets[index]) if logprobs_on else None
            offsets[index] += len(ev.text)
            yield chunk({"index": index, "text": ev.text, "finish_reason": None, "logprobs": lp})
    if include_usage:
        yield _sse({**head, "choices": [], "usage": _usage(prep, completion_tokens)})
    yield "data: [DONE]\n\n"
