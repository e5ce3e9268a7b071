"""The fine-tune file rules of each method (openrft.datasets): supervised, dpo, reinforcement, and the
upload-time syntax check (method None) that every valid row of any method passes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openrft.datasets import (
    DatasetError,
    DatasetRow,
    PreferenceRow,
    load_file_rows,
    parse_finetune_jsonl,
    tool_schema_problem,
)
from openrft.store.blobs import BlobStore


def jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


USER = {"role": "user", "content": "2+2?"}
ANSWER = {"role": "assistant", "content": "4"}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]},
        },
    }
]
CALL = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2}'}}
SFT = {"messages": [{"role": "system", "content": "be brief"}, USER, ANSWER], "source": "hand"}
DPO = {
    "input": {"messages": [USER], "tools": TOOLS},
    "preferred_output": [{"role": "assistant", "content": "4"}],
    "non_preferred_output": [{"role": "assistant", "content": "5"}],
    "id": 7,
}
RFT = {"messages": [USER], "answer": "4"}


def test_supervised_rows_keep_the_whole_conversation() -> None:
    tool_turns = {
        "messages": [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [CALL], "weight": 0},
            {"role": "tool", "content": "4", "tool_call_id": "call_1"},
            {"role": "assistant", "content": "4", "weight": 1},
        ],
        "tools": TOOLS,
        "parallel_tool_calls": False,
    }
    rows = parse_finetune_jsonl(jsonl(SFT, tool_turns), method="supervised")
    assert rows == [
        DatasetRow(line=1, messages=SFT["messages"], tools=None, item={"source": "hand"}),
        DatasetRow(line=2, messages=tool_turns["messages"], tools=TOOLS, item={"parallel_tool_calls": False}),
    ]


def test_dpo_rows() -> None:
    (row,) = parse_finetune_jsonl(jsonl(DPO), method="dpo")
    assert row == PreferenceRow(
        line=1,
        messages=[USER],
        tools=TOOLS,
        preferred=DPO["preferred_output"],
        non_preferred=DPO["non_preferred_output"],
        item={"id": 7},
    )


def test_reinforcement_is_the_default_and_unchanged() -> None:
    assert parse_finetune_jsonl(jsonl(RFT)) == [DatasetRow(1, [USER], None, {"answer": "4"})]


def test_upload_check_accepts_a_valid_row_of_every_method() -> None:
    rows = parse_finetune_jsonl(jsonl(SFT, DPO, RFT), method=None)
    assert [type(r).__name__ for r in rows] == ["DatasetRow", "PreferenceRow", "DatasetRow"]


def with_messages(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": list(messages), **extra}


def dpo(**change: Any) -> dict[str, Any]:
    row = {**DPO, **change}
    return {k: v for k, v in row.items() if v is not None}


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    # supervised
    ("supervised", "ends with user", with_messages(USER), "last message must be from the assistant (got 'user')"),
    ("supervised", "a dpo row", DPO, "missing 'messages': this is a preference (dpo) row"),
    ("supervised", "weight 2", with_messages(USER, {**ANSWER, "weight": 2}), "messages[1].weight must be 0 or 1"),
    ("supervised", "weight true", with_messages(USER, {**ANSWER, "weight": True}), "weight must be 0 or 1"),
    ("supervised", "weight on user", with_messages({**USER, "weight": 1}, ANSWER), "only allowed on assistant"),
    ("supervised", "all weight 0", with_messages(USER, {**ANSWER, "weight": 0}), "nothing to train on"),
    ("supervised", "empty answer", with_messages(USER, {"role": "assistant", "content": ""}), "content is empty"),
    ("supervised", "no answer", with_messages(USER, {"role": "assistant"}), "messages[1] has no content"),
    (
        "supervised",
        "unknown function",
        with_messages(
            USER, {"role": "assistant", "tool_calls": [CALL]}, tools=[{**TOOLS[0], "function": {"name": "x"}}]
        ),
        "tool_calls[0].function.name 'add' is not one of the row's tools",
    ),
    (
        "supervised",
        "arguments not JSON",
        with_messages(
            USER, {"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "add", "arguments": "{"}}]}
        ),
        "messages[1].tool_calls[0].function.arguments is not valid JSON",
    ),
    (
        "supervised",
        "arguments an object",
        with_messages(
            USER, {"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "add", "arguments": {}}}]}
        ),
        "arguments must be a string of JSON",
    ),
    (
        "supervised",
        "two calls, not parallel",
        with_messages(USER, {"role": "assistant", "tool_calls": [CALL, CALL]}, parallel_tool_calls=False),
        "has 2 tool calls but parallel_tool_calls is false",
    ),
    ("supervised", "parallel not bool", with_messages(USER, ANSWER, parallel_tool_calls="no"), "true or false"),
    # dpo
    ("dpo", "no preferred_output", dpo(preferred_output=None), "missing 'preferred_output'"),
    ("dpo", "no non_preferred_output", dpo(non_preferred_output=None), "missing 'non_preferred_output'"),
    ("dpo", "a messages row", SFT, "missing 'input': a dpo row needs"),
    ("dpo", "input ends with assistant", dpo(input={"messages": [USER, ANSWER]}), "last message must be from the user"),
    ("dpo", "empty preferred", dpo(preferred_output=[]), "'preferred_output' must be a non-empty list"),
    ("dpo", "preferred by user", dpo(preferred_output=[USER]), "preferred_output[0].role must be 'assistant'"),
    ("dpo", "weight", dpo(preferred_output=[{**ANSWER, "weight": 1}]), "weight is only allowed in supervised rows"),
    ("dpo", "input key", dpo(input={"messages": [USER], "tool": []}), "unknown key 'input.tool'"),
    (
        "dpo",
        "input tool schema",
        dpo(
            input={
                "messages": [USER],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "obj"}}}],
            }
        ),
        "input.tools[0].function.parameters is not a valid JSON Schema",
    ),
    # reinforcement
    ("reinforcement", "ends with assistant", SFT, "last message must be from the user"),
    ("reinforcement", "a dpo row", DPO, "this is a preference (dpo) row, not a reinforcement row"),
    (
        "reinforcement",
        "tool schema",
        with_messages(USER, tools=[{"type": "function", "function": {"name": "f", "parameters": {"required": "a"}}}]),
        "tools[0].function.parameters is not a valid JSON Schema: 'a' is not of type 'array'",
    ),
    # upload time
    (None, "ends with tool", with_messages(USER, {"role": "tool", "content": "4"}), "or the assistant (a supervised"),
    (None, "neither shape", {"prompt": "hi"}, "or 'input' (with 'messages'), 'preferred_output'"),
    (None, "half a dpo row", dpo(non_preferred_output=None), "missing 'non_preferred_output'"),
    (
        None,
        "tool schema",
        with_messages(USER, tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": 3}}}]),
        "tools[0].function.parameters is not a valid JSON Schema",
    ),
]


@pytest.mark.parametrize(("method", "case", "row", "fragment"), BAD, ids=[f"{m}-{c}" for m, c, _, _ in BAD])
def test_each_rule_names_the_line(method: str | None, case: str, row: dict[str, Any], fragment: str) -> None:
    good = {"supervised": SFT, "dpo": DPO, "reinforcement": RFT, None: RFT}[method]
    with pytest.raises(DatasetError) as err:
        parse_finetune_jsonl(jsonl(good, row), method=method)
    assert err.value.line == 2
    assert err.value.message.startswith("line 2: "), err.value.message
    assert fragment in err.value.message, err.value.message


def test_every_row_a_method_accepts_passes_the_upload_check() -> None:
    """Upload (method None) never refuses what a job of some method would accept."""
    accepted = 0
    for row in [SFT, DPO, RFT] + [case[2] for case in BAD]:
        for method in ("supervised", "dpo", "reinforcement"):
            try:
                parse_finetune_jsonl(jsonl(row), method=method)
            except DatasetError:
                continue
            parse_finetune_jsonl(jsonl(row), method=None)  # accepted by `method`: must pass upload too
            accepted += 1
    assert accepted >= 5  # the three good rows, and bad rows of one method that another accepts


def test_tool_schema_problem() -> None:
    assert tool_schema_problem({"type": "object", "properties": {"a": {"type": "string"}}}) is None
    assert tool_schema_problem({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}) is None
    assert tool_schema_problem([]) == "must be an object (a JSON Schema)"
    problem = tool_schema_problem({"type": "object", "properties": {"a": {"type": "strin"}}})
    assert problem is not None and "properties/a/type" in problem


def test_unknown_method_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        parse_finetune_jsonl(jsonl(RFT), method="ppo")


def test_load_file_rows_for_a_method(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs = BlobStore(tmp_path)
    blobs.put("files/file-dpo", jsonl(DPO))
    assert [r.item for r in load_file_rows(blobs, "file-dpo", "dpo")] == [{"id": 7}]
    with pytest.raises(DatasetError, match="line 1: missing 'messages'"):
        load_file_rows(blobs, "file-dpo")
