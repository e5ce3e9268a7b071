"""A run's data source: its validation (`parse_data_source`), its items (`load_items`), its prompts
(`render_input`), and the lines of files with purpose "evals".

Two kinds, as OpenAI's SDK spells them:
- `jsonl`: rows {"item": {...}, "sample": {...}?} inline (`source.type` "file_content") or in a file
  (`file_id`); the samples are supplied, nothing is generated.
- `completions`: a model openrft serves answers each item's prompt, built from `input_messages`: a
  `template` of chat messages with `{{item.x}}` variables, or an `item_reference` naming a list of
  messages inside each item (`item.conversation`). `sampling_params` takes temperature,
  max_completion_tokens, top_p and seed; OpenAI's other sampling knobs (reasoning_effort,
  response_format, tools) are refused rather than accepted and ignored.

A line of an "evals" file is a JSON object, either {"item": {...}, "sample": {...}?} (exactly those keys)
or the item itself. Errors name the line (`line 3: ...`), as fine-tune files do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from openrft import safejson
from openrft.datasets import DatasetError, iter_lines
from openrft.errors import InvalidRequest, NotFound
from openrft.graders.templates import TemplateSyntaxError, parse_variable, render, resolve, variables

KINDS = ("jsonl", "completions")
SOURCES = ("file_content", "file_id")
SAMPLING_PARAMS = ("temperature", "max_completion_tokens", "top_p", "seed")
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
_TEXT_PARTS = ("input_text", "output_text")


# -- evals files ----------------------------------------------------------------------------------------


def parse_eval_line(raw: bytes, line: int) -> dict[str, Any] | None:
    """One line of an "evals" file -> {"item", "sample"} (None for a blank line); DatasetError names the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"is not valid UTF-8 ({exc.reason} at byte {exc.start})", line) from None
    text = text.removeprefix("\ufeff") if line == 1 else text
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
    if "item" in obj and set(obj) <= {"item", "sample"}:
        if not isinstance(obj["item"], dict):
            raise DatasetError("'item' must be a JSON object", line)
        sample = obj.get("sample")
        if sample is not None and not isinstance(sample, dict):
            raise DatasetError("'sample' must be a JSON object", line)
        return {"item": obj["item"], "sample": sample}
    return {"item": obj, "sample": None}


def iter_eval_rows(chunks: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Every row of an "evals" file, validated line by line; DatasetError for a bad line or an empty file."""
    count = 0
    for number, raw in enumerate(iter_lines(chunks), start=1):
        row = parse_eval_line(raw, number)
        if row is not None:
            count += 1
            yield row
    if count == 0:
        raise DatasetError("the file is empty: it has no JSON lines with items")


def count_eval_rows(chunks: Iterable[bytes]) -> int:
    return sum(1 for _ in iter_eval_rows(chunks))


# -- validation of a run's data source ------------------------------------------------------------------


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _check_keys(obj: dict[str, Any], allowed: tuple[str, ...], param: str) -> None:
    extra = [k for k in obj if k not in allowed]
    if extra:
        raise _bad(f"Unknown parameter: '{param}.{extra[0]}'.", f"{param}.{extra[0]}")


def _source(raw: Any, param: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _bad(f"Missing required parameter: '{param}'.", param)
    kind = raw.get("type")
    if kind not in SOURCES:
        raise _bad(f"'{param}.type' {kind!r} is not supported: use 'file_content' or 'file_id'.", f"{param}.type")
    if kind == "file_id":
        _check_keys(raw, ("type", "id"), param)
        if not isinstance(raw.get("id"), str) or not raw["id"]:
            raise _bad(f"Missing required parameter: '{param}.id'.", f"{param}.id")
        return {"type": "file_id", "id": raw["id"]}
    _check_keys(raw, ("type", "content"), param)
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise _bad(f"'{param}.content' must be a non-empty list of {{item, sample?}} rows.", f"{param}.content")
    rows = []
    for i, row in enumerate(content):
        where = f"{param}.content[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("item"), dict):
            raise _bad(f"'{where}.item' must be a JSON object.", f"{where}.item")
        _check_keys(row, ("item", "sample"), where)
        if row.get("sample") is not None and not isinstance(row["sample"], dict):
            raise _bad(f"'{where}.sample' must be a JSON object.", f"{where}.sample")
        rows.append({"item": row["item"], **({"sample": row["sample"]} if row.get("sample") is not None else {})})
    return {"type": "file_content", "content": rows}


def _message_texts(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    parts = content if isinstance(content, list) else [content]
    return [p if isinstance(p, str) else str(p.get("text", "")) for p in parts if isinstance(p, str | dict)]


def _template(raw: Any, param: str, properties: set[str] | None) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _bad(f"'{param}' must be a non-empty list of messages.", param)
    out = []
    for i, message in enumerate(raw):
        where = f"{param}[{i}]"
        if not isinstance(message, dict):
            raise _bad(f"'{where}' must be a message object with a role and content.", where)
        _check_keys(message, ("role", "content", "type"), where)
        if message.get("role") not in MESSAGE_ROLES:
            raise _bad(f"'{where}.role' must be one of: {', '.join(MESSAGE_ROLES)}.", f"{where}.role")
        if message.get("type", "message") != "message":
            raise _bad(f"'{where}.type' must be 'message'.", f"{where}.type")
        content = message.get("content")
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") in _TEXT_PARTS):
                continue
            raise _bad(f"'{where}.content' must be text (a string, or input_text/output_text parts).", where)
        for text in _message_texts(message):
            _check_variables(text, f"{where}.content", properties)
        out.append(message)
    return out


def _check_variables(text: str, where: str, properties: set[str] | None) -> None:
    try:
        found = variables(text)
    except TemplateSyntaxError as exc:
        raise _bad(f"'{where}': invalid template: {exc}", where) from None
    for namespace, steps in found:
        if namespace != "item":
            raise _bad(f"'{where}': a prompt template may only read the item namespace ({{{{item.x}}}}).", where)
        if properties is not None and steps and steps[0] not in properties:
            listed = ", ".join(sorted(properties)) or "none"
            raise _bad(
                f"'{where}': template variable {{{{item.{steps[0]}}}}} is not a property of the eval's item_schema "
                f"(its properties: {listed}).",
                where,
            )


def _input_messages(raw: Any, param: str, properties: set[str] | None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _bad(f"Missing required parameter: '{param}' (a template or an item_reference).", param)
    kind = raw.get("type")
    if kind == "template":
        _check_keys(raw, ("type", "template"), param)
        return {"type": "template", "template": _template(raw.get("template"), f"{param}.template", properties)}
    if kind == "item_reference":
        _check_keys(raw, ("type", "item_reference"), param)
        ref, where = raw.get("item_reference"), f"{param}.item_reference"
        try:
            namespace, steps = parse_variable(ref) if isinstance(ref, str) else ("", ())
        except TemplateSyntaxError:
            namespace, steps = "", ()
        if namespace != "item" or not steps:
            raise _bad(f"'{where}' must name a list of messages in the item, e.g. 'item.messages'.", where)
        if properties is not None and steps[0] not in properties:
            raise _bad(f"'{where}': the eval's item_schema has no property {steps[0]!r}.", where)
        return {"type": "item_reference", "item_reference": ref}
    raise _bad(f"'{param}.type' must be 'template' or 'item_reference'.", f"{param}.type")


def _sampling_params(raw: Any, param: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(f"'{param}' must be an object.", param)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{param}.{key}"
        if key not in SAMPLING_PARAMS:
            raise _bad(f"'{where}' is not supported here; sampling_params takes {', '.join(SAMPLING_PARAMS)}.", where)
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in ("max_completion_tokens", "seed") and not (isinstance(value, int) and not isinstance(value, bool)):
            raise _bad(f"'{where}' must be an integer.", where)
        if key == "max_completion_tokens" and value < 1:
            raise _bad(f"'{where}' must be at least 1.", where)
        if key == "temperature" and not (number and 0 <= value <= 2):
            raise _bad(f"'{where}' must be a number between 0 and 2.", where)
        if key == "top_p" and not (number and 0 < value <= 1):
            raise _bad(f"'{where}' must be a number in (0, 1].", where)
        out[key] = value
    return out


def parse_data_source(raw: Any, *, properties: set[str] | None, param: str = "data_source") -> dict[str, Any]:
    """A run's data_source -> its returned form; 400 naming the field at fault.

    `properties` are the item_schema's property names (None: it lists none). The model's existence,
    the file's ownership and the rows themselves are checked by the caller, which has the project.
    """
    if not isinstance(raw, dict):
        raise _bad(f"Missing required parameter: '{param}'.", param)
    kind = raw.get("type")
    if kind not in KINDS:
        raise _bad(
            f"'{param}.type' {kind!r} is not supported here: use 'jsonl' (rows with samples) or 'completions' "
            "(a model openrft serves answers each item).",
            f"{param}.type",
        )
    if kind == "jsonl":
        _check_keys(raw, ("type", "source"), param)
        return {"type": "jsonl", "source": _source(raw.get("source"), f"{param}.source")}
    _check_keys(raw, ("type", "source", "model", "input_messages", "sampling_params"), param)
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(f"Missing required parameter: '{param}.model'.", f"{param}.model")
    return {
        "type": "completions",
        "source": _source(raw.get("source"), f"{param}.source"),
        "input_messages": _input_messages(raw.get("input_messages"), f"{param}.input_messages", properties),
        "model": model,
        "sampling_params": _sampling_params(raw.get("sampling_params"), f"{param}.sampling_params"),
    }


# -- reading and rendering ------------------------------------------------------------------------------


def load_items(ctx: Any, project_id: str, data_source: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a run's data source, each {"item": {...}, "sample": {...} | None}, in order.

    `ctx` has `blobs` (openrft.store.blobs.BlobStore) and, to check the file is the project's, `store`.
    A file deleted after its run was queued is still read: the Files API keeps the bytes while a queued
    or running eval run names the file. A file that is gone is a NotFound naming `data_source.source.id`.
    """
    source = data_source["source"]
    if source["type"] == "file_content":
        return [{"item": row["item"], "sample": row.get("sample")} for row in source["content"]]
    file_id, param = source["id"], "data_source.source.id"
    store = getattr(ctx, "store", None)
    if store is not None:
        import sqlalchemy as sa

        from openrft.store import schema

        files = schema.files
        with store.begin() as conn:
            row = conn.execute(
                sa.select(files.c.purpose).where(files.c.id == file_id, files.c.project_id == project_id)
            ).first()
        if row is None:
            raise NotFound(f"No such File object: {file_id}", param=param)
    try:
        data = ctx.blobs.get(f"files/{file_id}")
    except (FileNotFoundError, KeyError):
        raise NotFound(f"The content of {file_id} is no longer available.", param=param) from None
    try:
        return list(iter_eval_rows([data]))
    except DatasetError as exc:
        raise InvalidRequest(f"{file_id}: {exc.message}", param=param) from None


def _render_content(content: Any, env: dict[str, Any]) -> Any:
    if isinstance(content, str):
        return render(content, env)
    parts = content if isinstance(content, list) else [content]
    texts = [render(p if isinstance(p, str) else str(p.get("text", "")), env) for p in parts]
    return texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]


def render_input(
    template: list[dict[str, Any]], item: dict[str, Any], sample: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A completions data source's `input_messages.template` for one item -> chat messages.

    `{{item.x}}` (and `{{sample.x}}`, given a sample) are filled; a variable the item lacks raises
    openrft.graders.GradeError("invalid_variable_error"), that item's error.
    """
    env = {"item": item, "sample": sample or {}}
    return [{"role": m["role"], "content": _render_content(m.get("content", ""), env)} for m in template]


def reference_input(item_reference: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """An `item_reference` input (e.g. "item.messages") resolved in one item: its list of chat messages."""
    from openrft.graders.errors import GradeError

    value = resolve(parse_variable(item_reference), {"item": item})
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m for m in value):
        raise GradeError("invalid_variable_error", f"{item_reference} is not a list of chat messages")
    return [{"role": m["role"], "content": m.get("content", "")} for m in value]


def input_messages(data_source: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    """The prompt of one item under a completions data source (template or item_reference)."""
    spec = data_source["input_messages"]
    if spec["type"] == "template":
        return render_input(spec["template"], item)
    return reference_input(spec["item_reference"], item)


def grader_sample(sample: dict[str, Any] | None) -> Any:
    """A jsonl row's supplied sample as the grader's Sample (output_text, output_json, output_tools, choices)."""
    from openrft.graders.context import Sample

    sample = sample or {}
    text = sample.get("output_text")
    if not isinstance(text, str):
        choices = sample.get("choices") or []
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        text = str((first.get("message") or {}).get("content") or "")
    return Sample(
        output_text=text,
        output_json=sample.get("output_json"),
        output_tools=sample.get("output_tools"),
        choices=sample.get("choices"),
    )
