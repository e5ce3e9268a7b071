"""A job's linked eval runs on the job's own files: how the console compares a checkpoint with the base model
on the validation set (api/evals/runs.py `_check_file`). Any other fine-tune file stays refused."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from openrft.inference.registry import DEFAULT_BASE_MODEL
from tests.api.test_jobs import GRADER

ROWS = b"".join(
    json.dumps({"messages": [{"role": "user", "content": f"{i}+1?"}], "answer": str(i + 1)}).encode() + b"\n"
    for i in range(3)
)


def fine_tune_file(client: openai.OpenAI) -> str:
    return client.files.create(file=("rows.jsonl", ROWS), purpose="fine-tune").id


def on_file(file_id: str) -> dict[str, Any]:
    return {
        "type": "completions",
        "model": DEFAULT_BASE_MODEL,
        "input_messages": {"type": "item_reference", "item_reference": "item.messages"},
        "sampling_params": {"temperature": 0, "max_completion_tokens": 4},
        "source": {"type": "file_id", "id": file_id},
    }


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as info:
        call()
    body: dict[str, Any] = info.value.body  # type: ignore[assignment]
    return body


@pytest.fixture
def job(client: openai.OpenAI) -> Any:
    method: Any = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}
    return client.fine_tuning.jobs.create(
        model=DEFAULT_BASE_MODEL,
        training_file=fine_tune_file(client),
        validation_file=fine_tune_file(client),
        method=method,
    )


def test_the_linked_eval_runs_on_the_jobs_validation_and_training_files(client: openai.OpenAI, job: Any) -> None:
    eval_id = job.model_extra["eval_id"]
    for file_id in (job.validation_file, job.training_file):
        run = client.evals.runs.create(eval_id, name="base on validation", data_source=on_file(file_id))  # type: ignore[arg-type]
        assert run.status == "queued"
        assert run.data_source.source.id == file_id  # type: ignore[union-attr]


def test_another_fine_tune_file_is_refused_naming_the_source(client: openai.OpenAI, job: Any) -> None:
    eval_id = job.model_extra["eval_id"]
    other = fine_tune_file(client)
    body = error_of(lambda: client.evals.runs.create(eval_id, data_source=on_file(other)))  # type: ignore[arg-type]
    assert body["param"] == "data_source.source.id"
    assert "purpose 'fine-tune'" in body["message"] and job.validation_file in body["message"]


def test_an_eval_of_no_job_takes_only_evals_files(client: openai.OpenAI, job: Any) -> None:
    plain = client.evals.create(
        name="plain",
        data_source_config={"type": "custom", "item_schema": {"type": "object"}, "include_sample_schema": True},
        testing_criteria=[GRADER],  # type: ignore[list-item]
    )
    body = error_of(lambda: client.evals.runs.create(plain.id, data_source=on_file(job.validation_file)))  # type: ignore[arg-type]
    assert body["param"] == "data_source.source.id"
    assert body["message"].endswith("takes a file with purpose 'evals'.")
