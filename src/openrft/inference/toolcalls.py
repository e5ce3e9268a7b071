"""Tool calls as text: the prompt that offers tools, the text of a call, and parsing a reply back into calls.

A model's chat template either renders `tools` itself (its family's own format: kept as it is) or ignores
them, as the bundled SmolLM2-135M-Instruct's plain ChatML template does. For the latter the renderer
(inference.prompts) uses SmolLM2's documented function-calling format, the one its model card and its
Ollama template give:

- the tools are offered in a system prompt listing them as JSON inside `<tools>...</tools>`;
- an assistant's calls are `<tool_call>[{"name": ..., "arguments": {...}}, ...]</tool_call>`;
- a `tool` message's result goes back as a user turn `<tool_response>\\n...\\n</tool_response>`.

`parse_tool_calls` reads a reply in that format, and in the Hermes/Qwen one a tool-rendering template
uses (one `<tool_call>{"name": ..., "arguments": ...}</tool_call>` block per call), into OpenAI's
`tool_calls`. What does not parse as a call of an offered function stays in the reply's content, as
written: a block whose JSON is malformed, a call of a function not in `tools`, an unclosed block
truncated by max_tokens. An empty list `<tool_call>[]</tool_call>` (the format's "no call needed") is
dropped. The parse is all-or-nothing per block, so a reply never carries half of a block's calls.
With tools offered, the content is stripped of surrounding whitespace (streamed or not, the same text).

`constraint` gives the JSON Schema that tool_choice `required` / named decoding is held to
(inference.constrained), so the output *is* a valid call of an offered function.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
RESPONSE_OPEN, RESPONSE_CLOSE = "<tool_response>\n", "\n</tool_response>"

# SmolLM2's documented tool prompt (model card, Ollama template), with the tools' JSON in <tools>.
TOOLS_PROMPT = (
    "You are an expert in composing functions. You are given a question and a set of possible functions.\n"
    "Based on the question, you will need to make one or more function/tool calls to achieve the purpose.\n"
    "If none of the functions can be used, point it out and refuse to answer.\n"
    "If the given question lacks the parameters required by the function, also point it out.\n\n"
    "You have access to the following tools:\n<tools>{tools}</tools>\n\n"
    "The output MUST strictly adhere to the following format, and NO other text MUST be included.\n"
    "The example format is as follows. Please make sure the parameter type is correct. "
    "If no function call is needed, please make the tool calls an empty list '[]'.\n"
    '<tool_call>[\n{{"name": "func_name1", "arguments": {{"argument1": "value1", "argument2": "value2"}}}},\n'
    "... (more tool calls as required)\n]</tool_call>"
)

_BLOCK = re.compile(re.escape(CALL_OPEN) + r"(.*?)(?:" + re.escape(CALL_CLOSE) + r"|\Z)", re.DOTALL)


@dataclass(frozen=True)
class ToolReply:
    """A reply split into its text (None when it was only calls) and OpenAI-shaped tool calls."""

    content: str | None
    calls: list[dict[str, Any]] = field(default_factory=list)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def function_names(tools: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [str(t.get("function", {}).get("name")) for t in tools or [] if isinstance(t.get("function"), Mapping)]


def tools_prompt(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system prompt offering `tools` (their `function` objects as JSON, as SmolLM2 was shown them)."""
    return TOOLS_PROMPT.format(tools=json.dumps([t.get("function", t) for t in tools], ensure_ascii=False))


def _arguments_object(arguments: Any) -> Any:
    """A call's arguments as an object: OpenAI sends a JSON string, templates want the value."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def template_calls(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI tool_calls with `arguments` decoded to objects (what tool-rendering chat templates expect)."""
    out = []
    for call in calls:
        fn = dict(call.get("function") or {})
        if "arguments" in fn:
            fn["arguments"] = _arguments_object(fn["arguments"])
        out.append({**call, "function": fn})
    return out


def calls_text(calls: Sequence[Mapping[str, Any]]) -> str:
    """The text of an assistant's calls in the family format (exactly what `parse_tool_calls` reads back)."""
    items = []
    for call in calls:
        fn = call.get("function") or {}
        items.append({"name": fn.get("name"), "arguments": _arguments_object(fn.get("arguments", {}))})
    body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    return f"{CALL_OPEN}[\n{body}\n]{CALL_CLOSE}"  # one call a line, as the format's own example writes them


def response_text(content: str) -> str:
    """A tool message's result as the user turn the family format gives it."""
    return RESPONSE_OPEN + content + RESPONSE_CLOSE


def _call(item: Any, names: set[str]) -> dict[str, Any] | None:
    """One {"name", "arguments"} object -> an OpenAI tool call, or None when it is not a call of an offered tool."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or item["name"] not in names:
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):  # some models write the JSON string OpenAI sends
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {
        "id": new_call_id(),
        "type": "function",
        "function": {"name": item["name"], "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def _block_calls(body: str, names: set[str]) -> list[dict[str, Any]] | None:
    """The calls of one block's body (a JSON list or one object), None unless every one is valid."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = [_call(item, names) for item in items]
    return None if any(c is None for c in calls) else [c for c in calls if c is not None]


def parse_tool_calls(text: str, tools: Sequence[Mapping[str, Any]] | None) -> ToolReply:
    """Split a reply into content and tool calls (see the module docstring for what stays content)."""
    names = set(function_names(tools))
    if not names:
        return ToolReply(text)
    calls: list[dict[str, Any]] = []
    kept: list[str] = []
    position = 0
    for match in _BLOCK.finditer(text):
        closed = match.group(0).endswith(CALL_CLOSE)
        parsed = _block_calls(match.group(1).strip(), names) if closed else None
        kept.append(text[position : match.start()])
        if parsed is None:
            kept.append(match.group(0))
        calls.extend(parsed or [])
        position = match.end()
    kept.append(text[position:])
    content = "".join(kept).strip()
    return ToolReply(content or (None if calls else ""), calls)


def keep_first(reply: ToolReply) -> ToolReply:
    """parallel_tool_calls=false: at most one call per reply."""
    return ToolReply(reply.content, reply.calls[:1])


def constraint(
    tools: Sequence[Mapping[str, Any]], name: str | None, *, parallel: bool
) -> tuple[str, dict[str, Any], str]:
    """(prefix, JSON Schema, suffix) the output must match for tool_choice required (`name` None) or named.

    The JSON is the family format's list of calls, each of an offered function (or of `name`) with
    arguments matching that function's parameters schema; at least one call, at most one without `parallel`.
    """
    options = []
    for tool in tools:
        fn = tool.get("function") or {}
        if name is not None and fn.get("name") != name:
            continue
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        options.append(
            {
                "type": "object",
                "properties": {"name": {"type": "string", "enum": [fn.get("name")]}, "arguments": params},
                "required": ["name", "arguments"],
            }
        )
    item = options[0] if len(options) == 1 else {"anyOf": options}
    schema: dict[str, Any] = {"type": "array", "items": item, "minItems": 1}
    if not parallel:
        schema["maxItems"] = 1
    return CALL_OPEN, schema, CALL_CLOSE


class CallStream:
    """Streams one choice's reply as OpenAI deltas: text as `content`, each closed block as `tool_calls`.

    Text that could still be the start of `<tool_call>` is held back; a block is held until it closes, then
    parsed as `parse_tool_calls` would (a block that is not a valid call goes out as content). Whitespace
    next to blocks is dropped, as the non-streamed reply strips it. Each call goes out as two deltas, as
    OpenAI streams them: index, id, type and name with empty arguments, then the arguments.
    """

    def __init__(self, tools: Sequence[Mapping[str, Any]], *, parallel: bool = True):
        self.tools = list(tools)
        self.parallel = parallel
        self.buffer = ""
        self.in_block = False
        self.whitespace = ""  # whitespace-only text not sent yet (dropped if a block or the end follows)
        self.calls = 0
        self.sent = False  # content went out already (its leading whitespace is then kept)

    def push(self, text: str) -> list[dict[str, Any]]:
        self.buffer += text
        out: list[dict[str, Any]] = []
        while True:
            if not self.in_block:
                start = self.buffer.find(CALL_OPEN)
                if start < 0:
                    hold = _partial_tail(self.buffer, CALL_OPEN)
                    out += self._content(self.buffer[: len(self.buffer) - hold])
                    self.buffer = self.buffer[len(self.buffer) - hold :]
                    return out
                out += self._content(self.buffer[:start])
                self.buffer, self.in_block = self.buffer[start:], True
            end = self.buffer.find(CALL_CLOSE)
            if end < 0:
                return out
            block, self.buffer = self.buffer[: end + len(CALL_CLOSE)], self.buffer[end + len(CALL_CLOSE) :]
            self.in_block = False
            out += self._block(block)

    def close(self) -> list[dict[str, Any]]:
        """What is still held at the end (an unclosed block, a partial tag) goes out as content."""
        rest, self.buffer = self.buffer, ""
        return self._content(rest)

    def _content(self, text: str) -> list[dict[str, Any]]:
        """Text out, minus trailing whitespace (held until more text follows) and leading whitespace of the reply."""
        text = self.whitespace + text if self.sent else text.lstrip()
        body = text.rstrip()
        self.whitespace = text[len(body) :]
        if not body:
            return []
        self.sent = True
        return [{"content": body}]

    def _block(self, block: str) -> list[dict[str, Any]]:
        reply = parse_tool_calls(block, self.tools)
        if not reply.calls:
            return self._content(reply.content or "")
        out: list[dict[str, Any]] = []
        self.whitespace = ""  # between text and calls: dropped, as the non-streamed reply strips it
        for call in reply.calls:
            if not self.parallel and self.calls >= 1:
                break
            fn = call["function"]
            head = {"index": self.calls, "id": call["id"], "type": "function"}
            out.append({"tool_calls": [{**head, "function": {"name": fn["name"], "arguments": ""}}]})
            out.append({"tool_calls": [{"index": self.calls, "function": {"arguments": fn["arguments"]}}]})
            self.calls += 1
        return out


def _partial_tail(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0
