"""Fine-tune datasets: JSON Lines validated for the method that will train on them, as OpenAI does.

Three row shapes, one per line:

- reinforcement: `{"messages": [...], "tools": [...]?, <any other key>...}`: a prompt; every key but
  `messages` and `tools` is an item field graders read as `{{ item.<key> }}` (reference/api-spec.md
  sections 1.6, 2.4, 4.5). The last message is from the user (the model writes the answer in training).
- supervised (OpenAI's chat SFT format): `{"messages": [...], "tools": [...]?, "parallel_tool_calls":
  bool?}`: a whole conversation that ends with an assistant turn. An assistant message has non-empty
  content or `tool_calls` (`[{"id"?, "type": "function", "function": {"name", "arguments": <JSON
  string>}}]`, names among the row's tools when it has any, at most one when parallel_tool_calls is
  false) and may carry `weight` 0 or 1 (0: not trained on); at least one assistant message is trained on.
- dpo (OpenAI's preference format): `{"input": {"messages": [...], "tools": [...]?},
  "preferred_output": [...], "non_preferred_output": [...]}`: a prompt ending with a user turn and two
  non-empty lists of assistant messages (content or tool_calls, no weight).

Rules every method shares: the file is UTF-8 text (no NUL bytes), each non-blank line a JSON object,
nested at most `safejson.MAX_DEPTH` (64) levels, with finite numbers only; messages are `{role, content}`
objects, roles among system, developer, user, assistant, tool; content a non-empty string or a non-empty
list of content parts; a system or developer message may only come first; `tools` is a list of
`{"type": "function", "function": {"name", "parameters"?}}` with unique names, whose `parameters` is a
valid JSON Schema (jsonschema's check_schema).

`method=None` is the upload-time check (the Files API): everything above that holds for every method,
and that the row is a fine-tune row of SOME method (a `messages` row ending with a user or assistant
turn, or a complete preference row). Job creation and the trainer check again for the job's method, so
a file is read the same way everywhere. Errors name the line and the rule:
`line 7: last message must be from the assistant ...`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, overload

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from openrft import safejson

Method = Literal["reinforcement", "supervised", "dpo"]
METHODS: tuple[Method, ...] = ("reinforcement", "supervised", "dpo")
ROLES = ("system", "developer", "user", "assistant", "tool")
LEADING_ROLES = ("system", "developer")
RESERVED_KEYS = ("messages", "tools")
PREFERENCE_KEYS = ("input", "preferred_output", "non_preferred_output")
CONTENT_PART_TYPES = ("text", "input_text", "image_url", "input_image")
WEIGHTS = (0, 1)


@dataclass(frozen=True)
class DatasetRow:
    """A reinforcement prompt or a supervised conversation (its `messages` include the assistant turns)."""

    line: int  # 1-based line number in the file
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    item: dict[str, Any]  # every key of the line except messages/tools


@dataclass(frozen=True)
class PreferenceRow:
    """A dpo example: the prompt (`input.messages`, `input.tools`) and its two answers."""

    line: int
    messages: list[dict[str, Any]]  # input.messages, ending with a user turn
    tools: list[dict[str, Any]] | None  # input.tools
    preferred: list[dict[str, Any]]  # preferred_output: assistant messages
    non_preferred: list[dict[str, Any]]  # non_preferred_output: assistant messages
    item: dict[str, Any]  # every other key of the line


Row = DatasetRow | PreferenceRow


class DatasetError(Exception):
    """A file that is not a valid fine-tune dataset; `message` starts with the line at fault."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.message = f"line {line}: {message}" if line is not None else message
        super().__init__(self.message)


class _Rule(Exception):
    """A broken rule inside one line (parse_line adds the line number)."""


# -- messages and tools -----------------------------------------------------------------------------


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


def _check_message(i: int, message: Any, prefix: str) -> None:
    """The shape every method requires of one message (role, position of system/developer, content)."""
    where = f"{prefix}[{i}]"
    if not isinstance(message, dict):
        raise _Rule(f"{where} must be an object")
    role = message.get("role")
    if role not in ROLES:
        raise _Rule(f"{where}.role {role!r} is not one of {', '.join(ROLES)}")
    if role in LEADING_ROLES and i != 0:
        raise _Rule(f"{where}: a {role} message may only be the first message")
    if message.get("content") is None:
        if role == "assistant" and message.get("tool_calls"):
            return
        raise _Rule(f"{where} has no content")
    if role == "assistant" and message.get("tool_calls") and message["content"] == "":
        return  # a pure tool call, written with empty content
    if problem := _check_content(message["content"], where):
        raise _Rule(problem)


def _messages(value: Any, prefix: str, missing: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise _Rule(missing)
    for i, message in enumerate(value):
        _check_message(i, message, prefix)
    return value


def _last_role(messages: list[dict[str, Any]], role: str, why: str) -> None:
    got = messages[-1]["role"]
    if got != role:
        raise _Rule(f"last message must be from the {role} (got {got!r}); {why}")


def tool_schema_problem(parameters: Any) -> str | None:
    """What makes `parameters` not a JSON Schema (by its `$schema`, draft 2020-12 when absent), or None."""
    if not isinstance(parameters, dict):
        return "must be an object (a JSON Schema)"
    try:
        validator_for(parameters, default=Draft202012Validator).check_schema(parameters)
    except SchemaError as exc:
        at = "/".join(str(p) for p in exc.path)
        return f"is not a valid JSON Schema: {exc.message}" + (f" (at '{at}')" if at else "")
    return None


def _tools(tools: Any, prefix: str) -> list[dict[str, Any]] | None:
    """Tool definitions: unique function names, parameters a valid JSON Schema."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise _Rule(f"'{prefix}' must be a list")
    names: set[str] = set()
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise _Rule(f"{prefix}[{k}] must be an object with type 'function'")
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise _Rule(f"{prefix}[{k}].function.name must be a non-empty string")
        if "parameters" in function and (problem := tool_schema_problem(function["parameters"])):
            raise _Rule(f"{prefix}[{k}].function.parameters {problem}")
        if function["name"] in names:
            raise _Rule(f"{prefix}[{k}]: duplicate function name {function['name']!r}")
        names.add(function["name"])
    return tools


def _tool_names(tools: list[dict[str, Any]] | None) -> set[str] | None:
    return None if tools is None else {t["function"]["name"] for t in tools}


def _check_tool_calls(calls: Any, where: str, names: set[str] | None, parallel: bool) -> None:
    """An assistant message's tool_calls in OpenAI's shape; arguments a JSON string, names defined."""
    if not isinstance(calls, list) or not calls:
        raise _Rule(f"{where}.tool_calls must be a non-empty list")
    if not parallel and len(calls) > 1:
        raise _Rule(f"{where} has {len(calls)} tool calls but parallel_tool_calls is false (at most one)")
    for c, call in enumerate(calls):
        at = f"{where}.tool_calls[{c}]"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise _Rule(f"{at} must be an object with type 'function'")
        if "id" in call and not isinstance(call["id"], str):
            raise _Rule(f"{at}.id must be a string")
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise _Rule(f"{at}.function.name must be a non-empty string")
        if names is not None and function["name"] not in names:
            raise _Rule(f"{at}.function.name {function['name']!r} is not one of the row's tools")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            raise _Rule(f"{at}.function.arguments must be a string of JSON (OpenAI's shape)")
        try:
            json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise _Rule(f"{at}.function.arguments is not valid JSON ({exc.msg})") from None


def _check_assistant(
    message: dict[str, Any], where: str, names: set[str] | None, *, parallel: bool, weighted: bool
) -> None:
    """An assistant message that is trained on: content or tool calls; weight 0|1 where it is allowed."""
    if message.get("tool_calls") is not None:
        _check_tool_calls(message["tool_calls"], where, names, parallel)
    if "weight" in message:
        if not weighted:
            raise _Rule(f"{where}.weight is only allowed in supervised rows")
        weight = message["weight"]
        if isinstance(weight, bool) or weight not in WEIGHTS:
            raise _Rule(f"{where}.weight must be 0 or 1, got {weight!r}")


# -- one rule set per method -------------------------------------------------------------------------

DPO_SHAPE = "'input' (with 'messages'), 'preferred_output' and 'non_preferred_output'"


def _no_preference_keys(obj: dict[str, Any], method: str) -> None:
    if "messages" not in obj and any(k in obj for k in PREFERENCE_KEYS):
        raise _Rule(f"missing 'messages': this is a preference (dpo) row, not a {method} row")


def _reinforcement(obj: dict[str, Any], line: int) -> DatasetRow:
    _no_preference_keys(obj, "reinforcement")
    messages = _messages(
        obj.get("messages"), "messages", "missing 'messages': each line needs a non-empty list of chat messages"
    )
    _last_role(messages, "user", "the model writes the answer")
    tools = _tools(obj.get("tools"), "tools")
    return DatasetRow(line, messages, tools, {k: v for k, v in obj.items() if k not in RESERVED_KEYS})


def _supervised(obj: dict[str, Any], line: int) -> DatasetRow:
    _no_preference_keys(obj, "supervised")
    messages = _messages(
        obj.get("messages"), "messages", "missing 'messages': each line needs a non-empty list of chat messages"
    )
    _last_role(messages, "assistant", "a supervised example ends with the answer to learn")
    tools = _tools(obj.get("tools"), "tools")
    parallel = obj.get("parallel_tool_calls", True)
    if not isinstance(parallel, bool):
        raise _Rule("'parallel_tool_calls' must be true or false")
    names, trained = _tool_names(tools), 0
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            _check_assistant(message, f"messages[{i}]", names, parallel=parallel, weighted=True)
            trained += message.get("weight", 1)
        elif "weight" in message:
            raise _Rule(f"messages[{i}].weight is only allowed on assistant messages")
    if not trained:
        raise _Rule("every assistant message has weight 0: nothing to train on")
    return DatasetRow(line, messages, tools, {k: v for k, v in obj.items() if k not in RESERVED_KEYS})


def _outputs(obj: dict[str, Any], key: str, names: set[str] | None) -> list[dict[str, Any]]:
    if key not in obj:
        raise _Rule(f"missing '{key}': a dpo row needs {DPO_SHAPE}")
    value = _messages(obj[key], key, f"'{key}' must be a non-empty list of assistant messages")
    for i, message in enumerate(value):
        if message["role"] != "assistant":
            raise _Rule(f"{key}[{i}].role must be 'assistant', got {message['role']!r}")
        _check_assistant(message, f"{key}[{i}]", names, parallel=True, weighted=False)
    return value


def _dpo(obj: dict[str, Any], line: int) -> PreferenceRow:
    if "input" not in obj:
        got = " (got 'messages': a supervised or reinforcement row)" if "messages" in obj else ""
        raise _Rule(f"missing 'input': a dpo row needs {DPO_SHAPE}{got}")
    prompt = obj["input"]
    if not isinstance(prompt, dict):
        raise _Rule("'input' must be an object with 'messages' (and optionally 'tools')")
    for key in prompt:
        if key not in ("messages", "tools", "parallel_tool_calls"):
            raise _Rule(f"unknown key 'input.{key}' (input takes messages, tools, parallel_tool_calls)")
    messages = _messages(
        prompt.get("messages"), "input.messages", "missing 'input.messages': a non-empty list of chat messages"
    )
    _last_role(messages, "user", "the preferred and non-preferred outputs answer it")
    tools = _tools(prompt.get("tools"), "input.tools")
    names = _tool_names(tools)
    preferred = _outputs(obj, "preferred_output", names)
    non_preferred = _outputs(obj, "non_preferred_output", names)
    item = {k: v for k, v in obj.items() if k not in PREFERENCE_KEYS}
    return PreferenceRow(line, messages, tools, preferred, non_preferred, item)


def _any(obj: dict[str, Any], line: int) -> Row:
    """Upload time: a row some method accepts, checked with the rules all of them share."""
    if "messages" not in obj and any(k in obj for k in PREFERENCE_KEYS):
        return _dpo(obj, line)
    messages = _messages(
        obj.get("messages"),
        "messages",
        "missing 'messages': each line needs a non-empty list of chat messages (reinforcement, supervised) "
        f"or {DPO_SHAPE} (dpo)",
    )
    if messages[-1]["role"] not in ("user", "assistant"):
        raise _Rule(
            f"last message must be from the user (a reinforcement prompt) or the assistant (a supervised "
            f"example), got {messages[-1]['role']!r}"
        )
    tools = _tools(obj.get("tools"), "tools")
    return DatasetRow(line, messages, tools, {k: v for k, v in obj.items() if k not in RESERVED_KEYS})


_RULES: dict[str | None, Callable[[dict[str, Any], int], Row]] = {
    "reinforcement": _reinforcement,
    "supervised": _supervised,
    "dpo": _dpo,
    None: _any,
}


# -- lines and files ---------------------------------------------------------------------------------


def _rules(method: str | None) -> Callable[[dict[str, Any], int], Row]:
    if method not in _RULES:
        raise ValueError(f"method must be one of {METHODS} or None, not {method!r}")
    return _RULES[method]


@overload
def parse_line(raw: bytes, line: int, method: Literal["reinforcement", "supervised"] = ...) -> DatasetRow | None: ...
@overload
def parse_line(raw: bytes, line: int, method: Literal["dpo"]) -> PreferenceRow | None: ...
@overload
def parse_line(raw: bytes, line: int, method: str | None) -> Row | None: ...
def parse_line(raw: bytes, line: int, method: str | None = "reinforcement") -> Row | None:
    """One line of the file -> a row, None for a blank line; raises DatasetError naming the line."""
    rules = _rules(method)
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
    try:
        return rules(obj, line)
    except _Rule as exc:
        raise DatasetError(str(exc), line) from None


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


def iter_finetune_rows(
    lines: Iterable[bytes], *, method: str | None = "reinforcement", max_rows: int | None = None
) -> Iterator[Row]:
    """Validate line by line (constant memory for any file size); raises DatasetError."""
    _rules(method)  # an unknown method fails before the first line
    count = 0
    for number, raw in enumerate(lines, start=1):
        row = parse_line(raw, number, method)
        if row is None:
            continue
        count += 1
        if max_rows is not None and count > max_rows:
            raise DatasetError(f"too many examples: at most {max_rows} are allowed", number)
        yield row
    if count == 0:
        raise DatasetError("the file is empty: it has no JSON lines with examples")


@overload
def parse_finetune_jsonl(
    data: bytes, *, method: Literal["reinforcement", "supervised"] = ..., max_rows: int | None = None
) -> list[DatasetRow]: ...
@overload
def parse_finetune_jsonl(
    data: bytes, *, method: Literal["dpo"], max_rows: int | None = None
) -> list[PreferenceRow]: ...
@overload
def parse_finetune_jsonl(data: bytes, *, method: str | None, max_rows: int | None = None) -> list[Row]: ...
def parse_finetune_jsonl(data: bytes, *, method: str | None = "reinforcement", max_rows: int | None = None) -> Any:
    """The whole file -> its rows for `method` (None: the upload-time check); raises DatasetError naming the
    first line at fault."""
    return list(iter_finetune_rows(iter_lines([data]), method=method, max_rows=max_rows))


def count_finetune_rows(chunks: Iterable[bytes], *, method: str | None = None, max_rows: int | None = None) -> int:
    """Validate a stream of chunks without keeping the rows (upload time by default); returns the count."""
    return sum(1 for _ in iter_finetune_rows(iter_lines(chunks), method=method, max_rows=max_rows))


@overload
def load_file_rows(
    ctx_or_blobs: Any, file_id: str, method: Literal["reinforcement", "supervised"] = ...
) -> list[DatasetRow]: ...
@overload
def load_file_rows(ctx_or_blobs: Any, file_id: str, method: Literal["dpo"]) -> list[PreferenceRow]: ...
@overload
def load_file_rows(ctx_or_blobs: Any, file_id: str, method: str | None) -> list[Row]: ...
def load_file_rows(ctx_or_blobs: Any, file_id: str, method: str | None = "reinforcement") -> Any:
    """The rows of an uploaded fine-tune file (blob `files/{file_id}`) for `method`, from an AppContext or a
    BlobStore."""
    blobs = getattr(ctx_or_blobs, "blobs", ctx_or_blobs)
    return parse_finetune_jsonl(blobs.get(f"files/{file_id}"), method=method)
