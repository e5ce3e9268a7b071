"""The console's sign-in, sessions and their defences, over HTTP against a real server.

What a hostile page or tenant could try: a session cookie without the CSRF token, a form posted from
another origin, an open redirect through `next`, framing the console, a signed-out or expired session,
a revoked key. Each gets the refusal the API gives; the key never lands in a URL, a log or the store.
"""

from __future__ import annotations

import logging
import re

import httpx
import pytest
import sqlalchemy as sa

from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import ADMIN_KEY, LiveServer


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, page.text[:500]
    return match.group(1)


def signed_in(server: LiveServer, key: str = ADMIN_KEY) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=server.base_url, timeout=30)
    answer = http.post("/signin", data={"api_key": key, "next": "/account"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/account"
    return http, csrf_of(http.get("/account"))


def project_key(server: LiveServer) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    project = httpx.post(f"{server.v1}/organization/projects", json={"name": "p"}, headers=admin).json()
    account = httpx.post(
        f"{server.v1}/organization/projects/{project['id']}/service_accounts", json={"name": "a"}, headers=admin
    ).json()
    return account["api_key"]["id"], account["api_key"]["value"]


def test_a_page_without_a_session_redirects_to_sign_in_and_back(live_server: LiveServer) -> None:
    answer = httpx.get(live_server.base_url + "/account?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin?next=%2Faccount%3Fx%3D1&reason=")


def test_the_session_cookie_is_httponly_strict_and_the_store_keeps_only_its_hash(live_server: LiveServer) -> None:
    http = httpx.Client(base_url=live_server.base_url)
    answer = http.post("/signin", data={"api_key": ADMIN_KEY, "next": "/account"})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    token = http.cookies["openrft_session"]
    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(schema.console_sessions))]
    store.dispose()
    assert len(rows) == 1
    assert token not in repr(rows) and ADMIN_KEY not in repr(rows)


def test_a_wrong_key_gets_the_form_again_with_the_reason_and_no_cookie(live_server: LiveServer) -> None:
    answer = httpx.post(live_server.base_url + "/signin", data={"api_key": "sk-rft-wrong-000000000000"})
    assert answer.status_code == 401
    assert "Incorrect API key provided" in answer.text
    assert "set-cookie" not in answer.headers


def test_the_api_takes_the_cookie_only_with_the_csrf_token(live_server: LiveServer) -> None:
    http, csrf = signed_in(live_server)
    refused = http.get("/v1/fine_tuning/jobs")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_token_invalid"
    wrong = http.get("/v1/fine_tuning/jobs", headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    ok = http.get("/v1/fine_tuning/jobs", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["object"] == "list"


def test_a_form_posted_from_another_origin_is_refused(live_server: LiveServer) -> None:
    answer = httpx.post(
        live_server.base_url + "/signin",
        data={"api_key": ADMIN_KEY},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert "evil.example" in answer.text
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "jobs", "/\\evil.example"])
def test_next_never_leaves_the_site(live_server: LiveServer, target: str) -> None:
    answer = httpx.post(live_server.base_url + "/signin", data={"api_key": ADMIN_KEY, "next": target})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/jobs"


def test_every_console_answer_forbids_framing(live_server: LiveServer) -> None:
    http, _ = signed_in(live_server)
    for path in ("/signin", "/account", "/signin?reason=x"):
        headers = http.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"


def test_sign_out_needs_the_csrf_token_and_then_ends_the_session(live_server: LiveServer) -> None:
    http, csrf = signed_in(live_server)
    assert http.post("/signout", data={"csrf": "forged"}).status_code == 403
    assert http.get("/account").status_code == 200  # the forged sign-out changed nothing
    token = http.cookies["openrft_session"]
    out = http.post("/signout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"].startswith("/signin?reason=")
    replay = httpx.get(
        live_server.v1 + "/fine_tuning/jobs", cookies={"openrft_session": token}, headers={"X-CSRF-Token": csrf}
    )
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "session_expired"


def test_an_expired_session_is_refused_by_pages_and_the_api(live_server: LiveServer) -> None:
    http, csrf = signed_in(live_server)
    token = http.cookies["openrft_session"]
    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        conn.execute(schema.console_sessions.update().values(expires_at=1))
    store.dispose()
    page = http.get("/account")
    assert page.status_code == 303
    assert "expired" in page.headers["location"]
    api = httpx.get(
        live_server.v1 + "/fine_tuning/jobs", cookies={"openrft_session": token}, headers={"X-CSRF-Token": csrf}
    )
    assert api.status_code == 401 and api.json()["error"]["code"] == "session_expired"


def test_revoking_the_key_ends_its_sessions(live_server: LiveServer) -> None:
    key_id, secret = project_key(live_server)
    http, csrf = signed_in(live_server, secret)
    assert http.get("/v1/files", headers={"X-CSRF-Token": csrf}).status_code == 200
    project_id = http.get("/account").text.split("<code>")[2].split("</code>")[0]
    revoked = httpx.delete(
        f"{live_server.v1}/organization/projects/{project_id}/api_keys/{key_id}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert revoked.status_code == 200, revoked.text
    answer = http.get("/v1/files", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 401
    assert "revoked" in answer.json()["error"]["message"]


def test_the_key_is_in_no_url_and_no_log_line(live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http = httpx.Client(base_url=live_server.base_url, follow_redirects=True)
    final = http.post("/signin", data={"api_key": ADMIN_KEY, "next": "/account"})
    assert final.status_code == 200
    assert all(ADMIN_KEY not in str(r.url) for r in [*final.history, final])
    assert ADMIN_KEY not in caplog.text
    assert ADMIN_KEY not in final.text  # the page shows the key id, never the secret


def test_the_project_switcher_refuses_a_project_key_a_forged_token_and_a_gone_project(live_server: LiveServer) -> None:
    _, secret = project_key(live_server)
    http, csrf = signed_in(live_server, secret)
    own = http.post("/project", data={"project_id": "proj_default", "csrf": csrf})
    assert own.status_code == 403 and "admin key" in own.text
    admin, admin_csrf = signed_in(live_server)
    assert admin.post("/project", data={"project_id": "proj_default", "csrf": "forged"}).status_code == 403
    gone = admin.post("/project", data={"project_id": "proj_nope", "csrf": admin_csrf})
    assert gone.status_code == 404 and "No such project" in gone.text
    assert "openrft_project" not in admin.cookies
    switched = admin.post("/project", data={"project_id": "proj_default", "csrf": admin_csrf, "next": "//evil"})
    assert switched.status_code == 303 and switched.headers["location"] == "/jobs"
