"""Chained jobs and model lineage through the openai SDK: a job may start from a fine-tuned model or a
checkpoint of its project (never another project's); jobs carry parent_model/parent_job, models carry
base_model/parent_model/job_id; a model that children or unfinished jobs depend on can't be deleted."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.inference.registry import register_adapter
from openrft.store.db import Store
from tests.conftest import LiveServer
from tests.inference.tiny import TinyModels, other_project_key, tiny_dirs_fixture, tiny_fixture  # noqa: F401

USER = {"role": "user", "content": "hi"}
SFT = b"".join(
    json.dumps({"messages": [USER, {"role": "assistant", "content": f"hello {i}"}]}).encode() + b"\n" for i in range(3)
)
RFT = json.dumps({"messages": [USER], "answer": "hello"}).encode() + b"\n"
GRADER = {
    "type": "string_check",
    "name": "x",
    "input": "{{sample.output_text}}",
    "reference": "hello",
    "operation": "eq",
}


def register(live_server: LiveServer, model_id: str, *, kind: str, path: Any, job_id: str, parent: str | None) -> None:
    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        register_adapter(
            conn,
            model_id=model_id,
            project_id=DEFAULT_PROJECT_ID,
            kind=kind,
            base_model="tiny-llama",
            path=path,
            job_id=job_id,
            parent_model=parent,
        )
    store.dispose()


def sft_job(client: openai.OpenAI, model: str) -> Any:
    training_file = client.files.create(file=("sft.jsonl", SFT), purpose="fine-tune").id
    return client.fine_tuning.jobs.create(model=model, training_file=training_file, method={"type": "supervised"})


def extras(obj: Any) -> dict[str, Any]:
    return dict(obj.model_extra or {})


def test_a_job_from_a_base_model_has_no_parent(client: openai.OpenAI, tiny: TinyModels) -> None:
    job = sft_job(client, tiny.base)
    assert extras(job)["parent_model"] is None and extras(job)["parent_job"] is None


def test_jobs_chained_on_a_fine_tuned_model_and_a_checkpoint(
    live_server: LiveServer, client: openai.OpenAI, tiny: TinyModels
) -> None:
    checkpoint = f"{tiny.fine_tuned}:ckpt-step-2"
    register(live_server, checkpoint, kind="checkpoint", path=tiny.adapter_path, job_id="ftjob-tiny", parent=None)
    for parent in (tiny.fine_tuned, checkpoint):
        job = sft_job(client, parent)  # SFT -> SFT
        assert job.model == parent and job.status == "queued"
        assert extras(job)["parent_model"] == parent and extras(job)["parent_job"] == "ftjob-tiny"
        assert extras(client.fine_tuning.jobs.retrieve(job.id))["parent_model"] == parent
    rft_file = client.files.create(file=("rft.jsonl", RFT), purpose="fine-tune").id
    hp = {"max_completion_tokens": 8}  # the budget is checked against the ROOT base's 96-token context
    rft = client.fine_tuning.jobs.create(
        model=tiny.fine_tuned,
        training_file=rft_file,
        method={"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": hp}},
    )  # SFT -> RFT
    assert extras(rft)["parent_model"] == tiny.fine_tuned and extras(rft)["parent_job"] == "ftjob-tiny"


def test_another_projects_model_is_not_a_starting_point(live_server: LiveServer, tiny: TinyModels) -> None:
    other = live_server.openai_client(api_key=other_project_key(live_server.settings))
    with pytest.raises(openai.BadRequestError) as err:
        sft_job(other, tiny.fine_tuned)
    body = err.value.body
    assert isinstance(body, dict), body
    assert (body["param"], body["code"], body["type"]) == ("model", "model_not_available", "invalid_request_error")
    assert tiny.fine_tuned in body["message"]
    assert other.fine_tuning.jobs.list().data == []


def test_models_show_their_lineage(live_server: LiveServer, client: openai.OpenAI, tiny: TinyModels) -> None:
    child = "ft:tiny-llama:proj_default:next:ftjob-child"
    register(
        live_server, child, kind="fine_tuned", path=tiny.adapter_path, job_id="ftjob-child", parent=tiny.fine_tuned
    )
    got = extras(client.models.retrieve(child))
    assert got == {"base_model": "tiny-llama", "parent_model": tiny.fine_tuned, "job_id": "ftjob-child"}
    assert extras(client.models.retrieve(tiny.fine_tuned)) == {
        "base_model": "tiny-llama",
        "parent_model": None,
        "job_id": "ftjob-tiny",
    }
    assert extras(client.models.retrieve(tiny.base)) == {
        "base_model": "tiny-llama",
        "parent_model": None,
        "job_id": None,
    }
    listed = {m.id: extras(m) for m in client.models.list()}
    assert listed[child]["parent_model"] == tiny.fine_tuned


def delete_error(client: openai.OpenAI, model: str) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as err:
        client.models.delete(model)
    body = err.value.body
    assert isinstance(body, dict), body
    assert (body["param"], body["code"]) == ("model", "model_has_dependents"), body
    return body


def test_a_parent_with_dependents_cannot_be_deleted(
    live_server: LiveServer, client: openai.OpenAI, tiny: TinyModels
) -> None:
    child = "ft:tiny-llama:proj_default:next:ftjob-child"
    register(
        live_server, child, kind="fine_tuned", path=tiny.adapter_path, job_id="ftjob-child", parent=tiny.fine_tuned
    )
    assert f"model {child}" in delete_error(client, tiny.fine_tuned)["message"]
    assert client.models.delete(child).deleted is True  # a leaf goes; then its parent has no child left
    job = sft_job(client, tiny.fine_tuned)
    body = delete_error(client, tiny.fine_tuned)
    assert f"job {job.id}" in body["message"] and child not in body["message"], body
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert client.models.delete(tiny.fine_tuned).deleted is True  # a finished job no longer holds it
    with pytest.raises(openai.BadRequestError) as err:
        sft_job(client, tiny.fine_tuned)
    assert isinstance(err.value.body, dict) and err.value.body["code"] == "model_not_available"


def test_the_registry_raises_a_type_the_trainer_can_catch(live_server: LiveServer, tiny: TinyModels) -> None:
    """Checkpoint pruning calls registry.delete_model: it can tell "keep this one, a job starts from it"."""
    from openrft.inference import registry

    checkpoint = f"{tiny.fine_tuned}:ckpt-step-1"
    register(live_server, checkpoint, kind="checkpoint", path=tiny.adapter_path, job_id="ftjob-tiny", parent=None)
    register(live_server, "ft:tiny-llama:proj_default::ftjob-c", kind="fine_tuned", path=tiny.adapter_path,
             job_id="ftjob-c", parent=checkpoint)  # fmt: skip
    store = Store.from_settings(live_server.settings)
    with pytest.raises(registry.ModelHasDependents):
        registry.delete_model(store, DEFAULT_PROJECT_ID, checkpoint)
    with store.begin() as conn:
        assert registry.dependents(conn, DEFAULT_PROJECT_ID, checkpoint) == (
            ["ft:tiny-llama:proj_default::ftjob-c"],
            [],
        )
    store.dispose()
