"""Contract tests of the organization API (OpenAI Administration API shapes) against a live server.

These endpoints are not in the openai SDK, so they go through httpx; the keys they create are then
used through the SDK to show they work (and stop working once deleted).
"""

from __future__ import annotations

import httpx
import openai
import pytest
import sqlalchemy as sa

from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer


def admin(live_server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=live_server.v1 + "/organization",
        headers={"Authorization": f"Bearer {live_server.admin_key}"},
        timeout=30,
    )


def test_project_create_list_retrieve(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        created = http.post("/projects", json={"name": "research"}).json()
        assert created["object"] == "organization.project"
        assert created["id"].startswith("proj_")
        assert (created["name"], created["status"], created["archived_at"]) == ("research", "active", None)
        assert isinstance(created["created_at"], int)
        assert http.get(f"/projects/{created['id']}").json() == created
        listing = http.get("/projects").json()
        assert listing["object"] == "list"
        ids = [p["id"] for p in listing["data"]]
        assert "proj_default" in ids and created["id"] in ids
        assert listing["first_id"] == ids[0] and listing["last_id"] == ids[-1]
        assert listing["has_more"] is False


def test_project_pagination(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        made = [http.post("/projects", json={"name": f"p{i}"}).json()["id"] for i in range(4)]
        seen: list[str] = []
        after = None
        while True:
            page = http.get("/projects", params={"limit": 2, **({"after": after} if after else {})}).json()
            seen += [p["id"] for p in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        # Creation order is by second, then id: every project exactly once across the pages.
        assert len(seen) == 5 and set(seen) == {"proj_default", *made}
        assert http.get("/projects", params={"limit": 0}).json()["error"]["param"] == "limit"


def test_project_errors(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        missing = http.get("/projects/proj_nope")
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "project_id"
        for body in ({}, {"name": ""}, {"name": "   "}):
            response = http.post("/projects", json=body)
            assert response.status_code == 400, body
            assert response.json()["error"]["param"] == "name"
        assert http.post("/projects/proj_nope/service_accounts", json={"name": "x"}).status_code == 404
        assert http.get("/projects/proj_nope/api_keys").status_code == 404
        assert http.delete("/projects/proj_nope/api_keys/key_x").status_code == 404


def test_service_account_key_works_lists_and_revokes(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        project = http.post("/projects", json={"name": "team"}).json()
        account = http.post(f"/projects/{project['id']}/service_accounts", json={"name": "ci-bot"}).json()
        assert account["object"] == "organization.project.service_account"
        assert account["id"].startswith("svc_acct_") and account["role"] == "member"
        key = account["api_key"]
        assert key["object"] == "organization.project.service_account.api_key"
        assert key["id"].startswith("key_") and key["name"] == "ci-bot"
        secret = key["value"]

        client = live_server.openai_client(api_key=secret)
        assert client.files.list().data == []

        listing = http.get(f"/projects/{project['id']}/api_keys").json()
        assert [k["id"] for k in listing["data"]] == [key["id"]]
        listed = listing["data"][0]
        assert listed["object"] == "organization.project.api_key"
        assert secret not in str(listing) and listed["redacted_value"].endswith(secret[-4:])
        assert listed["owner"]["type"] == "service_account"
        assert listed["owner"]["service_account"]["id"] == account["id"]
        assert http.get(f"/projects/{project['id']}/api_keys/{key['id']}").json() == listed
        # A key is visible only under its own project.
        assert http.get(f"/projects/proj_default/api_keys/{key['id']}").status_code == 404

        deleted = http.delete(f"/projects/{project['id']}/api_keys/{key['id']}").json()
        assert deleted == {"object": "organization.project.api_key.deleted", "id": key["id"], "deleted": True}
        with pytest.raises(openai.AuthenticationError):
            client.files.list()
        assert http.get(f"/projects/{project['id']}/api_keys").json()["data"] == []
        assert http.delete(f"/projects/{project['id']}/api_keys/{key['id']}").status_code == 404

    store = Store.from_settings(live_server.settings)
    try:
        with store.begin() as conn:
            row = conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.id == key["id"])).one()
    finally:
        store.dispose()
    assert row.revoked_at is not None
    assert secret not in (row.secret_sha256, row.secret_encrypted, row.redacted_value)


def test_admin_key_cannot_be_deleted(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        keys = http.get("/projects/proj_default/api_keys").json()["data"]
        assert [k["id"] for k in keys] == ["admin"]
        response = http.delete("/projects/proj_default/api_keys/admin")
        assert response.status_code == 400 and response.json()["error"]["param"] == "key_id"


def test_project_key_gets_403_on_admin_endpoints(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        project = http.post("/projects", json={"name": "team"}).json()
        secret = http.post(f"/projects/{project['id']}/service_accounts", json={"name": "x"}).json()["api_key"]["value"]
    headers = {"Authorization": f"Bearer {secret}"}
    base = live_server.v1 + "/organization"
    calls = [
        ("POST", "/projects", {"name": "mine"}),
        ("GET", "/projects", None),
        ("GET", f"/projects/{project['id']}", None),
        ("POST", f"/projects/{project['id']}/service_accounts", {"name": "y"}),
        ("GET", f"/projects/{project['id']}/api_keys", None),
        ("DELETE", f"/projects/{project['id']}/api_keys/key_x", None),
        ("POST", f"/projects/{project['id']}", {"name": "z"}),
        ("POST", f"/projects/{project['id']}/archive", None),
        ("GET", f"/projects/{project['id']}/service_accounts", None),
        ("DELETE", f"/projects/{project['id']}/service_accounts/svc_acct_x", None),
    ]
    for method, path, body in calls:
        response = httpx.request(method, base + path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "insufficient_permissions"
        assert httpx.request(method, base + path, json=body).status_code == 401


def test_modify_and_archive_project_revokes_its_keys(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        project = http.post("/projects", json={"name": "old"}).json()
        pid = project["id"]
        renamed = http.post(f"/projects/{pid}", json={"name": "new"}).json()
        assert renamed["name"] == "new" and http.get(f"/projects/{pid}").json()["name"] == "new"
        secret = http.post(f"/projects/{pid}/service_accounts", json={"name": "x"}).json()["api_key"]["value"]
        client = live_server.openai_client(api_key=secret)
        assert client.files.list().data == []

        archived = http.post(f"/projects/{pid}/archive").json()
        assert archived["status"] == "archived" and archived["archived_at"] is not None
        with pytest.raises(openai.AuthenticationError):
            client.files.list()
        assert pid not in [p["id"] for p in http.get("/projects").json()["data"]]
        assert pid in [p["id"] for p in http.get("/projects", params={"include_archived": "true"}).json()["data"]]
        for response in (
            http.post(f"/projects/{pid}", json={"name": "again"}),
            http.post(f"/projects/{pid}/service_accounts", json={"name": "y"}),
            http.post("/projects/proj_default/archive"),
        ):
            assert response.status_code == 400 and response.json()["error"]["param"] == "project_id"
        assert http.post("/projects/proj_nope/archive").status_code == 404


def test_service_accounts_list_retrieve_delete(live_server: LiveServer) -> None:
    with admin(live_server) as http:
        pid = http.post("/projects", json={"name": "svc"}).json()["id"]
        made = [http.post(f"/projects/{pid}/service_accounts", json={"name": f"a{i}"}).json() for i in range(3)]
        page = http.get(f"/projects/{pid}/service_accounts", params={"limit": 2}).json()
        assert len(page["data"]) == 2 and page["has_more"] is True
        rest = http.get(f"/projects/{pid}/service_accounts", params={"after": page["last_id"]}).json()
        assert {a["id"] for a in page["data"] + rest["data"]} == {m["id"] for m in made}
        first = made[0]
        got = http.get(f"/projects/{pid}/service_accounts/{first['id']}").json()
        assert got == {k: v for k, v in first.items() if k != "api_key"}  # OpenAI's fields, then the key's limits

        deleted = http.delete(f"/projects/{pid}/service_accounts/{first['id']}").json()
        assert deleted == {"object": "organization.project.service_account.deleted", "id": first["id"], "deleted": True}
        with pytest.raises(openai.AuthenticationError):
            live_server.openai_client(api_key=first["api_key"]["value"]).files.list()
        assert http.get(f"/projects/{pid}/service_accounts/{first['id']}").status_code == 404
        assert len(http.get(f"/projects/{pid}/api_keys").json()["data"]) == 2
