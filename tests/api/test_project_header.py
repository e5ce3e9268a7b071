"""OpenAI's `OpenAI-Project` header, through the openai SDK's `project=`: the admin key acts in any live
project, a project key in its own only."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY, LiveServer


def new_project(server: LiveServer, name: str) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    project = httpx.post(f"{server.v1}/organization/projects", json={"name": name}, headers=admin).json()
    account = httpx.post(
        f"{server.v1}/organization/projects/{project['id']}/service_accounts", json={"name": "k"}, headers=admin
    ).json()
    return project["id"], account["api_key"]["value"]


def client(server: LiveServer, key: str, project: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key=key, project=project, max_retries=0)


def test_the_admin_key_acts_in_the_project_it_names(live_server: LiveServer) -> None:
    project_id, key = new_project(live_server, "tenant")
    uploaded = client(live_server, key).files.create(file=("a.jsonl", b'{"x": 1}\n'), purpose="evals")
    assert [f.id for f in client(live_server, ADMIN_KEY).files.list()] == []  # the admin's own project
    assert [f.id for f in client(live_server, ADMIN_KEY, project_id).files.list()] == [uploaded.id]


def test_a_project_key_cannot_name_another_project(live_server: LiveServer) -> None:
    first, key = new_project(live_server, "first")
    second, _ = new_project(live_server, "second")
    assert client(live_server, key, first).files.list().data == []  # its own project: fine
    with pytest.raises(openai.PermissionDeniedError) as err:
        client(live_server, key, second).files.list()
    assert err.value.body["code"] == "project_mismatch"  # type: ignore[index]
    assert second in err.value.body["message"]  # type: ignore[index]


def test_the_admin_naming_no_such_project_gets_a_404(live_server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client(live_server, ADMIN_KEY, "proj_nope").files.list()
    assert err.value.body["code"] == "project_not_found"  # type: ignore[index]
