"""Every endpoint is one action on one resource, and nothing is reachable without a decision.

The app refuses to build with a route the table does not name; these tests also drive every route with
a key that holds no policy at all (each must refuse it, naming the route's action) and without any
credentials (401), and check the decisions land in the audit trail.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from openrft.api import authz
from openrft.api.app import create_app
from openrft.settings import Settings
from tests.api.access import allow, make_key
from tests.conftest import LiveServer

CONSOLE_PAGES = re.compile(r"^(GET|POST) /(?!v1/|2015-03-31/)")


def api_rules() -> list[tuple[str, str, authz.Rule]]:
    """(method, path, rule) of every API route that has a rule (the console's pages aside)."""
    out = []
    for key, rule in authz.RULES.items():
        if isinstance(rule, authz.Rule) and not CONSOLE_PAGES.match(key):
            method, path = key.split(" ", 1)
            out.append((method, path, rule))
    return out


def concrete(path: str) -> str:
    """A path template with its parameters filled (`{model_id:path}` -> `m-1`)."""
    return re.sub(r"\{([a-z_]+)(:path)?\}", lambda m: f"{m.group(1).split('_')[0]}-1", path)


def test_every_route_has_one_rule_and_every_rule_a_route(settings: Settings) -> None:
    app = create_app(settings, embedded_worker=False)
    routes = {f"{m} {p}" for m, p, _ in authz.iter_routes(app) if m != "HEAD"}
    assert routes == set(authz.RULES)
    actions = {r.action for r in authz.RULES.values() if isinstance(r, authz.Rule)}
    assert {"lambda:InvokeFunction", "models:InvokeModel", "fine_tuning:CreateJob", "audit:ListAuditLogs"} <= actions


def test_an_unlisted_route_stops_the_app_from_building(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(authz.RULES, "GET /v1/files/{file_id}")
    with pytest.raises(Exception, match=r"GET /v1/files/\{file_id\} has no authorization rule"):
        create_app(settings, embedded_worker=False)


def _call(server: LiveServer, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body: Any = {"model": "m-1"} if method in ("POST", "PUT") else None
    return httpx.request(method, server.base_url + concrete(path), headers=headers, json=body, timeout=30)


def test_a_key_without_policies_is_refused_on_every_route(live_server: LiveServer) -> None:
    key = make_key(live_server)  # no policy attached: AWS's implicit deny everywhere
    headers = {"Authorization": f"Bearer {key.secret}"}
    for method, path, rule in api_rules():
        reply = _call(live_server, method, path, headers)
        assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
        text = reply.text
        if rule.admin_only:
            assert "admin key" in text, (method, path, text)
        else:
            assert f"is not authorized to perform: {rule.action}" in text, (method, path, text)
            assert key.service_account_id in text, text
        if path.startswith("/2015-03-31/"):  # AWS's shape on the Lambda surface
            assert reply.headers["x-amzn-ErrorType"] == "AccessDeniedException", (path, reply.headers)


def test_no_credentials_is_401_on_every_route(live_server: LiveServer) -> None:
    for method, path, _rule in api_rules():
        reply = _call(live_server, method, path, {})
        assert reply.status_code == 401, (method, path, reply.status_code, reply.text)


def test_the_refusal_names_the_resource_and_a_narrow_grant_opens_exactly_it(live_server: LiveServer) -> None:
    import openai

    files_arn = "arn:openrft:files:us-east-1:*:file/*"
    key = make_key(live_server, allow("files:ListFiles", files_arn))
    client = live_server.openai_client(key.secret)
    assert client.files.list().data == []
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.models.list()
    message = str(err.value.body.get("message"))  # type: ignore[union-attr]
    assert "models:ListModels on resource: arn:openrft:models:us-east-1:" in message
    assert "because no identity-based policy allows the models:ListModels action" in message


def test_explicit_deny_wins_over_full_access(live_server: LiveServer) -> None:
    import openai

    key = make_key(
        live_server,
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "files:Delete*", "Resource": "*"},
        managed=("OpenRFTFullAccess",),
    )
    client = live_server.openai_client(key.secret)
    uploaded = client.files.create(
        file=("a.jsonl", b'{"messages": [{"role": "user", "content": "x"}]}\n'), purpose="evals"
    )
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.files.delete(uploaded.id)
    assert "explicit deny" in str(err.value) and "NoDeletes" in str(err.value)
    assert client.files.retrieve(uploaded.id).id == uploaded.id
