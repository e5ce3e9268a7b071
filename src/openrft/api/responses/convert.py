"""A Responses request as the chat completion request it means: pure functions, no engine.

The Responses API is served by the one chat path (inference.completions: render, constrain, generate,
parse tool calls), so this module only translates:

- `instructions` -> a leading system message; `input` as a string -> one user message;
- input items -> chat messages: `message` items (roles user, system, developer, assistant; text parts
  `input_text` / `output_text`, an assistant's `refusal` as its text), consecutive `function_call` items ->
  the `tool_calls` of one assistant message, `function_call_output` -> a `tool` message (its call_id must
  name an earlier function_call, as OpenAI requires); any other item type or content part is a 400 naming it;
- Responses' flat function tools `{"type": "function", "name", "description", "parameters", "strict"}` ->
  chat's `{"type": "function", "function": {...}}`; `tool_choice` {"type": "function", "name"} -> chat's
  {"type": "function", "function": {"name"}}; `text.format` -> `response_format`;
- `max_output_tokens` -> `max_completion_tokens`.

Errors the chat path raises name chat's fields (`messages.[3].content`, `tools[0].function.parameters`);
`responses_param` names them back in the Responses request (`input[2].content`, `tools[0].parameters`).
Every parameter the chat request does not carry is refused here by name (`refuse_unsupported`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrft.api.responses.schemas import ResponseCreate
from openrft.errors import InvalidRequest

ROLES = ("user", "assistant", "system", "developer")
TEXT_PARTS = ("input_text", "output_text")
FUNCTION_TOOL_KEYS = {"type", "name", "description", "parameters", "strict"}
TOOL_CHOICE_OPTIONS = ("none", "auto", "required")
TEXT_FORMATS = ("text", "json_object", "json_schema")
# chat request field -> the Responses parameter it comes from (for naming an error, and the support guard)
CHAT_TO_RESPONSES = {
    "messages": "input",
    "max_completion_tokens": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "response_format": "text.format",
    "tools": "tools",
    "tool_choice": "tool_choice",
    "parallel_tool_calls": "parallel_tool_calls",
    "temperature": "temperature",
    "top_p": "top_p",
    "user": "user",
    "stream": "stream",
}


@dataclass(frozen=True)
class ChatRequest:
    """The chat completion body, and where each of its messages came from ("instructions", "input[2]")."""

    body: dict[str, Any]
    origins: list[str]


def refuse_unsupported(body: ResponseCreate) -> None:
    """A 400 naming each parameter this server does not implement, rather than accepting and ignoring it."""
    for name, value in (body.model_extra or {}).items():
        if value is not None:  # an explicit null is the same as leaving it out
            raise InvalidRequest(f"{name} is not supported by this server; leave it unset.", param=name)
    if body.store:
        raise InvalidRequest(
            "store: responses are not stored on this server (nor retrievable later); set store to false.",
            param="store",
        )
    if body.truncation == "auto":
        raise InvalidRequest("truncation 'auto' is not supported: an input too long is a 400.", param="truncation")
    if body.input is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if body.stream_options is not None:
        if not body.stream:
            raise InvalidRequest("stream_options is only allowed when stream is true.", param="stream_options")
        for key, value in body.stream_options.items():
            if key != "include_obfuscation" or value:
                raise InvalidRequest(
                    f"stream_options.{key} is not supported (events carry no obfuscation padding).",
                    param=f"stream_options.{key}",
                )
    if body.metadata is not None and (
        len(body.metadata) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in body.metadata.items())
    ):
        raise InvalidRequest(
            "metadata: at most 16 pairs, keys up to 64 and values up to 512 characters.", param="metadata"
        )


# -- input --------------------------------------------------------------------------------------------


def _text_of(content: Any, where: str, *, assistant: bool) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: a string or a list of content parts.", param=where)
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in TEXT_PARTS or (assistant and kind == "refusal"):
            value = part.get("refusal" if kind == "refusal" else "text")
            if not isinstance(value, str):
                raise InvalidRequest(f"{where}[{j}]: a {kind} part needs its text as a string.", param=f"{where}[{j}]")
            texts.append(value)
        else:
            raise InvalidRequest(
                f"{where}[{j}]: only text parts ({', '.join(TEXT_PARTS)}) are supported, not {kind!r}.",
                param=f"{where}[{j}].type",
            )
    return "".join(texts)


def _message(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ROLES:
        raise InvalidRequest(f"{where}.role: one of {', '.join(ROLES)}, not {role!r}.", param=f"{where}.role")
    return {"role": role, "content": _text_of(item.get("content"), f"{where}.content", assistant=role == "assistant")}


def _string(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"Missing required parameter: '{where}.{key}'.", param=f"{where}.{key}")
    return value


def _call_output(item: Mapping[str, Any], where: str) -> str:
    output = item.get("output")
    if isinstance(output, str):
        return output
    return _text_of(output, f"{where}.output", assistant=False)


def chat_messages(instructions: str | None, input: str | Sequence[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The chat messages of `instructions` + `input`, and the origin of each (module docstring)."""
    messages: list[dict[str, Any]] = []
    origins: list[str] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
        origins.append("instructions")
    if isinstance(input, str):
        return [*messages, {"role": "user", "content": input}], [*origins, "input"]
    if not input:
        raise InvalidRequest("input: give a string or at least one input item.", param="input")
    calls: set[str] = set()
    for i, item in enumerate(input):
        where = f"input[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidRequest(f"{where}: an input item is an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
            origins.append(where)
        elif kind == "function_call":
            call_id = _string(item, "call_id", where)
            arguments = item.get("arguments")
            if not isinstance(arguments, str):
                raise InvalidRequest(f"{where}.arguments: a JSON string.", param=f"{where}.arguments")
            call = {
                "id": call_id,
                "type": "function",
                "function": {"name": _string(item, "name", where), "arguments": arguments},
            }
            calls.add(call_id)
            if messages and messages[-1]["role"] == "assistant":  # the same assistant turn: one message
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
                origins.append(where)
        elif kind == "function_call_output":
            call_id = _string(item, "call_id", where)
            if call_id not in calls:
                raise InvalidRequest(
                    f"No tool call found for function call output with call_id {call_id}.", param=f"{where}.call_id"
                )
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _call_output(item, where)})
            origins.append(where)
        else:
            raise InvalidRequest(
                f"{where}.type: input items of type {kind!r} are not supported (message, function_call, "
                "function_call_output are).",
                param=f"{where}.type",
            )
    return messages, origins


# -- tools, tool_choice, text -------------------------------------------------------------------------


def chat_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Responses' flat function tools as chat's nested ones; other tool types are a 400 naming them."""
    out = []
    for k, tool in enumerate(tools):
        where = f"tools[{k}]"
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            raise InvalidRequest(
                f"{where}.type: only function tools are supported, not {kind!r}.", param=f"{where}.type"
            )
        for key, value in tool.items():
            if key not in FUNCTION_TOOL_KEYS and value is not None:
                raise InvalidRequest(f"{where}.{key} is not supported by this server.", param=f"{where}.{key}")
        function: dict[str, Any] = {"name": _string(tool, "name", where)}
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise InvalidRequest(f"{where}.parameters: a JSON Schema object.", param=f"{where}.parameters")
        function["parameters"] = dict(parameters) if parameters is not None else {"type": "object", "properties": {}}
        for key in ("description", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        out.append({"type": "function", "function": function})
    return out


def chat_tool_choice(choice: str | Mapping[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in TOOL_CHOICE_OPTIONS:
            raise InvalidRequest(
                f"tool_choice: one of {', '.join(TOOL_CHOICE_OPTIONS)} or a function.", param="tool_choice"
            )
        return choice
    if choice.get("type") != "function":
        raise InvalidRequest(
            f"tool_choice: only {{'type': 'function', 'name': ...}} is supported, not type {choice.get('type')!r}.",
            param="tool_choice.type",
        )
    return {"type": "function", "function": {"name": _string(choice, "name", "tool_choice")}}


def response_format(text: Mapping[str, Any]) -> dict[str, Any] | None:
    """`text` -> chat's response_format (None for plain text)."""
    for key, value in text.items():
        if key != "format" and value is not None:
            raise InvalidRequest(f"text.{key} is not supported by this server.", param=f"text.{key}")
    fmt = text.get("format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind not in TEXT_FORMATS:
        raise InvalidRequest(f"text.format.type: one of {', '.join(TEXT_FORMATS)}.", param="text.format.type")
    assert isinstance(fmt, Mapping)
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
    return {"type": "json_schema", "json_schema": schema}


def chat_request(body: ResponseCreate, chat_fields: Mapping[str, Any]) -> ChatRequest:
    """The chat completion body of a (checked) Responses request; `chat_fields` are the chat request's
    fields (ChatCompletionCreate.model_fields): a parameter the chat path does not carry is refused."""
    assert body.input is not None  # refuse_unsupported said so
    messages, origins = chat_messages(body.instructions, body.input)
    chat: dict[str, Any] = {"model": body.model, "messages": messages, "stream": body.stream}
    optional = {
        "max_completion_tokens": body.max_output_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "user": body.user,
        "tools": chat_tools(body.tools) if body.tools else None,
        "tool_choice": chat_tool_choice(body.tool_choice) if body.tool_choice is not None else None,
        "response_format": response_format(body.text) if body.text is not None else None,
        "parallel_tool_calls": body.parallel_tool_calls,
    }
    for key, value in optional.items():
        if value is None:
            continue
        if key not in chat_fields:  # the chat path would drop it: refuse it instead
            if key == "parallel_tool_calls" and value is True:
                continue  # the chat path's own default: parallel calls are allowed
            name = CHAT_TO_RESPONSES[key]
            raise InvalidRequest(f"{name} is not supported by this server; leave it unset.", param=name)
        chat[key] = value
    return ChatRequest(chat, origins)


# -- naming the chat path's errors in the Responses request --------------------------------------------

_MESSAGE = re.compile(r"^messages(?:\.?\[(\d+)\]|\.(\d+))?(.*)$")
_TOOL = re.compile(r"^tools(?:\.?\[(\d+)\]|\.(\d+))(?:\.function)?(.*)$")


def responses_param(param: str | None, origins: Sequence[str]) -> str | None:
    """A chat request's parameter as the Responses request names it (module docstring)."""
    if param is None:
        return None
    if m := _MESSAGE.match(param):
        index = m.group(1) or m.group(2)
        if index is None or int(index) >= len(origins):
            return "input"
        origin = origins[int(index)]
        return origin if origin in ("input", "instructions") else origin + m.group(3)
    if m := _TOOL.match(param):
        return f"tools[{m.group(1) or m.group(2)}]{m.group(3)}"
    if param.startswith("response_format"):
        return "text.format" + param.removeprefix("response_format").removeprefix(".json_schema")
    if param.startswith("tool_choice"):
        return "tool_choice.name" if "name" in param else "tool_choice"
    head, dot, rest = param.partition(".")
    return CHAT_TO_RESPONSES.get(head, head) + dot + rest
