"""The fine-tune JSONL parser shared by the Files API, job creation and the trainer."""

from __future__ import annotations

import json

import pytest

from openrft.datasets import DatasetError, DatasetRow, iter_lines, load_file_rows, parse_finetune_jsonl
from openrft.store.blobs import BlobStore


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


USER = {"role": "user", "content": "2+2?"}


def test_rows_keep_messages_tools_and_item_fields() -> None:
    tools = [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}]
    data = (
        line({"messages": [USER], "reference_answer": {"final_answer": "4"}, "task_id": "t0"})
        + b"\n"  # blank lines are skipped but still counted for line numbers
        + line({"messages": [{"role": "system", "content": "s"}, USER], "tools": tools, "id": 3})
    )
    rows = parse_finetune_jsonl(data)
    assert rows == [
        DatasetRow(
            line=1, messages=[USER], tools=None, item={"reference_answer": {"final_answer": "4"}, "task_id": "t0"}
        ),
        DatasetRow(line=3, messages=[{"role": "system", "content": "s"}, USER], tools=tools, item={"id": 3}),
    ]


def test_multi_turn_with_tool_calls_is_accepted() -> None:
    messages = [
        {"role": "developer", "content": "d"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "user", "content": [{"type": "text", "text": "and so?"}]},
    ]
    assert len(parse_finetune_jsonl(line({"messages": messages}))) == 1


def test_crlf_bom_and_no_trailing_newline() -> None:
    data = (
        b"\xef\xbb\xbf"
        + json.dumps({"messages": [USER]}).encode()
        + b"\r\n"
        + json.dumps({"messages": [USER]}).encode()
    )
    assert [r.line for r in parse_finetune_jsonl(data)] == [1, 2]


@pytest.mark.parametrize(
    ("data", "line_no", "fragment"),
    [
        (b"", None, "empty"),
        (line({"messages": [USER]}) + b"\x00\x01", 2, "NUL byte"),
        (line({"messages": [USER]}) * 2 + b"{oops\n", 3, "invalid JSON"),
        (line("text"), 1, "must be a JSON object"),
        (line({"messages": "hi"}), 1, "missing 'messages'"),
        (line({"messages": [USER, {"role": "assistant", "content": "4"}]}), 1, "last message must be from the user"),
        (line({"messages": [USER, {"role": "developer", "content": "d"}, USER]}), 1, "developer message may only"),
        (line({"messages": [{"role": "bot", "content": "x"}]}), 1, "role 'bot'"),
        (line({"messages": ["hi"]}), 1, "messages[0] must be an object"),
        (line({"messages": [{"role": "user", "content": " "}]}), 1, "content is empty"),
        (line({"messages": [{"role": "user", "content": []}]}), 1, "empty list"),
        (line({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}), 1, "unsupported type"),
        (line({"messages": [{"role": "user", "content": [{"type": "text"}]}]}), 1, "text must be a string"),
        (line({"messages": [USER], "tools": [{"type": "web"}]}), 1, "tools[0] must be an object with type"),
        (line({"messages": [USER], "tools": [{"type": "function", "function": {}}]}), 1, "function.name"),
        (
            line({"messages": [USER], "tools": [{"type": "function", "function": {"name": "a"}}] * 2}),
            1,
            "duplicate function name",
        ),
    ],
)
def test_errors_name_the_line(data: bytes, line_no: int | None, fragment: str) -> None:
    with pytest.raises(DatasetError) as err:
        parse_finetune_jsonl(data)
    assert err.value.line == line_no
    assert fragment in err.value.message
    if line_no is not None:
        assert err.value.message.startswith(f"line {line_no}: ")


def test_max_rows() -> None:
    with pytest.raises(DatasetError, match="line 3: too many examples"):
        parse_finetune_jsonl(line({"messages": [USER]}) * 3, max_rows=2)


def test_iter_lines_rejoins_chunks() -> None:
    assert list(iter_lines([b"ab", b"c\nd", b"e\r\n", b"f"])) == [b"abc", b"de", b"f"]


def test_load_file_rows_from_blob_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs = BlobStore(tmp_path)
    blobs.put("files/file-abc", line({"messages": [USER], "answer": "4"}))
    assert [r.item for r in load_file_rows(blobs, "file-abc")] == [{"answer": "4"}]
