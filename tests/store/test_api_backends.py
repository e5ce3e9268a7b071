"""A core set of API contract tests, run against a live server on SQLite and on PostgreSQL.

Through the official clients, as a user would: files, projects and service-account keys with their
isolation, fine-tuning jobs (JSON columns, events ordered by `seq`, idempotency), and Lambda
functions (composite keys, published versions).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import botocore.config
import httpx
import openai
import pytest
import sqlalchemy as sa

from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer, not_found

TRAIN = b"".join(
    json.dumps({"messages": [{"role": "user", "content": f"{i}+1?"}], "answer": str(i + 1)}).encode() + b"\n"
    for i in range(3)
)
GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
          "operation": "eq"}  # fmt: skip
METHOD: dict[str, Any] = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}


def new_project(server: LiveServer, name: str) -> tuple[str, dict[str, Any]]:
    """(project id, the service account's api_key object) made through the admin API."""
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    project = httpx.post(server.v1 + "/organization/projects", json={"name": name}, headers=admin).json()
    account = httpx.post(
        server.v1 + f"/organization/projects/{project['id']}/service_accounts", json={"name": "ci"}, headers=admin
    ).json()
    return str(project["id"]), account["api_key"]


def test_files_upload_list_retrieve_delete(backend_server: LiveServer) -> None:
    client = backend_server.openai_client()
    created = client.files.create(file=("train.jsonl", io.BytesIO(TRAIN)), purpose="fine-tune")
    assert (created.bytes, created.filename, created.purpose, created.status) == (
        len(TRAIN),
        "train.jsonl",
        "fine-tune",
        "processed",
    )
    other = client.files.create(file=("more.jsonl", io.BytesIO(TRAIN)), purpose="fine-tune")
    assert {f.id for f in client.files.list()} == {created.id, other.id}
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == TRAIN
    assert client.files.delete(created.id).deleted is True
    not_found(lambda: client.files.retrieve(created.id), code="not_found", param="id", mentions=created.id)
    assert [f.id for f in client.files.list()] == [other.id]
    assert not (backend_server.settings.blobs_dir / "files" / created.id).exists()


def test_projects_keys_and_isolation(backend_server: LiveServer) -> None:
    project_a, key_a = new_project(backend_server, "a")
    project_b, key_b = new_project(backend_server, "b")
    client_a = backend_server.openai_client(api_key=key_a["value"])
    client_b = backend_server.openai_client(api_key=key_b["value"])
    file_a = client_a.files.create(file=("a.jsonl", io.BytesIO(TRAIN)), purpose="fine-tune")
    assert [f.id for f in client_a.files.list()] == [file_a.id]
    assert client_b.files.list().data == []
    for call in (client_b.files.retrieve, client_b.files.delete):
        not_found(lambda call=call: call(file_a.id), code="not_found", param="id", mentions=file_a.id)
    with pytest.raises(openai.BadRequestError) as err:  # B cannot train on A's file: it does not exist for B
        client_b.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=file_a.id, method=METHOD)  # type: ignore[arg-type]
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "training_file"

    admin = httpx.Client(headers={"Authorization": f"Bearer {backend_server.admin_key}"}, timeout=30)
    keys = admin.get(backend_server.v1 + f"/organization/projects/{project_a}/api_keys").json()["data"]
    assert [k["id"] for k in keys] == [key_a["id"]]
    assert (
        admin.get(backend_server.v1 + f"/organization/projects/{project_b}/api_keys/{key_a['id']}").status_code == 404
    )
    deleted = admin.delete(backend_server.v1 + f"/organization/projects/{project_a}/api_keys/{key_a['id']}")
    assert deleted.json()["deleted"] is True
    with pytest.raises(openai.AuthenticationError):
        client_a.files.list()
    assert client_b.files.list().data == []  # B's key still works
    admin.close()


def test_jobs_json_columns_events_and_idempotency(backend_server: LiveServer) -> None:
    client = backend_server.openai_client()
    train = client.files.create(file=("train.jsonl", io.BytesIO(TRAIN)), purpose="fine-tune").id
    jobs = client.fine_tuning.jobs
    job = jobs.create(
        model="smollm2-135m-instruct", training_file=train, method=METHOD, metadata={"team": "rl"}, seed=3,  # type: ignore[arg-type]
        extra_headers={"Idempotency-Key": "once"},
    )  # fmt: skip
    again = jobs.create(
        model="smollm2-135m-instruct", training_file=train, method=METHOD, metadata={"team": "rl"}, seed=3,  # type: ignore[arg-type]
        extra_headers={"Idempotency-Key": "once"},
    )  # fmt: skip
    assert again.id == job.id
    assert jobs.retrieve(job.id).model_dump() == job.model_dump()
    assert job.method is not None and job.method.reinforcement is not None
    assert job.method.reinforcement.grader.model_dump(exclude_none=True) == GRADER
    assert [j.id for j in jobs.list(metadata={"team": "rl"})] == [job.id]
    assert jobs.pause(job.id).status == "paused"
    assert jobs.resume(job.id).status == "queued"
    assert jobs.cancel(job.id).status == "cancelled"
    messages = [e.message for e in jobs.list_events(job.id, limit=100)]
    assert messages[0] == "The job was cancelled" and messages[-1] == f"Validating training file: {train}"


def test_lambda_functions_versions(backend_server: LiveServer) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    lam = boto3.client(
        "lambda",
        endpoint_url=backend_server.base_url,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key=backend_server.admin_key,
        config=botocore.config.Config(retries={"max_attempts": 0}),
    )
    lam.create_function(
        FunctionName="reward", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/any",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": buf.getvalue()},
    )  # fmt: skip
    assert lam.publish_version(FunctionName="reward")["Version"] == "1"
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("VERSION", "2")
    lam.update_function_code(FunctionName="reward", ZipFile=buf.getvalue())
    assert lam.publish_version(FunctionName="reward")["Version"] == "2"
    lam.create_alias(FunctionName="reward", Name="live", FunctionVersion="2")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="reward")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    lam.delete_function(FunctionName="reward")
    store = Store(backend_server.settings.db_url)
    try:
        with store.begin() as conn:  # the composite foreign keys took the versions and aliases along
            for table in (schema.functions, schema.function_versions, schema.function_aliases):
                assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0, table.name
    finally:
        store.dispose()
