"""Bad input to /v1/evals: a 4xx in OpenAI's error shape naming the field at fault, through the openai SDK."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.api.test_evals import EXACT, FUZZY, ITEM_SCHEMA, ROWS, TEMPLATE, completions, jsonl, make_eval
from tests.conftest import LiveServer, not_found
from tests.inference.tiny import other_project_key


def error_of(call: Any, status: int = 400) -> dict[str, Any]:
    with pytest.raises(openai.APIStatusError) as err:
        call()
    assert err.value.status_code == status, err.value.body
    body = err.value.body
    assert isinstance(body, dict) and set(body) >= {"message", "type", "param", "code"}, body
    return body


def bad_eval(client: openai.OpenAI, param: str, mentions: str, **kwargs: Any) -> None:
    body = error_of(lambda: make_eval(client, **kwargs))
    assert body["param"] == param and mentions in body["message"], body


@pytest.mark.parametrize(
    ("config", "param", "mentions"),
    [
        ({"type": "custom", "item_schema": {"type": "nonsense"}}, "data_source_config.item_schema", "JSON Schema"),
        ({"type": "custom", "item_schema": {"properties": []}}, "data_source_config.item_schema", "JSON Schema"),
        ({"type": "custom", "item_schema": "object"}, "data_source_config.item_schema", "JSON Schema"),
        ({"type": "custom"}, "data_source_config.item_schema", "Missing"),
        ({"type": "stored_completions"}, "data_source_config.type", "only 'custom'"),
        ({"type": "logs", "metadata": {}}, "data_source_config.type", "only 'custom'"),
        ({"type": "custom", "item_schema": ITEM_SCHEMA, "extra": 1}, "data_source_config.extra", "Unknown"),
    ],
)
def test_data_source_config_errors(client: openai.OpenAI, config: dict[str, Any], param: str, mentions: str) -> None:
    bad_eval(client, param, mentions, data_source_config=config)


@pytest.mark.parametrize(
    ("criteria", "param", "mentions"),
    [
        ([], "testing_criteria", "non-empty"),
        ([{"type": "bogus", "name": "x"}], "testing_criteria[0].type", "unknown testing criterion type"),
        ([{k: v for k, v in FUZZY.items() if k != "pass_threshold"}], "testing_criteria[0].pass_threshold", "Missing"),
        ([EXACT, {**EXACT, "pass_threshold": 0.5}], "testing_criteria[1].pass_threshold", "takes no pass_threshold"),
        ([{**FUZZY, "pass_threshold": "high"}], "testing_criteria[0].pass_threshold", "finite number"),
        ([{**EXACT, "operation": "contains"}], "testing_criteria[0].operation", "operation"),
        ([{**EXACT, "input": "{{sample.output_text"}], "testing_criteria[0].input", "template"),
        ([{**EXACT, "id": "mine"}], "testing_criteria[0].id", "assigned by the server"),
        ([{"type": "python", "name": "p", "source": "x = 1"}], "testing_criteria[0].source", "grade(sample, item)"),
        (
            [
                {
                    "type": "label_model",
                    "name": "l",
                    "model": "m",
                    "input": [{"role": "user", "content": "hi"}],
                    "labels": ["a"],
                    "passing_labels": ["b"],
                }
            ],
            "testing_criteria[0].passing_labels",
            "subset",
        ),
        (
            [{"type": "multi", "name": "m", "graders": {"a": EXACT}, "calculate_output": "a +"}],
            "testing_criteria[0].calculate_output",
            "formula",
        ),
    ],
)
def test_criteria_that_do_not_validate(
    client: openai.OpenAI, criteria: list[dict[str, Any]], param: str, mentions: str
) -> None:
    bad_eval(client, param, mentions, testing_criteria=criteria)


def test_outbound_and_function_checks_name_the_criterion(client: openai.OpenAI) -> None:
    judge = {
        "type": "label_model",
        "name": "l",
        "model": "m",
        "input": [{"role": "user", "content": "hi"}],
        "labels": ["a", "b"],
        "passing_labels": ["a"],
        "openrft": {"api_base": "http://127.0.0.1:9/v1"},
    }
    bad_eval(client, "testing_criteria[1].openrft.api_base", "testing_criteria[1]", testing_criteria=[EXACT, judge])
    missing = {"type": "lambda", "lambda": {"function": "no-such-function"}}
    bad_eval(client, "testing_criteria[0].lambda.function", "no-such-function", testing_criteria=[missing])


def test_template_variable_the_item_schema_lacks(client: openai.OpenAI) -> None:
    criterion = {**EXACT, "reference": "{{item.answr}}"}
    bad_eval(client, "testing_criteria[0].reference", "answr", testing_criteria=[criterion])
    judge = {"type": "score_model", "name": "j", "model": "m", "input": [{"role": "user", "content": "{{item.nope}}"}]}
    bad_eval(client, "testing_criteria[1].input[0].content", "nope", testing_criteria=[EXACT, judge])
    # a schema that lists no properties allows any item variable
    make_eval(
        client, data_source_config={"type": "custom", "item_schema": {"type": "object"}}, testing_criteria=[criterion]
    )


def test_metadata_name_and_unknown_arguments(client: openai.OpenAI) -> None:
    bad_eval(client, "metadata", "at most 16", metadata={str(i): "v" for i in range(17)})
    bad_eval(client, "metadata.k", "512", metadata={"k": "v" * 513})
    body = error_of(lambda: make_eval(client, extra_body={"bogus": 1}))
    assert body["param"] == "bogus"
    created = make_eval(client)
    body = error_of(lambda: client.evals.update(created.id, extra_body={"testing_criteria": []}))
    assert body["param"] == "testing_criteria"


def test_list_params(client: openai.OpenAI) -> None:
    body = error_of(lambda: client.evals.list(order_by="updated_at"))
    assert body["param"] == "order_by"
    body = error_of(lambda: client.evals.list(after="eval_nope"))
    assert body["param"] == "after"


def test_unknown_ids_are_404s(client: openai.OpenAI) -> None:
    created = make_eval(client)
    run = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    not_found(lambda: client.evals.retrieve("eval_nope"), code="not_found", param="eval_id", mentions="eval_nope")
    not_found(lambda: client.evals.update("eval_nope", name="x"), code="not_found", param="eval_id", mentions="nope")
    not_found(lambda: client.evals.delete("eval_nope"), code="not_found", param="eval_id", mentions="eval_nope")
    not_found(lambda: client.evals.runs.list("eval_nope"), code="not_found", param="eval_id", mentions="eval_nope")
    for call in (
        lambda: client.evals.runs.retrieve("evalrun_nope", eval_id=created.id),
        lambda: client.evals.runs.cancel("evalrun_nope", eval_id=created.id),
        lambda: client.evals.runs.delete("evalrun_nope", eval_id=created.id),
        lambda: client.evals.runs.output_items.list("evalrun_nope", eval_id=created.id),
    ):
        not_found(call, code="not_found", param="run_id", mentions="evalrun_nope")
    other = make_eval(client)
    not_found(
        lambda: client.evals.runs.retrieve(run.id, eval_id=other.id), code="not_found", param="run_id", mentions=run.id
    )
    not_found(
        lambda: client.evals.runs.output_items.retrieve("outputitem_nope", eval_id=created.id, run_id=run.id),
        code="not_found",
        param="output_item_id",
        mentions="outputitem_nope",
    )


def test_another_projects_eval_and_file_do_not_exist(client: openai.OpenAI, live_server: LiveServer) -> None:
    created = make_eval(client)
    run = client.evals.runs.create(created.id, data_source=jsonl())  # type: ignore[arg-type]
    file = client.files.create(file=("rows.jsonl", json.dumps(ROWS[0]).encode()), purpose="evals")
    other = live_server.openai_client(other_project_key(live_server.settings))
    not_found(lambda: other.evals.retrieve(created.id), code="not_found", param="eval_id", mentions=created.id)
    not_found(
        lambda: other.evals.runs.retrieve(run.id, eval_id=created.id),
        code="not_found",
        param="eval_id",
        mentions=created.id,
    )
    not_found(
        lambda: other.evals.runs.create(created.id, data_source=jsonl()),  # type: ignore[arg-type]
        code="not_found",
        param="eval_id",
        mentions=created.id,
    )
    assert created.id not in [e.id for e in other.evals.list()]
    mine = make_eval(other)
    source = {"type": "jsonl", "source": {"type": "file_id", "id": file.id}}
    not_found(
        lambda: other.evals.runs.create(mine.id, data_source=source),  # type: ignore[arg-type]
        code="not_found",
        param="data_source.source.id",
        mentions=file.id,
    )


def bad_run(client: openai.OpenAI, eval_id: str, data_source: Any, param: str, mentions: str) -> None:
    body = error_of(lambda: client.evals.runs.create(eval_id, data_source=data_source))
    assert body["param"] == param and mentions in body["message"], body


def test_data_source_errors(client: openai.OpenAI) -> None:
    eval_id = make_eval(client).id
    bad_run(client, eval_id, {"type": "responses", "source": {}}, "data_source.type", "not supported")
    bad_run(
        client,
        eval_id,
        {"type": "jsonl", "source": {"type": "stored_completions"}},
        "data_source.source.type",
        "file_content",
    )
    bad_run(client, eval_id, jsonl([]), "data_source.source.content", "non-empty")
    bad_run(client, eval_id, jsonl([{"item": "x"}]), "data_source.source.content[0].item", "JSON object")
    wrong = [ROWS[0], {"item": {"question": 3, "answer": "4"}, "sample": {"output_text": "4"}}]
    bad_run(client, eval_id, jsonl(wrong), "data_source.source.content[1].item", "item_schema")


def test_jsonl_without_the_sample_a_criterion_reads(client: openai.OpenAI) -> None:
    eval_id = make_eval(client, testing_criteria=[EXACT]).id
    rows = [ROWS[0], {"item": ROWS[1]["item"]}]
    bad_run(client, eval_id, jsonl(rows), "data_source.source.content[1].sample", "testing_criteria[0].input")
    # criteria that read only the item need no samples
    item_only = make_eval(client, testing_criteria=[{**EXACT, "input": "{{item.question}}"}]).id
    assert client.evals.runs.create(item_only, data_source=jsonl(rows)).status == "queued"  # type: ignore[arg-type]


def test_completions_errors(client: openai.OpenAI) -> None:
    eval_id = make_eval(client).id
    body = error_of(lambda: client.evals.runs.create(eval_id, data_source=completions("no-such-model")))  # type: ignore[arg-type]
    assert (body["param"], body["code"]) == ("data_source.model", "model_not_found") and "no-such-model" in body[
        "message"
    ]
    template = {"type": "template", "template": [TEMPLATE["template"][0], {"role": "user", "content": "{{item.q}}"}]}
    bad_run(
        client,
        eval_id,
        completions(input_messages=template),
        "data_source.input_messages.template[1].content",
        "item.q",
    )
    sample_var = {"type": "template", "template": [{"role": "user", "content": "{{sample.output_text}}"}]}
    bad_run(
        client,
        eval_id,
        completions(input_messages=sample_var),
        "data_source.input_messages.template[0].content",
        "item namespace",
    )
    reference = {"type": "item_reference", "item_reference": "item.history"}
    bad_run(
        client, eval_id, completions(input_messages=reference), "data_source.input_messages.item_reference", "history"
    )
    no_input = {k: v for k, v in completions().items() if k != "input_messages"}
    bad_run(client, eval_id, no_input, "data_source.input_messages", "Missing")
    no_model = {k: v for k, v in completions().items() if k != "model"}
    bad_run(client, eval_id, no_model, "data_source.model", "Missing")
    for params, param, mentions in (
        ({"temperature": 3}, "data_source.sampling_params.temperature", "between 0 and 2"),
        ({"top_p": 0}, "data_source.sampling_params.top_p", "(0, 1]"),
        ({"max_completion_tokens": 0}, "data_source.sampling_params.max_completion_tokens", "at least 1"),
        ({"seed": 1.5}, "data_source.sampling_params.seed", "integer"),
        ({"reasoning_effort": "low"}, "data_source.sampling_params.reasoning_effort", "not supported"),
    ):
        bad_run(client, eval_id, completions(sampling_params=params), param, mentions)


def test_file_sources(client: openai.OpenAI) -> None:
    eval_id = make_eval(client).id
    tune = client.files.create(
        file=("t.jsonl", json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()), purpose="fine-tune"
    )
    source = {"type": "jsonl", "source": {"type": "file_id", "id": tune.id}}
    bad_run(client, eval_id, source, "data_source.source.id", "purpose 'evals'")
    missing = {"type": "jsonl", "source": {"type": "file_id", "id": "file-nope"}}
    not_found(
        lambda: client.evals.runs.create(eval_id, data_source=missing),  # type: ignore[arg-type]
        code="not_found",
        param="data_source.source.id",
        mentions="file-nope",
    )


@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        (b'{"item": 1}\n', "line 1: 'item' must be a JSON object"),
        (b'{"question": "a"}\n[1, 2]\n', "line 2: must be a JSON object"),
        (b'{"item": {}, "sample": "x"}\n', "line 1: 'sample' must be a JSON object"),
        (b"{nope\n", "line 1: invalid JSON"),
        (b"\n\n", "empty"),
    ],
)
def test_evals_file_upload_names_the_line(client: openai.OpenAI, content: bytes, mentions: str) -> None:
    body = error_of(lambda: client.files.create(file=("rows.jsonl", content), purpose="evals"))
    assert body["param"] == "file" and body["code"] == "invalid_file_format" and mentions in body["message"], body
