"""Contract tests of supervised and dpo jobs through the openai SDK: the method union (and no method =
supervised), hyperparameters validated as the trainer resolves them, files checked for the job's method,
and every bad input a 400 in OpenAI's shape naming the field or the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import sqlalchemy as sa

from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from tests.conftest import LiveServer

MODEL = "smollm2-135m-instruct"
USER = {"role": "user", "content": "2+2?"}
TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]


def jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


SFT_ROWS = [{"messages": [USER, {"role": "assistant", "content": str(i)}]} for i in range(4)]
DPO_ROWS = [
    {
        "input": {"messages": [USER]},
        "preferred_output": [{"role": "assistant", "content": "4"}],
        "non_preferred_output": [{"role": "assistant", "content": str(i)}],
    }
    for i in range(4)
]
RFT_ROWS = [{"messages": [USER], "answer": "4"}]


@pytest.fixture
def db(live_server: LiveServer) -> Iterator[Store]:
    store = Store(live_server.settings.db_url)
    yield store
    store.dispose()


def upload(client: openai.OpenAI, *rows: object) -> str:
    return client.files.create(file=("data.jsonl", jsonl(*rows)), purpose="fine-tune").id


@pytest.fixture
def sft_file(client: openai.OpenAI) -> str:
    return upload(client, *SFT_ROWS)


@pytest.fixture
def dpo_file(client: openai.OpenAI) -> str:
    return upload(client, *DPO_ROWS)


def job_count(db: Store) -> int:
    with db.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.jobs)).scalar_one())


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as err:
        call()
    body = err.value.body
    assert isinstance(body, dict) and set(body) >= {"message", "type", "param", "code"}, body
    assert body["type"] == "invalid_request_error"
    return body


# -- accepted --------------------------------------------------------------------------------------


def test_supervised_job(client: openai.OpenAI, sft_file: str, db: Store) -> None:
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=sft_file,
        validation_file=sft_file,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "lora_rank": 4}}},
    )
    assert job.status == "queued" and job.model == MODEL
    assert job.method is not None and job.method.type == "supervised" and job.method.reinforcement is None
    assert job.method.supervised is not None and job.method.supervised.hyperparameters is not None
    assert job.method.supervised.hyperparameters.n_epochs == 2
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == "auto"
    extra = job.model_extra or {}
    assert extra["eval_id"] is None and extra["parent_model"] is None and extra["parent_job"] is None
    with db.begin() as conn:
        stored = conn.execute(sa.select(schema.jobs.c.method).where(schema.jobs.c.id == job.id)).scalar_one()
    auto = {"batch_size": "auto", "learning_rate_multiplier": "auto"}  # until the trainer resolves them
    assert stored == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "lora_rank": 4, **auto}}}
    assert client.fine_tuning.jobs.retrieve(job.id).method == job.method


def test_no_method_is_supervised_with_top_level_hyperparameters(client: openai.OpenAI, sft_file: str) -> None:
    """OpenAI's (and Bedrock's) "for supervised fine-tuning, omit the method"; its deprecated hyperparameters."""
    plain = client.fine_tuning.jobs.create(model=MODEL, training_file=sft_file)
    assert plain.method is not None and plain.method.type == "supervised"
    assert plain.hyperparameters.n_epochs == "auto"
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=sft_file, hyperparameters={"n_epochs": 3, "learning_rate_multiplier": 0.5}
    )
    assert job.method is not None and job.method.supervised is not None
    assert job.method.supervised.hyperparameters is not None
    assert job.method.supervised.hyperparameters.learning_rate_multiplier == 0.5
    assert job.hyperparameters.n_epochs == 3


def test_dpo_job(client: openai.OpenAI, dpo_file: str) -> None:
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=dpo_file, method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.25}}}
    )
    assert job.method is not None and job.method.type == "dpo" and job.method.dpo is not None
    assert job.method.dpo.hyperparameters is not None and job.method.dpo.hyperparameters.beta == 0.25
    bare = client.fine_tuning.jobs.create(model=MODEL, training_file=dpo_file, method={"type": "dpo"})
    assert bare.method is not None and bare.method.dpo is not None
    assert bare.method.dpo.hyperparameters is not None and bare.method.dpo.hyperparameters.beta == "auto"


def test_upload_checks_syntax_only_and_the_job_checks_the_method(client: openai.OpenAI, db: Store) -> None:
    """A file of prompts uploads fine (it is an RFT file); a supervised job on it names the line and rule."""
    prompts = upload(client, *RFT_ROWS)
    body = error_of(lambda: client.fine_tuning.jobs.create(model=MODEL, training_file=prompts))
    assert body["param"] == "training_file" and body["code"] == "invalid_file", body
    assert "not a valid supervised fine-tune file: line 1: last message must be from the assistant" in body["message"]
    assert job_count(db) == 0


# -- refused ---------------------------------------------------------------------------------------

SUP = "method.supervised.hyperparameters"
DHP = "method.dpo.hyperparameters"
GRADER = {"type": "string_check", "name": "x", "input": "{{sample.output_text}}", "reference": "4", "operation": "eq"}


def sup(**hp: Any) -> dict[str, Any]:
    return {"type": "supervised", "supervised": {"hyperparameters": hp}}


def dpo(**hp: Any) -> dict[str, Any]:
    return {"type": "dpo", "dpo": {"hyperparameters": hp}}


# (case, method or None, create kwargs, param, text)
BAD_METHODS: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("beta zero", "dpo", {"method": dpo(beta=0)}, f"{DHP}.beta", "> 0"),
    ("beta over 2", "dpo", {"method": dpo(beta=2.5)}, f"{DHP}.beta", "<= 2"),
    ("beta string", "dpo", {"method": dpo(beta="high")}, f"{DHP}.beta", "auto"),
    ("beta for sft", "supervised", {"method": sup(beta=0.1)}, f"{SUP}.beta", "Unknown hyperparameter 'beta'"),
    ("n_epochs zero", "supervised", {"method": sup(n_epochs=0)}, f"{SUP}.n_epochs", ">= 1"),
    ("batch_size float", "supervised", {"method": sup(batch_size=1.5)}, f"{SUP}.batch_size", "integer"),
    ("lr negative", "dpo", {"method": dpo(learning_rate_multiplier=-1)}, f"{DHP}.learning_rate_multiplier", "> 0"),
    ("unknown hp", "supervised", {"method": sup(temperature=1.0)}, f"{SUP}.temperature", "Unknown hyperparameter"),
    ("rft hp", "dpo", {"method": dpo(samples_per_prompt=4)}, f"{DHP}.samples_per_prompt", "Unknown hyperparameter"),
    ("max_length context", "supervised", {"method": sup(max_length=20000)}, f"{SUP}.max_length", "context"),
    ("derived lr", "supervised", {"method": sup(learning_rate=0.5)}, f"{SUP}.learning_rate", "derived"),
    ("top-level unknown", "supervised", {"hyperparameters": {"beta": 1}}, "hyperparameters.beta", "Unknown"),
    (
        "grader on sft",
        "supervised",
        {"method": {"type": "supervised", "supervised": {"grader": GRADER}}},
        "method.supervised.grader",
        "reinforcement setting",
    ),
    (
        "response_format on dpo",
        "dpo",
        {"method": {"type": "dpo", "dpo": {"response_format": {"type": "text"}}}},
        "method.dpo.response_format",
        "reinforcement setting",
    ),
    (
        "another method's object",
        "supervised",
        {"method": {"type": "supervised", "reinforcement": {"grader": GRADER}}},
        "method.reinforcement",
        "for a supervised job",
    ),
    ("method key", "dpo", {"method": {"type": "dpo", "dpo": {"beta": 0.1}}}, "method.dpo.beta", "Unknown parameter"),
    ("no type", "supervised", {"method": {"supervised": {}}}, "method.type", "Missing required parameter"),
    ("hp beside method", "dpo", {"method": dpo(), "hyperparameters": {"n_epochs": 1}}, "hyperparameters", "method.dpo"),
    ("role_arn", "supervised", {"method": sup(), "extra_body": {"role_arn": "arn:x"}}, "role_arn", "grader calls"),
]


@pytest.mark.parametrize(("case", "kind", "change", "param", "text"), BAD_METHODS, ids=[c[0] for c in BAD_METHODS])
def test_bad_method_is_a_400_naming_the_field(
    client: openai.OpenAI,
    sft_file: str,
    dpo_file: str,
    db: Store,
    case: str,
    kind: str,
    change: dict[str, Any],
    param: str,
    text: str,
) -> None:
    kwargs = {"model": MODEL, "training_file": dpo_file if kind == "dpo" else sft_file, **change}
    body = error_of(lambda: client.fine_tuning.jobs.create(**kwargs))
    assert body["param"] == param, body
    assert text in body["message"], body
    assert job_count(db) == 0


BAD_ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    ("sft ends with user", "supervised", {"messages": [USER]}, "last message must be from the assistant"),
    ("sft weight", "supervised", {"messages": [USER, {"role": "assistant", "content": "4", "weight": 3}]}, "weight"),
    (
        "dpo missing preferred_output",
        "dpo",
        {"input": {"messages": [USER]}, "non_preferred_output": [{"role": "assistant", "content": "5"}]},
        "missing 'preferred_output'",
    ),
    ("dpo from sft rows", "dpo", SFT_ROWS[0], "missing 'input'"),
    (
        "tool schema",
        "supervised",
        {
            "messages": [USER, {"role": "assistant", "content": "4"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "record"}}}],
        },
        "tools[0].function.parameters is not a valid JSON Schema",
    ),
    (
        "rft tool schema",
        "reinforcement",
        {
            "messages": [USER],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"minimum": "0"}}}],
        },
        "tools[0].function.parameters is not a valid JSON Schema",
    ),
]


def method_of(kind: str) -> dict[str, Any]:
    if kind == "reinforcement":
        return {"type": "reinforcement", "reinforcement": {"grader": GRADER}}
    return {"type": kind}


@pytest.mark.parametrize(("case", "kind", "row", "text"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
@pytest.mark.parametrize("param", ["training_file", "validation_file"])
def test_a_bad_row_is_a_400_naming_the_file_line_and_rule(
    live_server: LiveServer, client: openai.OpenAI, db: Store, case: str, kind: str, row: Any, text: str, param: str
) -> None:
    good = {"supervised": SFT_ROWS, "dpo": DPO_ROWS, "reinforcement": RFT_ROWS}[kind]
    files = {"training_file": upload(client, *good), "validation_file": upload(client, *good)}
    data = jsonl(good[0], row)
    try:
        upload(client, good[0], row)  # the upload check (syntax) lets a row of some other method through
    except openai.BadRequestError as exc:  # ... not one no method accepts: refused there, naming the line
        assert isinstance(exc.body, dict) and exc.body["param"] == "file", exc.body
        assert f"line 2: {text}" in exc.body["message"] or text in exc.body["message"], exc.body
        assert case in ("dpo missing preferred_output", "tool schema", "rft tool schema"), case
    BlobStore(live_server.settings.blobs_dir).put(f"files/{files[param]}", data)  # as if uploaded before the check
    body = error_of(lambda: client.fine_tuning.jobs.create(model=MODEL, method=method_of(kind), **files))
    assert body["param"] == param and body["code"] == "invalid_file", body
    assert f"not a valid {kind} fine-tune file: line 2: " in body["message"], body
    assert text in body["message"], body
    assert job_count(db) == 0


def test_tool_schema_is_checked_on_upload(client: openai.OpenAI) -> None:
    row = {"messages": [USER], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]}
    body = error_of(lambda: upload(client, row))
    assert body["param"] == "file" and body["code"] == "invalid_file_format", body
    assert "line 1: tools[0].function.parameters is not a valid JSON Schema" in body["message"], body


def test_supervised_rows_with_tools_are_accepted(client: openai.OpenAI) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    row = {
        "messages": [USER, {"role": "assistant", "tool_calls": [call]}, {"role": "tool", "content": "4"},
                     {"role": "assistant", "content": "4"}],
        "tools": TOOLS,
    }  # fmt: skip
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=upload(client, row), method={"type": "supervised"})
    assert job.status == "queued"


def test_cli_creates_supervised_and_dpo_jobs(live_server: LiveServer, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from openrft.cli.main import app

    base = ["--base-url", live_server.base_url, "--api-key", live_server.admin_key, "jobs", "create", "--model", MODEL]
    for kind, rows in (("supervised", SFT_ROWS), ("dpo", DPO_ROWS)):
        path = tmp_path / f"{kind}.jsonl"
        path.write_bytes(jsonl(*rows))
        args = [*base, "--training-file", str(path), "--method", kind, "--hyperparameters", '{"n_epochs": 1}', "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        job = json.loads(result.output[result.output.index("{") :])
        assert job["method"]["type"] == kind and job["method"][kind]["hyperparameters"]["n_epochs"] == 1
    result = CliRunner().invoke(app, [*base, "--training-file", "file-x"])
    assert result.exit_code == 2 and "--method must be one of" in result.output
