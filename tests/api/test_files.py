"""Contract tests of the Files API through the official openai SDK against a live server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import openai
import pytest
import sqlalchemy as sa

from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer, not_found

GOOD_LINE = {"messages": [{"role": "user", "content": "What is 2+2?"}], "reference_answer": "4"}


def jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def upload(client: openai.OpenAI, data: bytes, name: str = "train.jsonl", purpose: str = "fine-tune"):  # type: ignore[no-untyped-def]
    return client.files.create(file=(name, io.BytesIO(data)), purpose=purpose)  # type: ignore[arg-type]


def new_project_key(live_server: LiveServer, name: str = "other") -> str:
    admin = {"Authorization": f"Bearer {live_server.admin_key}"}
    project = httpx.post(live_server.v1 + "/organization/projects", json={"name": name}, headers=admin).json()
    account = httpx.post(
        live_server.v1 + f"/organization/projects/{project['id']}/service_accounts",
        json={"name": "ci"},
        headers=admin,
    ).json()
    return str(account["api_key"]["value"])


def stored_state(settings: Settings) -> tuple[int, list[Path]]:
    """(rows in files, files under blobs/files) — both must stay empty after a rejected upload."""
    store = Store.from_settings(settings)
    try:
        with store.begin() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(schema.files)).scalar_one()
    finally:
        store.dispose()
    folder = settings.blobs_dir / "files"
    return rows, sorted(folder.rglob("*")) if folder.exists() else []


def test_upload_retrieve_content_delete(client: openai.OpenAI) -> None:
    data = jsonl(
        GOOD_LINE,
        {
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
            "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
            "task_id": 7,
        },
    )
    created = upload(client, data)
    assert created.id.startswith("file-")
    assert created.object == "file"
    assert (created.bytes, created.filename, created.purpose, created.status) == (
        len(data),
        "train.jsonl",
        "fine-tune",
        "processed",
    )
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == data
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)
    for call in (client.files.retrieve, client.files.content, client.files.delete):
        not_found(lambda call=call: call(created.id), code="not_found", param="id", mentions=created.id)


def test_list_pagination_purpose_and_order(client: openai.OpenAI) -> None:
    ids = [upload(client, jsonl(GOOD_LINE), name=f"f{i}.jsonl").id for i in range(5)]
    page = client.files.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    everything = [f.id for f in client.files.list(limit=2)]  # auto-paginates via `after`
    assert sorted(everything) == sorted(ids) and len(everything) == 5
    ascending = [f.id for f in client.files.list(order="asc", limit=100)]
    assert ascending == list(reversed([f.id for f in client.files.list(order="desc", limit=100)]))
    assert [f.id for f in client.files.list(purpose="fine-tune")] and not client.files.list(purpose="batch").data
    last = client.files.list(limit=100).data[-1].id
    tail = client.files.list(after=last)
    assert tail.data == [] and tail.has_more is False
    with pytest.raises(openai.BadRequestError) as err:
        client.files.list(after="file-doesnotexist")
    assert err.value.body["param"] == "after"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as err:
        client.files.list(limit=0)
    assert err.value.body["param"] == "limit"  # type: ignore[index]


BAD_FILES = [
    (b"", "empty"),
    (b"\n\n  \n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "binary"),
    (jsonl(GOOD_LINE) + b'{"messages": [\xff\xfe]}\n', "line 2: is not valid UTF-8"),
    (jsonl(GOOD_LINE, GOOD_LINE) + b'{"messages": [}\n', "line 3: invalid JSON"),
    (jsonl(GOOD_LINE) + b"[1, 2]\n", "line 2: must be a JSON object"),
    (jsonl({"prompt": "hi"}), "line 1: missing 'messages'"),
    (jsonl({"messages": []}), "line 1: missing 'messages'"),
    (  # a supervised conversation (ending with the assistant) is fine on upload; a tool result ends none
        jsonl({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "a"}]}),
        "line 1: last message must be from the user (a reinforcement prompt) or the assistant",
    ),
    (jsonl({"input": {"messages": [{"role": "user", "content": "q"}]}}), "line 1: missing 'preferred_output'"),
    (
        jsonl(GOOD_LINE, {"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"}]}),
        "line 2: messages[1]: a system message may only be the first message",
    ),
    (jsonl({"messages": [{"role": "robot", "content": "q"}]}), "line 1: messages[0].role 'robot' is not one of"),
    (jsonl({"messages": [{"role": "user"}]}), "line 1: messages[0] has no content"),
    (jsonl({"messages": [{"role": "user", "content": 5}]}), "line 1: messages[0].content must be a string"),
    (jsonl({"messages": [{"role": "user", "content": "q"}], "tools": {"x": 1}}), "line 1: 'tools' must be a list"),
]


@pytest.mark.parametrize(("data", "expected"), BAD_FILES, ids=[e for _, e in BAD_FILES])
def test_invalid_files_are_400_naming_the_line(live_server: LiveServer, data: bytes, expected: str) -> None:
    client = live_server.openai_client()
    with pytest.raises(openai.BadRequestError) as err:
        upload(client, data)
    body = err.value.body
    assert isinstance(body, dict)
    assert body["param"] == "file" and body["type"] == "invalid_request_error"
    assert expected in body["message"], body["message"]
    assert stored_state(live_server.settings) == (0, [])


def test_bad_purpose_is_400(live_server: LiveServer) -> None:
    client = live_server.openai_client()
    with pytest.raises(openai.BadRequestError) as err:
        upload(client, jsonl(GOOD_LINE), purpose="assistants")
    assert err.value.body["param"] == "purpose"  # type: ignore[index]
    response = httpx.post(
        live_server.v1 + "/files",
        headers={"Authorization": f"Bearer {live_server.admin_key}"},
        files={"file": ("a.jsonl", jsonl(GOOD_LINE))},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "purpose"
    response = httpx.post(
        live_server.v1 + "/files",
        headers={"Authorization": f"Bearer {live_server.admin_key}"},
        data={"purpose": "fine-tune"},
        files={"other": ("a.jsonl", jsonl(GOOD_LINE))},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "file"
    assert stored_state(live_server.settings) == (0, [])


@pytest.fixture
def small_limit(settings: Settings) -> Settings:
    settings.max_file_bytes = 1000
    return settings


def test_oversize_upload_is_413_and_leaves_nothing(small_limit: Settings, live_server: LiveServer) -> None:
    client = live_server.openai_client()
    line = jsonl(GOOD_LINE)
    ok = upload(client, line * (1000 // len(line)))
    assert ok.bytes <= 1000
    client.files.delete(ok.id)
    with pytest.raises(openai.APIStatusError) as err:
        upload(client, line * 40)
    assert err.value.status_code == 413
    assert err.value.body["code"] == "file_too_large"  # type: ignore[index]
    assert stored_state(live_server.settings) == (1, [])  # only the deleted row remains, no blob


def test_oversize_chunked_upload_without_length(small_limit: Settings, live_server: LiveServer) -> None:
    boundary = "xyzBOUNDARY"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
        ).encode()
        + jsonl(GOOD_LINE) * 40
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), 256):
            yield body[i : i + 256]

    response = httpx.post(
        live_server.v1 + "/files",
        headers={
            "Authorization": f"Bearer {live_server.admin_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=chunks(),
    )
    assert response.status_code == 413
    assert stored_state(live_server.settings) == (0, [])


def test_not_multipart_is_400(live_server: LiveServer) -> None:
    response = httpx.post(
        live_server.v1 + "/files",
        headers={"Authorization": f"Bearer {live_server.admin_key}"},
        json={"purpose": "fine-tune"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_another_projects_file_is_404(live_server: LiveServer) -> None:
    mine = live_server.openai_client()
    created = upload(mine, jsonl(GOOD_LINE))
    theirs = live_server.openai_client(api_key=new_project_key(live_server))
    assert theirs.files.list().data == []
    for call in (theirs.files.retrieve, theirs.files.content, theirs.files.delete):
        # The same answer as for an id that never existed: nothing says the file exists elsewhere.
        not_found(lambda call=call: call(created.id), code="not_found", param="id", mentions=created.id)
    assert mine.files.retrieve(created.id).id == created.id
    other = upload(theirs, jsonl(GOOD_LINE))
    assert [f.id for f in mine.files.list()] == [created.id]
    assert [f.id for f in theirs.files.list()] == [other.id]


def test_deleting_a_file_an_active_job_uses_keeps_its_bytes(client: openai.OpenAI, live_server: LiveServer) -> None:
    """OpenAI lets a file be deleted while a job uses it; the queued job must still be able to read it."""
    grader = {
        "type": "string_check",
        "name": "eq",
        "input": "{{sample.output_text}}",
        "reference": "4",
        "operation": "eq",
    }
    training = upload(client, jsonl(GOOD_LINE))
    job = client.fine_tuning.jobs.create(
        model="smollm2-135m-instruct",
        training_file=training.id,
        method={"type": "reinforcement", "reinforcement": {"grader": grader}},  # type: ignore[typeddict-item]
    )
    assert job.status in ("validating_files", "queued")
    unused = upload(client, jsonl(GOOD_LINE))
    client.files.delete(training.id)
    client.files.delete(unused.id)
    not_found(lambda: client.files.retrieve(training.id), code="not_found", param="id", mentions=training.id)
    blobs = live_server.settings.blobs_dir / "files"
    assert sorted(p.name for p in blobs.iterdir()) == [training.id]
