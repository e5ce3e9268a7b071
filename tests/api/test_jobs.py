"""Contract tests of /v1/fine_tuning/jobs through the official openai SDK against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from openrft.ids import now_s
from openrft.jobstate import JobHandle
from openrft.store import schema
from openrft.store.blobs import BlobStore
from openrft.store.db import Store
from tests.conftest import LiveServer

MODEL = "smollm2-135m-instruct"
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
TRAIN = b"".join(
    json.dumps({"messages": [{"role": "user", "content": f"{i}+1?"}], "answer": str(i + 1)}).encode() + b"\n"
    for i in range(4)
)


def rft(grader: dict[str, Any] | None = None, **hyperparameters: Any) -> dict[str, Any]:
    return {
        "type": "reinforcement",
        "reinforcement": {"grader": grader or GRADER, "hyperparameters": hyperparameters},
    }


@pytest.fixture
def db(live_server: LiveServer) -> Iterator[Store]:
    store = Store(live_server.settings.db_url)
    yield store
    store.dispose()


@pytest.fixture
def train_file(client: openai.OpenAI) -> str:
    return client.files.create(file=("train.jsonl", TRAIN), purpose="fine-tune").id


def create(client: openai.OpenAI, train_file: str, **kwargs: Any) -> Any:
    kwargs.setdefault("method", rft())
    return client.fine_tuning.jobs.create(model=MODEL, training_file=train_file, **kwargs)


def set_job(db: Store, job_id: str, **values: Any) -> None:
    with db.begin() as conn:
        conn.execute(schema.jobs.update().where(schema.jobs.c.id == job_id).values(**values))


def job_count(db: Store) -> int:
    with db.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.jobs)).scalar_one())


def error_of(call: Any, status: int = 400) -> dict[str, Any]:
    with pytest.raises(openai.APIStatusError) as err:
        call()
    assert err.value.status_code == status, err.value.body
    body = err.value.body
    assert isinstance(body, dict) and set(body) >= {"message", "type", "param", "code"}
    return body


# -- create / retrieve ---------------------------------------------------------------------------


def test_create_returns_an_openai_job(client: openai.OpenAI, train_file: str) -> None:
    job = create(client, train_file, suffix="my-model_1", seed=7, metadata={"team": "rl"}, method=rft(n_epochs=2))
    assert job.object == "fine_tuning.job" and job.id.startswith("ftjob-")
    assert job.status == "queued" and job.model == MODEL and job.training_file == train_file
    assert job.organization_id == "proj_default" and job.seed == 7 and job.metadata == {"team": "rl"}
    assert job.error is None and job.fine_tuned_model is None and job.finished_at is None
    assert job.result_files == [] and job.trained_tokens is None
    assert job.method is not None and job.method.type == "reinforcement"
    rl = job.method.reinforcement
    assert rl is not None and rl.grader.type == "string_check"
    assert rl.hyperparameters is not None
    assert rl.hyperparameters.n_epochs == 2 and rl.hyperparameters.batch_size == "auto"
    assert rl.hyperparameters.reasoning_effort == "default"
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.learning_rate_multiplier == "auto"
    again = client.fine_tuning.jobs.retrieve(job.id)
    assert again.model_dump() == job.model_dump()
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id)]
    assert messages == ["Files validated, job queued", f"Validating training file: {train_file}"]


def test_create_through_extra_body_with_extras(client: openai.OpenAI, train_file: str) -> None:
    method = rft(samples_per_prompt=4, loss="dapo", lora_rank=0, kl_beta=0.0, temperature=0.7, batch_size=2)
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=train_file, validation_file=train_file, extra_body={"method": method}
    )
    hp = job.model_dump()["method"]["reinforcement"]["hyperparameters"]
    assert hp["samples_per_prompt"] == 4 and hp["loss"] == "dapo" and hp["lora_rank"] == 0
    assert hp["kl_beta"] == 0.0 and hp["temperature"] == 0.7 and hp["batch_size"] == 2
    assert "max_completion_tokens" not in hp  # unset extras get the trainer's defaults
    assert job.validation_file == train_file
    assert 0 <= job.seed < 2**31


def test_retrieve_unknown_job_is_404(client: openai.OpenAI) -> None:
    body = error_of(lambda: client.fine_tuning.jobs.retrieve("ftjob-nope"), 404)
    assert "ftjob-nope" in body["message"]


def test_integrations_are_stored(client: openai.OpenAI, train_file: str) -> None:
    integrations = [{"type": "wandb", "wandb": {"project": "p", "tags": ["a"]}}]
    job = create(client, train_file, integrations=integrations)
    assert job.integrations is not None and job.integrations[0].wandb.project == "p"


# -- list ----------------------------------------------------------------------------------------


def test_list_newest_first_with_pagination_and_metadata(client: openai.OpenAI, train_file: str) -> None:
    ids = [create(client, train_file, metadata={"n": str(i), "odd": str(i % 2)}).id for i in range(5)]
    first = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == ids[::-1][:2] and first.has_more
    second = client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert [j.id for j in second.data] == ids[::-1][2:4] and second.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == ids[::-1]  # auto-pagination
    odd = client.fine_tuning.jobs.list(metadata={"odd": "1"})
    assert [j.id for j in odd.data] == [ids[3], ids[1]] and not odd.has_more
    odd_page = client.fine_tuning.jobs.list(metadata={"odd": "0"}, limit=2)
    assert [j.id for j in odd_page.data] == [ids[4], ids[2]] and odd_page.has_more
    assert client.fine_tuning.jobs.list(metadata={"odd": "1", "n": "3"}).data[0].id == ids[3]
    assert client.fine_tuning.jobs.list(metadata={"odd": "7"}).data == []
    error_of(lambda: client.fine_tuning.jobs.list(limit=0))
    assert error_of(lambda: client.fine_tuning.jobs.list(after="ftjob-unknown"))["param"] == "after"


# -- transitions ---------------------------------------------------------------------------------


def test_cancel_pause_resume_of_a_queued_job(client: openai.OpenAI, train_file: str) -> None:
    jobs = client.fine_tuning.jobs
    job = create(client, train_file)
    assert jobs.pause(job.id).status == "paused"
    assert "already paused" in error_of(lambda: jobs.pause(job.id))["message"]
    assert jobs.resume(job.id).status == "queued"
    assert "is queued and cannot be resumed" in error_of(lambda: jobs.resume(job.id))["message"]
    assert jobs.pause(job.id).status == "paused"
    cancelled = jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    for action, verb in ((jobs.cancel, "cancelled"), (jobs.pause, "paused"), (jobs.resume, "resumed")):
        message = error_of(lambda a=action: a(job.id))["message"]
        assert message.startswith(f"Job {job.id} has already been cancelled and cannot be {verb}")
    messages = [e.message for e in jobs.list_events(job.id, limit=100)]
    assert "The job was cancelled" in messages and "The job was resumed and is queued" in messages


def test_transitions_of_a_running_job(client: openai.OpenAI, train_file: str, db: Store) -> None:
    jobs = client.fine_tuning.jobs
    job = create(client, train_file)
    set_job(db, job.id, status="running", lease_owner="w1", lease_expires_at=1e12)
    assert "is running and cannot be resumed" in error_of(lambda: jobs.resume(job.id))["message"]
    assert jobs.pause(job.id).status == "running"  # the trainer pauses at its next step
    assert JobHandle(db, job.id, "w1").control() == "pause"
    assert jobs.resume(job.id).status == "running"  # withdraws the pending pause
    assert JobHandle(db, job.id, "w1").control() is None
    assert jobs.cancel(job.id).status == "running"
    assert JobHandle(db, job.id, "w1").control() == "cancel"
    assert jobs.cancel(job.id).status == "running"  # asking twice is fine
    assert "being cancelled" in error_of(lambda: jobs.pause(job.id))["message"]
    JobHandle(db, job.id, "w1").finish("cancelled")
    assert jobs.retrieve(job.id).status == "cancelled"


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_finished_jobs_cannot_change(client: openai.OpenAI, train_file: str, db: Store, status: str) -> None:
    jobs = client.fine_tuning.jobs
    job = create(client, train_file)
    set_job(db, job.id, status=status, finished_at=now_s())
    body = error_of(lambda: jobs.cancel(job.id))
    assert body["message"] == f"Job {job.id} has already {status} and cannot be cancelled."
    assert body["type"] == "invalid_request_error"
    assert f"has already {status} and cannot be paused" in error_of(lambda: jobs.pause(job.id))["message"]
    assert f"has already {status} and cannot be resumed" in error_of(lambda: jobs.resume(job.id))["message"]
    assert jobs.retrieve(job.id).status == status


# -- events and checkpoints ----------------------------------------------------------------------


def test_events_newest_first_with_pagination(client: openai.OpenAI, train_file: str, db: Store) -> None:
    job = create(client, train_file)
    set_job(db, job.id, status="running", lease_owner="w1", lease_expires_at=1e12)
    handle = JobHandle(db, job.id, "w1")
    handle.event("step 1/2", type="metrics", data={"step": 1, "scores": {"train_reward_mean": 0.5}})
    handle.event("grader errors", level="warn")
    events = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert [e.message for e in events.data] == ["grader errors", "step 1/2"] and events.has_more
    assert events.data[0].object == "fine_tuning.job.event" and events.data[0].id.startswith("ftevent-")
    assert events.data[0].level == "warn" and events.data[1].type == "metrics"
    assert events.data[1].data == {"step": 1, "scores": {"train_reward_mean": 0.5}}
    rest = client.fine_tuning.jobs.list_events(job.id, after=events.data[-1].id, limit=10)
    assert [e.message for e in rest.data] == ["Files validated, job queued", f"Validating training file: {train_file}"]
    assert not rest.has_more
    assert len(list(client.fine_tuning.jobs.list_events(job.id, limit=1))) == 4  # auto-pagination
    assert error_of(lambda: client.fine_tuning.jobs.list_events(job.id, after="ftevent-x"))["param"] == "after"


def test_checkpoints_list(client: openai.OpenAI, train_file: str, db: Store) -> None:
    job = create(client, train_file)
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data == []
    set_job(db, job.id, status="running", lease_owner="w1", lease_expires_at=1e12)
    handle = JobHandle(db, job.id, "w1")
    ids = [
        handle.add_checkpoint(
            step=step,
            path=f"/ckpt/{step}",
            metrics={"step": step, "valid_reward_mean": step / 10},
            model_id=f"ft:{MODEL}:proj_default::{job.id}:ckpt-step-{step}",
        )
        for step in (2, 4, 6)
    ]
    handle.delete_checkpoint(ids[0])
    page = client.fine_tuning.jobs.checkpoints.list(job.id, limit=1)
    assert len(page.data) == 1 and page.has_more
    first = page.data[0]
    assert first.id == ids[2] and first.object == "fine_tuning.job.checkpoint" and first.step_number == 6
    assert first.fine_tuning_job_id == job.id and first.fine_tuned_model_checkpoint.endswith(":ckpt-step-6")
    assert first.metrics.step == 6
    assert first.model_dump()["metrics"]["valid_reward_mean"] == 0.6
    rest = client.fine_tuning.jobs.checkpoints.list(job.id, after=first.id)
    assert [c.id for c in rest.data] == [ids[1]] and not rest.has_more
    assert [c["step_number"] for c in handle.checkpoints()] == [4, 6]


# -- idempotency ---------------------------------------------------------------------------------


def test_idempotency_key(client: openai.OpenAI, train_file: str, db: Store) -> None:
    headers = {"Idempotency-Key": "create-1"}
    first = create(client, train_file, seed=1, extra_headers=headers)
    again = create(client, train_file, seed=1, extra_headers=headers)
    assert again.id == first.id and job_count(db) == 1
    body = error_of(lambda: create(client, train_file, seed=2, extra_headers=headers), 409)
    assert body["code"] == "idempotency_key_reused" and body["type"] == "invalid_request_error"
    other = create(client, train_file, seed=1, extra_headers={"Idempotency-Key": "create-2"})
    assert other.id != first.id and job_count(db) == 2


# -- validation ----------------------------------------------------------------------------------

HP = "method.reinforcement.hyperparameters"
GUARDS = "method.reinforcement.guard_graders"
SIMILAR = {
    "type": "text_similarity",
    "name": "similar",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "fuzzy_match",
}


def guarded(guards: Any, **extras: Any) -> dict[str, Any]:
    """A reinforcement method with openrft's guard_graders (and other method extras)."""
    method = rft()
    method["reinforcement"] |= {"guard_graders": guards, **extras}
    return method


BAD_REQUESTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown model", {"model": "gpt-9"}, "model", "gpt-9"),
    ("missing file", {"training_file": "file-missing"}, "training_file", "does not exist"),
    ("missing validation file", {"validation_file": "file-x"}, "validation_file", "does not exist"),
    # TRAIN's rows are prompts (last message user): fine for reinforcement, not for the other methods.
    ("supervised", {"method": {"type": "supervised", "supervised": {}}}, "training_file", "line 1: last message"),
    ("dpo", {"method": {"type": "dpo", "dpo": {}}}, "training_file", "line 1: missing 'input'"),
    ("no method", {"method": None}, "training_file", "not a valid supervised fine-tune file"),
    ("top-level hp", {"method": None, "hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs", ">= 1"),
    ("unknown method", {"method": {"type": "ppo"}}, "method.type", "'supervised', 'dpo', 'reinforcement'"),
    ("hp beside rft", {"hyperparameters": {"n_epochs": 1}}, "hyperparameters", "method.reinforcement"),
    ("no reinforcement", {"method": {"type": "reinforcement"}}, "method.reinforcement", "Missing"),
    ("no grader", {"method": {"type": "reinforcement", "reinforcement": {}}}, "method.reinforcement.grader", "Missing"),
    ("bad grader type", {"method": rft({"type": "magic"})}, "method.reinforcement.grader.type", "unknown grader"),
    (
        "label_model top-level",
        {
            "method": rft(
                {
                    "type": "label_model",
                    "name": "x",
                    "model": "m",
                    "input": [],
                    "labels": ["a"],
                    "passing_labels": ["a"],
                }
            )
        },
        "method.reinforcement.grader.type",
        "only allowed inside a multi grader",
    ),
    ("guards not a list", {"method": guarded({"a": 1})}, GUARDS, "list"),
    ("guard type", {"method": guarded([{"type": "magic"}])}, f"{GUARDS}[0].type", "unknown grader"),
    ("guard field", {"method": guarded([{**GRADER, "operation": "near"}])}, f"{GUARDS}[0].operation", "eq"),
    ("guard named reward", {"method": guarded([{**GRADER, "name": "reward"}])}, f"{GUARDS}[0].name", "taken"),
    ("guards same name", {"method": guarded([GRADER, GRADER])}, f"{GUARDS}[1].name", "taken"),
    ("guard threshold", {"method": guarded([SIMILAR])}, f"{GUARDS}[0].pass_threshold", "Missing"),
    ("guards too many", {"method": guarded([{**GRADER, "name": f"g{i}"} for i in range(9)])}, GUARDS, "8"),
    ("penalties", {"method": guarded(None, penalty_metrics="harm")}, "method.reinforcement.penalty_metrics", "list"),
    ("on_reward_hacking", {"method": rft(on_reward_hacking="stop")}, f"{HP}.on_reward_hacking", "'pause'"),
    ("patience", {"method": rft(early_stopping_patience=-1)}, f"{HP}.early_stopping_patience", ">= 0"),
    (
        "patience without validation",
        {"method": rft(early_stopping_patience=2)},
        f"{HP}.early_stopping_patience",
        "validation_file",
    ),
    ("n_epochs zero", {"method": rft(n_epochs=0)}, f"{HP}.n_epochs", "integer >= 1"),
    ("n_epochs string", {"method": rft(n_epochs="3")}, f"{HP}.n_epochs", "integer >= 1"),
    ("batch_size float", {"method": rft(batch_size=2.5)}, f"{HP}.batch_size", "integer"),
    ("lr negative", {"method": rft(learning_rate_multiplier=-1)}, f"{HP}.learning_rate_multiplier", "> 0"),
    ("lr bool", {"method": rft(learning_rate_multiplier=True)}, f"{HP}.learning_rate_multiplier", "number"),
    ("compute zero", {"method": rft(compute_multiplier=0)}, f"{HP}.compute_multiplier", "> 0"),
    ("eval_interval", {"method": rft(eval_interval="sometimes")}, f"{HP}.eval_interval", "auto"),
    ("eval_samples", {"method": rft(eval_samples=0)}, f"{HP}.eval_samples", ">= 1"),
    ("reasoning", {"method": rft(reasoning_effort="extreme")}, f"{HP}.reasoning_effort", "'high'"),
    ("samples_per_prompt", {"method": rft(samples_per_prompt=1)}, f"{HP}.samples_per_prompt", ">= 2"),
    ("max tokens", {"method": rft(max_completion_tokens=0)}, f"{HP}.max_completion_tokens", ">= 1"),
    ("temperature", {"method": rft(temperature=0)}, f"{HP}.temperature", "> 0"),
    ("loss", {"method": rft(loss="ppo")}, f"{HP}.loss", "grpo"),
    ("kl_beta", {"method": rft(kl_beta=-0.1)}, f"{HP}.kl_beta", ">= 0"),
    ("lora_rank", {"method": rft(lora_rank=-1)}, f"{HP}.lora_rank", ">= 0"),
    ("unknown hp", {"method": rft(foo=1)}, f"{HP}.foo", "Unknown hyperparameter 'foo'"),
    ("unknown top-level", {"extra_body": {"colour": "red"}}, "colour", "Unrecognized request argument"),
    ("suffix chars", {"suffix": "has space"}, "suffix", "pattern"),
    ("suffix long", {"suffix": "x" * 65}, "suffix", "64"),
    ("seed negative", {"seed": -1}, "seed", ">= 0"),
    ("metadata pairs", {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "16"),
    ("metadata key", {"metadata": {"k" * 65: "v"}}, "metadata", "64"),
    ("metadata value", {"metadata": {"k": "v" * 513}}, "metadata.k", "512"),
    ("integration type", {"integrations": [{"type": "mlflow", "mlflow": {}}]}, "integrations.0.type", ""),
    (
        "response_format",
        {"method": {"type": "reinforcement", "reinforcement": {"grader": GRADER, "response_format": {"type": "x"}}}},
        "method.reinforcement.response_format.type",
        "json_schema",
    ),
]


@pytest.mark.parametrize(("case", "change", "param", "text"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_create_is_a_400_naming_the_param_and_writes_nothing(
    client: openai.OpenAI, train_file: str, db: Store, case: str, change: dict[str, Any], param: str, text: str
) -> None:
    kwargs: dict[str, Any] = {"model": MODEL, "training_file": train_file, "method": rft(), **change}
    if kwargs["method"] is None:
        del kwargs["method"]
    body = error_of(lambda: client.fine_tuning.jobs.create(**kwargs))
    assert body["param"] == param, body
    assert text in body["message"], body
    assert body["type"] == "invalid_request_error"
    assert job_count(db) == 0


def test_file_of_wrong_purpose_or_bad_content(
    live_server: LiveServer, client: openai.OpenAI, train_file: str, db: Store
) -> None:
    with db.begin() as conn:
        conn.execute(
            schema.files.insert().values(
                id="file-batch",
                project_id="proj_default",
                purpose="batch",
                filename="b.jsonl",
                bytes=1,
                sha256="0" * 64,
                status="processed",
                created_at=now_s(),
            )
        )
    body = error_of(lambda: create(client, "file-batch"))
    assert body["param"] == "training_file" and "purpose 'batch'" in body["message"]
    body = error_of(lambda: create(client, train_file, validation_file="file-batch"))
    assert body["param"] == "validation_file"
    BlobStore(live_server.settings.blobs_dir).put(f"files/{train_file}", b'{"messages": []}\n')
    body = error_of(lambda: create(client, train_file))
    assert body["param"] == "training_file" and "line 1" in body["message"], body
    assert job_count(db) == 0


@pytest.mark.parametrize("kind", ["fine_tuned", "checkpoint"])
def test_a_fine_tuned_model_whose_files_are_gone_is_not_a_starting_point(
    live_server: LiveServer, client: openai.OpenAI, train_file: str, db: Store, tmp_path: Any, kind: str
) -> None:
    """A chained job starts from the parent's weights (tests/api/test_lineage.py); with its files gone it can't."""
    from openrft.inference.registry import register_adapter

    model_id = f"ft:{MODEL}:proj_default::ftjob-old" + (":ckpt-step-2" if kind == "checkpoint" else "")
    with db.begin() as conn:
        register_adapter(
            conn,
            model_id=model_id,
            project_id="proj_default",
            kind=kind,
            base_model=MODEL,
            path=tmp_path / "gone",
            job_id="ftjob-old",
        )
    kwargs: dict[str, Any] = {"model": model_id, "training_file": train_file, "method": rft()}
    body = error_of(lambda: client.fine_tuning.jobs.create(**kwargs))
    assert body["param"] == "model" and body["code"] == "model_not_available", body
    assert "are gone" in body["message"] and model_id in body["message"], body
    assert job_count(db) == 0


# -- tenancy -------------------------------------------------------------------------------------


def new_project_key(live_server: LiveServer) -> str:
    admin = {"Authorization": f"Bearer {live_server.admin_key}"}
    project = httpx.post(f"{live_server.v1}/organization/projects", json={"name": "other"}, headers=admin)
    project.raise_for_status()
    account = httpx.post(
        f"{live_server.v1}/organization/projects/{project.json()['id']}/service_accounts",
        json={"name": "bot"},
        headers=admin,
    )
    account.raise_for_status()
    return str(account.json()["api_key"]["value"])


def test_another_project_sees_nothing(live_server: LiveServer, client: openai.OpenAI, train_file: str) -> None:
    job = create(client, train_file)
    other = live_server.openai_client(api_key=new_project_key(live_server))
    assert other.fine_tuning.jobs.list().data == []
    for call in (
        lambda: other.fine_tuning.jobs.retrieve(job.id),
        lambda: other.fine_tuning.jobs.cancel(job.id),
        lambda: other.fine_tuning.jobs.pause(job.id),
        lambda: other.fine_tuning.jobs.resume(job.id),
        lambda: other.fine_tuning.jobs.list_events(job.id),
        lambda: other.fine_tuning.jobs.checkpoints.list(job.id),
    ):
        assert error_of(call, 404)["code"] == "fine_tune_not_found"
    body = error_of(lambda: create(other, train_file))  # our file is not theirs
    assert body["param"] == "training_file" and body["code"] == "file_not_found"
    own = create(other, other.files.create(file=("t.jsonl", TRAIN), purpose="fine-tune").id)
    assert own.organization_id != job.organization_id
    assert [j.id for j in client.fine_tuning.jobs.list()] == [job.id]


def test_every_trainer_hyperparameter_is_accepted() -> None:
    """The API accepts exactly the trainer's hyperparameters, so a finished job's pinned method can be resent."""
    from dataclasses import fields

    from openrft.api.jobs.schemas import RFTHyperparameters
    from openrft.training.hparams import HParams

    assert set(RFTHyperparameters.model_fields) == {f.name for f in fields(HParams)}


def test_a_pinned_method_can_be_sent_again(client: openai.OpenAI, train_file: str) -> None:
    """A finished job shows every hyperparameter that ran (HParams.public()); that method is a valid request."""
    from openrft.training.hparams import HParams

    pinned = HParams(seed=11).public()
    job = create(client, train_file, method=rft(**pinned))
    assert job.status == "queued"
    assert job.to_dict(warnings=False)["method"]["reinforcement"]["hyperparameters"] == pinned


def test_a_job_has_a_linked_eval_with_its_grader_and_guards(client: openai.OpenAI, train_file: str, db: Store) -> None:
    guard = {**SIMILAR, "pass_threshold": 0.7}
    job = create(client, train_file, method=guarded([guard], penalty_metrics=["harm"]))
    shown = job.to_dict(warnings=False)
    assert shown["eval_id"].startswith("eval_") and client.fine_tuning.jobs.retrieve(job.id).eval_id == job.eval_id
    reinforcement = shown["method"]["reinforcement"]
    assert reinforcement["penalty_metrics"] == ["harm"]
    assert reinforcement["guard_graders"][0]["name"] == "similar"
    assert reinforcement["guard_graders"][0]["pass_threshold"] == 0.7
    with db.begin() as conn:
        row = conn.execute(sa.select(schema.evals).where(schema.evals.c.id == job.eval_id)).one()
    assert row.job_id == job.id and row.project_id == job.organization_id
    assert [c["name"] for c in row.testing_criteria] == ["reward", "similar"]
    assert row.testing_criteria[0]["type"] == GRADER["type"] and row.testing_criteria[1]["pass_threshold"] == 0.7
    plain = create(client, train_file).to_dict(warnings=False)
    assert plain["eval_id"] != job.eval_id and plain["method"]["reinforcement"].get("guard_graders") is None
