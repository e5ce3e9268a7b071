"""Fine-tune datasets: JSON Lines of chat prompts, validated as OpenAI RFT and Bedrock RFT do.

One line is one prompt: `{"messages": [...], "tools": [...]?, <any other key>...}`. `messages` and
`tools` are the only reserved keys; every other key is an item field that graders read as
`{{ item.<key> }}` (reference/api-spec.md sections 1.6, 2.4, 4.5). The rules:

- the file is UTF-8 text (no NUL bytes), each non-blank line a JSON object, nested at most
  `safejson.MAX_DEPTH` (64) levels, with finite numbers only (NaN and Infinity are not JSON);
- `messages` is a non-empty list of `{role, content}` objects, roles among system, developer, user,
  assistant, tool; content a non-empty string or a non-empty list of content parts;
- a system or developer message may only come first, and the last message is from the user (the model
  writes the answer during training);
- `tools`, when present, is a list of `{"type": "function", "function": {"name", ...}}` with unique names.

The same parser serves the Files API (on upload), job creation and the trainer, so a file accepted
once is read the same way everywhere. Errors name the line: `line 7: last message must be from the user`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from openrft import safejson

ROLES = ("system", "developer", "user", "assistant", "tool")
LEADING_ROLES = ("system", "developer")
RESERVED_KEYS = ("messages", "tools")
CONTENT_PART_TYPES = ("text", "input_text", "image_url", "input_image")


@dataclass(frozen=True)
class DatasetRow:
    line: int  # 1-based line number in the file
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    item: dict[str, Any]  # every key of the line except messages/tools


class DatasetError(Exception):
    """A file that is not a valid fine-tune dataset; `message` starts with the line at fault."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.message = f"line {line}: {message}" if line is not None else message
        super().__init__(self.message)


def _check_content(content: Any, where: str) -> str | None:
    """Return what is wrong with a message's content, or None."""
    if isinstance(content, str):
        return None if content.strip() else f"{where}.content is empty"
    if isinstance(content, list):
        if not content:
            return f"{where}.content is an empty list"
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                return f"{where}.content[{j}] must be an object with a string 'type'"
            if part["type"] not in CONTENT_PART_TYPES:
                return f"{where}.content[{j}] has unsupported type {part['type']!r} (text or image only)"
            if part["type"] in ("text", "input_text") and not isinstance(part.get("text"), str):
                return f"{where}.content[{j}].text must be a string"
        return None
    return f"{where}.content must be a string or a list of content parts"


def _check_message(i: int, message: Any, last: int) -> str | None:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        return f"{where} must be an object"
    role = message.get("role")
    if role not in ROLES:
        return f"{where}.role {role!r} is not one of {', '.join(ROLES)}"
    if role in LEADING_ROLES and i != 0:
        return f"{where}: a {role} message may only be the first message"
    if i == last and role != "user":
        return f"last message must be from the user (got {role!r}); the model writes the answer"
    if "content" not in message or message["content"] is None:
        if role == "assistant" and message.get("tool_calls"):
            return None
        return f"{where} has no content"
    return _check_content(message["content"], where)


def _check_tools(tools: Any) -> str | None:
    if not isinstance(tools, list):
        return "'tools' must be a list"
    names: set[str] = set()
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            return f"tools[{k}] must be an object with type 'function'"
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            return f"tools[{k}].function.name must be a non-empty string"
        if "parameters" in function and not isinstance(function["parameters"], dict):
            return f"tools[{k}].function.parameters must be an object"
        if function["name"] in names:
            return f"tools[{k}]: duplicate function name {function['name']!r}"
        names.add(function["name"])
    return None


def parse_line(raw: bytes, line: int) -> DatasetRow | None:
    """One line of the file -> a row, None for a blank line; raises DatasetError naming the line."""
    if b"\x00" in raw:
        raise DatasetError("contains a NUL byte: this looks like a binary file, not JSON Lines", line)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"is not valid UTF-8 ({exc.reason} at byte {exc.start}): JSON Lines is text, not a binary file"
        raise DatasetError(reason, line) from None
    if line == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    try:
        obj = safejson.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"invalid JSON ({exc.msg} at column {exc.colno})", line) from None
    except safejson.JSONLimitError as exc:
        raise DatasetError(f"invalid JSON: {exc}", line) from None
    if not isinstance(obj, dict):
        raise DatasetError(f"must be a JSON object, got {type(obj).__name__}", line)
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DatasetError("missing 'messages': each line needs a non-empty list of chat messages", line)
    for i, message in enumerate(messages):
        problem = _check_message(i, message, len(messages) - 1)
        if problem:
            raise DatasetError(problem, line)
    tools = obj.get("tools")
    if tools is not None and (problem := _check_tools(tools)):
        raise DatasetError(problem, line)
    item = {k: v for k, v in obj.items() if k not in RESERVED_KEYS}
    return DatasetRow(line=line, messages=messages, tools=tools, item=item)


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Re-split a stream of byte chunks into lines (without the line ending)."""
    parts: list[bytes] = []  # pieces of the current line, joined once (a long line costs linear time)
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            parts.append(chunk[start:end])
            yield b"".join(parts).removesuffix(b"\r")
            parts, start = [], end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts).removesuffix(b"\r")


def iter_finetune_rows(lines: Iterable[bytes], *, max_rows: int | None = None) -> Iterator[DatasetRow]:
    """Validate line by line (constant memory for any file size); raises DatasetError."""
    count = 0
    for number, raw in enumerate(lines, start=1):
        row = parse_line(raw, number)
        if row is None:
            continue
        count += 1
        if max_rows is not None and count > max_rows:
            raise DatasetError(f"too many examples: at most {max_rows} are allowed", number)
        yield row
    if count == 0:
        raise DatasetError("the file is empty: it has no JSON lines with examples")


def parse_finetune_jsonl(data: bytes, *, max_rows: int | None = None) -> list[DatasetRow]:
    """The whole file -> its rows; raises DatasetError naming the first line at fault."""
    return list(iter_finetune_rows(iter_lines([data]), max_rows=max_rows))


def count_finetune_rows(chunks: Iterable[bytes], *, max_rows: int | None = None) -> int:
    """Validate a stream of chunks without keeping the rows; returns the number of examples."""
    return sum(1 for _ in iter_finetune_rows(iter_lines(chunks), max_rows=max_rows))


def load_file_rows(ctx_or_blobs: Any, file_id: str) -> list[DatasetRow]:
    """The rows of an uploaded fine-tune file (blob `files/{file_id}`), from an AppContext or a BlobStore."""
    blobs = getattr(ctx_or_blobs, "blobs", ctx_or_blobs)
    return parse_finetune_jsonl(blobs.get(f"files/{file_id}"))
