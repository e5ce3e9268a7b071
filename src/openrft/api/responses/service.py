"""Responses service: a caller's POST /v1/responses, run on the chat completion path.

`prepare` (blocking: a worker thread) checks the request, translates it (responses.convert) and prepares
it with `inference.completions.prepare_chat` for the caller's project: base, fine-tuned (`ft:`) and
checkpoint models resolve as they do for chat. `complete` turns the ChatCompletion into a `Response`;
`stream` turns the ChatCompletionChunks into Responses' server-sent events (`ResponseEvents`), in
OpenAI's order, each with its `sequence_number`:

  response.created, response.in_progress,
  per output item: response.output_item.added, then for a message response.content_part.added,
  response.output_text.delta..., response.output_text.done, response.content_part.done; for a function
  call response.function_call_arguments.delta..., response.function_call_arguments.done;
  then response.output_item.done,
  and last response.completed (or response.incomplete when max_output_tokens cut the answer; or
  response.failed when generation failed).

Output items: the reply's text as one `message` item (omitted when the reply is only tool calls), then
one `function_call` item per tool call. A reply cut by max_output_tokens (or by the model's context) is
`status: "incomplete"` with `incomplete_details.reason = "max_output_tokens"`. Nothing is stored: a
response cannot be retrieved later, and `previous_response_id` is refused (send the conversation as input
items instead).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from openrft.api.responses import convert
from openrft.api.responses.schemas import ResponseCreate
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import GenerationFailed, InvalidRequest, field_error
from openrft.ids import new_id
from openrft.inference import completions
from openrft.inference.engine import get_engine
from openrft.inference.schemas import ChatCompletionCreate


@dataclass
class Prepared:
    """The chat request to run and the Response's fields known before generation (`head`)."""

    chat: completions.Prepared
    head: dict[str, Any]


def _head(body: ResponseCreate, model: str) -> dict[str, Any]:
    """The Response as it is while in progress: the request's settings echoed, no output yet."""
    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": time.time(),
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "metadata": body.metadata or {},
        "model": model,
        "output": [],
        "parallel_tool_calls": True if body.parallel_tool_calls is None else body.parallel_tool_calls,
        "previous_response_id": None,
        "temperature": 1.0 if body.temperature is None else body.temperature,
        "text": body.text if body.text and body.text.get("format") else {"format": {"type": "text"}},
        "tool_choice": body.tool_choice if body.tool_choice is not None else "auto",
        "tools": body.tools or [],
        "top_p": 1.0 if body.top_p is None else body.top_p,
        "truncation": "disabled",
        "usage": None,
        "user": body.user,
    }


def prepare(ctx: AppContext, principal: Principal, body: ResponseCreate) -> Prepared:
    """Check, translate and prepare `body` for the caller's project; errors name the Responses fields."""
    convert.refuse_unsupported(body)
    request = convert.chat_request(body, ChatCompletionCreate.model_fields)
    try:
        chat = ChatCompletionCreate.model_validate(request.body)
        prep = completions.prepare_chat(ctx, get_engine(), principal.project_id, chat)
    except ValidationError as exc:
        err = field_error(exc.errors())
        param = convert.responses_param(err.param, request.origins)
        raise InvalidRequest(f"{param}: {err.message}" if param else err.message, param=param) from None
    except InvalidRequest as exc:
        exc.param = convert.responses_param(exc.param, request.origins)
        exc.message = exc.message.replace("max_completion_tokens", "max_output_tokens")
        raise
    return Prepared(prep, _head(body, prep.model.id))


# -- output items ---------------------------------------------------------------------------------------


def message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": [part]}


def function_call_item(item_id: str, call: dict[str, Any], status: str) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call.get("id") or "",
        "name": function.get("name") or "",
        "arguments": function.get("arguments") or "",
    }


def usage(chat_usage: dict[str, Any] | None) -> dict[str, Any]:
    """Chat's usage in Responses' names (no prompt cache and no reasoning tokens here: their details are 0)."""
    u = chat_usage or {}
    prompt, completion = int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def finished(
    head: dict[str, Any], output: list[dict[str, Any]], finish_reason: str | None, chat_usage: Any
) -> dict[str, Any]:
    """The whole Response once generation ended: completed, or incomplete when the length limit cut it."""
    incomplete = finish_reason == "length"
    return {
        **head,
        "status": "incomplete" if incomplete else "completed",
        "completed_at": None if incomplete else time.time(),
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "output": output,
        "usage": usage(chat_usage),
    }


def response_of(head: dict[str, Any], completion: dict[str, Any]) -> dict[str, Any]:
    """A ChatCompletion (one choice) as a Response (module docstring)."""
    choice = completion["choices"][0]
    message, reason = choice["message"], choice["finish_reason"]
    text, calls = message.get("content"), message.get("tool_calls") or []
    status = "incomplete" if reason == "length" else "completed"
    output = [message_item(new_id("msg_"), text or "", status)] if text or not calls else []
    output += [function_call_item(new_id("fc_"), call, "completed") for call in calls]
    return finished(head, output, reason, completion.get("usage"))


async def complete(prep: Prepared, disconnected: Callable[[], Awaitable[bool]]) -> dict[str, Any]:
    return response_of(prep.head, await completions.complete(get_engine(), prep.chat, disconnected))


# -- streaming --------------------------------------------------------------------------------------------


class ResponseEvents:
    """ChatCompletionChunks in, Responses' stream events out (as server-sent events), in OpenAI's order."""

    def __init__(self, head: dict[str, Any]):
        self.head = head
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None  # the output item being streamed
        self.open_call_index: int | None = None  # its tool call's index in the chat deltas
        self.text = ""
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def event(self, type_: str, **fields: Any) -> str:
        data = {"type": type_, "sequence_number": self.seq, **fields}
        self.seq += 1
        return f"event: {type_}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"

    def start(self) -> Iterator[str]:
        yield self.event("response.created", response=self.head)
        yield self.event("response.in_progress", response=self.head)

    def chunk(self, chunk: dict[str, Any]) -> Iterator[str]:
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                yield from self._text(delta["content"])
            for call in delta.get("tool_calls") or []:
                yield from self._call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _where(self) -> dict[str, Any]:
        assert self.open is not None
        return {"item_id": self.open["id"], "output_index": len(self.output)}

    def _open_message(self) -> Iterator[str]:
        self.open, self.text = message_item(new_id("msg_"), "", "in_progress"), ""
        self.open["content"] = []
        yield self.event("response.output_item.added", output_index=len(self.output), item=self.open)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield self.event("response.content_part.added", **self._where(), content_index=0, part=part)

    def _text(self, text: str) -> Iterator[str]:
        if self.open is None or self.open["type"] != "message":
            yield from self._close("completed")
            yield from self._open_message()
        self.text += text
        yield self.event("response.output_text.delta", **self._where(), content_index=0, delta=text, logprobs=[])

    def _call(self, call: dict[str, Any]) -> Iterator[str]:
        index = call.get("index")
        if self.open is None or self.open["type"] != "function_call" or self.open_call_index != index:
            yield from self._close("completed")
            self.open = function_call_item(new_id("fc_"), {**call, "function": {**(call.get("function") or {})}}, "")
            self.open.update(status="in_progress", arguments="")
            self.open_call_index = index
            yield self.event("response.output_item.added", output_index=len(self.output), item=self.open)
        arguments = (call.get("function") or {}).get("arguments") or ""
        if arguments:
            self.open["arguments"] += arguments
            yield self.event("response.function_call_arguments.delta", **self._where(), delta=arguments)

    def _close(self, status: str) -> Iterator[str]:
        item = self.open
        if item is None:
            return
        where = self._where()
        if item["type"] == "message":
            part = {"type": "output_text", "text": self.text, "annotations": [], "logprobs": []}
            yield self.event("response.output_text.done", **where, content_index=0, text=self.text, logprobs=[])
            yield self.event("response.content_part.done", **where, content_index=0, part=part)
            item["content"] = [part]
        else:
            done = {"arguments": item["arguments"], "name": item["name"]}
            yield self.event("response.function_call_arguments.done", **where, **done)
        item["status"] = status
        yield self.event("response.output_item.done", output_index=where["output_index"], item=item)
        self.output.append(item)
        self.open = None

    def end(self) -> Iterator[str]:
        """The open item closed, then response.completed or response.incomplete with the whole Response."""
        if self.open is None and not self.output:  # nothing generated: one empty message, as non-streamed
            yield from self._open_message()
        yield from self._close("incomplete" if self.finish_reason == "length" else "completed")
        body = finished(self.head, self.output, self.finish_reason, self.usage)
        kind = "response.incomplete" if body["status"] == "incomplete" else "response.completed"
        yield self.event(kind, response=body)

    def failed(self, message: str) -> Iterator[str]:
        body = {
            **self.head,
            "status": "failed",
            "output": self.output,
            "error": {"code": "server_error", "message": message},
        }
        yield self.event("response.failed", response=body)


async def stream(
    prep: Prepared, disconnected: Callable[[], Awaitable[bool]], charge: Callable[[int], None]
) -> AsyncGenerator[str, None]:
    """The Responses events of one request; the last event's response carries the usage. `charge` gets the
    tokens used once the stream ends (the usage; the prompt plus the deltas sent if it ended early)."""
    events = ResponseEvents(prep.head)
    deltas = 0
    try:
        for ev in events.start():
            yield ev
        try:
            async for sse in completions.stream(get_engine(), prep.chat, disconnected, include_usage=True):
                payload = sse.removeprefix("data: ").strip()
                if payload and payload != "[DONE]":
                    for ev in events.chunk(json.loads(payload)):
                        deltas += ev.startswith("event: response.output_text.delta") or ev.startswith(
                            "event: response.function_call_arguments.delta"
                        )
                        yield ev
        except GenerationFailed as exc:
            for ev in events.failed(exc.message):
                yield ev
            return
        for ev in events.end():
            yield ev
    finally:
        used = usage(events.usage)["total_tokens"] if events.usage else sum(map(len, prep.chat.prompts)) + deltas
        charge(used)
