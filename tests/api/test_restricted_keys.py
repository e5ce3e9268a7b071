"""Restricted keys against a live server: creation and the objects shown, validation, and enforcement.

Keys are made through the organization API (httpx: not in the openai SDK) and the CLI, then used through
the openai SDK and boto3 as a customer would. Enforcement (scopes, allowed models, rate limits) runs in
the request path (openrft.api.authz), on Bearer and SigV4 requests alike.
"""

from __future__ import annotations

import json
import time
from typing import Any

import botocore.exceptions
import httpx
import openai
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from openrft.auth.keys import FULL_ACCESS_POLICY_ARN
from openrft.cli.common import lambda_client
from openrft.cli.main import app
from openrft.functions.arn import account_id
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer
from tests.inference.tiny import TinyModels, tiny_dirs_fixture, tiny_fixture  # noqa: F401

INFERENCE_ONLY = "arn:aws:iam::aws:policy/OpenRFTInferenceOnly"
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "4",
    "operation": "eq",
}
RFT_METHOD: Any = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}


def admin(live_server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=live_server.v1 + "/organization",
        headers={"Authorization": f"Bearer {live_server.admin_key}"},
        timeout=30,
    )


def make_key(live_server: LiveServer, project_id: str = "proj_default", **extension: Any) -> dict[str, Any]:
    """A service account (and its key) with the given extension fields; the created object."""
    with admin(live_server) as http:
        response = http.post(f"/projects/{project_id}/service_accounts", json={"name": "bot", **extension})
    assert response.status_code == 200, response.text
    account: dict[str, Any] = response.json()
    return account


def sdk(live_server: LiveServer, account: dict[str, Any]) -> openai.OpenAI:
    return live_server.openai_client(account["api_key"]["value"])


def message_of(exc: openai.APIStatusError) -> str:
    """The error body's message (the SDK's `exc.message` prefixes "Error code: ...")."""
    assert isinstance(exc.body, dict)
    return str(exc.body["message"])


def attachments_of(live_server: LiveServer, principal_id: str) -> list[str]:
    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        rows = conn.execute(
            sa.select(schema.iam_attachments).where(schema.iam_attachments.c.principal_id == principal_id)
        ).all()
    store.dispose()
    assert {r.principal_type for r in rows} <= {"service_account"}
    return sorted(r.policy_arn for r in rows)


# -- creation and the objects shown ---------------------------------------------------------------------


def test_default_key_is_all_with_full_access(live_server: LiveServer) -> None:
    account = make_key(live_server)
    assert account["permissions"] == "all" and account["scopes"] is None and account["resources"] is None
    assert (account["allowed_models"], account["rpm_limit"], account["tpm_limit"], account["expires_at"]) == (
        None,
        None,
        None,
        None,
    )
    assert account["policy_arns"] == [FULL_ACCESS_POLICY_ARN]
    assert attachments_of(live_server, account["id"]) == [FULL_ACCESS_POLICY_ARN]
    # OpenAI's fields come first, ours after them.
    assert list(account)[:6] == ["object", "id", "name", "role", "created_at", "api_key"]


def test_restricted_key_is_stored_and_shown(live_server: LiveServer) -> None:
    before = now_s()
    account = make_key(
        live_server,
        permissions="restricted",
        resources={"models": "read", "model_capabilities": "write", "files": "none"},
        allowed_models=["ft:*", " tiny-llama ", "ft:*"],
        rpm_limit=60,
        tpm_limit=10_000,
        expires_in_s=3600,
        policy_arns=[INFERENCE_ONLY, INFERENCE_ONLY],
    )
    assert account["permissions"] == "restricted"
    assert account["scopes"] == ["api.model.read", "api.model.request"]
    assert account["resources"] == {"models": "read", "model_capabilities": "write", "files": "none"}
    assert account["allowed_models"] == ["ft:*", "tiny-llama"]  # stripped, each once
    assert (account["rpm_limit"], account["tpm_limit"]) == (60, 10_000)
    assert before + 3600 <= account["expires_at"] <= now_s() + 3600
    assert account["policy_arns"] == [INFERENCE_ONLY]
    assert attachments_of(live_server, account["id"]) == [INFERENCE_ONLY]
    shown = {k: account[k] for k in ("permissions", "scopes", "resources", "allowed_models", "expires_at")}
    shown |= {"rpm_limit": 60, "tpm_limit": 10_000, "policy_arns": [INFERENCE_ONLY]}

    key_id = account["api_key"]["id"]
    with admin(live_server) as http:
        retrieved = http.get(f"/projects/proj_default/service_accounts/{account['id']}").json()
        listed = http.get("/projects/proj_default/service_accounts").json()["data"]
        key = http.get(f"/projects/proj_default/api_keys/{key_id}").json()
        keys = http.get("/projects/proj_default/api_keys").json()["data"]
    assert {k: retrieved[k] for k in shown} == shown
    assert {k: next(a for a in listed if a["id"] == account["id"])[k] for k in shown} == shown
    assert {k: key[k] for k in shown} == shown
    assert {k: next(k2 for k2 in keys if k2["id"] == key_id)[k] for k in shown} == shown
    assert key["owner"]["type"] == "service_account" and "value" not in key

    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        row = conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.id == key_id)).one()
    store.dispose()
    assert row.permissions == {
        "mode": "restricted",
        "scopes": ["api.model.read", "api.model.request"],
        "resources": {"models": "read", "model_capabilities": "write", "files": "none"},
    }


def test_read_only_and_explicit_expiry(live_server: LiveServer) -> None:
    at = now_s() + 86_400
    account = make_key(live_server, permissions="read_only", expires_at=at, policy_arns=[])
    assert account["scopes"] == ["api.all.read"] and account["resources"] is None
    assert account["expires_at"] == at and account["policy_arns"] == []
    assert attachments_of(live_server, account["id"]) == []


def test_customer_managed_policy_of_the_project(live_server: LiveServer) -> None:
    arn = f"arn:aws:iam::{account_id('proj_default')}:policy/team/InvokeOnly"
    store = Store.from_settings(live_server.settings)
    with store.begin() as conn:
        conn.execute(
            schema.iam_policies.insert().values(
                id="ANPATEST0000000000001",
                project_id="proj_default",
                name="InvokeOnly",
                path="/team/",
                arn=arn,
                document={"Version": "2012-10-17", "Statement": []},
                created_at=now_s(),
                updated_at=now_s(),
            )
        )
    store.dispose()
    account = make_key(live_server, policy_arns=[arn, FULL_ACCESS_POLICY_ARN])
    assert account["policy_arns"] == [arn, FULL_ACCESS_POLICY_ARN]
    assert attachments_of(live_server, account["id"]) == sorted([arn, FULL_ACCESS_POLICY_ARN])


def test_deleting_a_key_or_its_account_detaches_its_policies(live_server: LiveServer) -> None:
    by_account = make_key(live_server, policy_arns=[INFERENCE_ONLY])
    by_key = make_key(live_server, policy_arns=[INFERENCE_ONLY])
    with admin(live_server) as http:
        assert http.delete(f"/projects/proj_default/service_accounts/{by_account['id']}").status_code == 200
        assert http.delete(f"/projects/proj_default/api_keys/{by_key['api_key']['id']}").status_code == 200
    assert attachments_of(live_server, by_account["id"]) == []
    assert attachments_of(live_server, by_key["id"]) == []


# -- validation: 400 in OpenAI's shape naming the field, nothing created -------------------------------

OTHER_ACCOUNT_ARN = "arn:aws:iam::000000000000:policy/Elsewhere"


@pytest.mark.parametrize(
    ("extension", "param"),
    [
        ({"permissions": "everything"}, "permissions"),
        ({"permissions": "restricted", "resources": {"modelz": "read"}}, "resources.modelz"),
        ({"permissions": "restricted", "resources": {"models": "admin"}}, "resources.models"),
        ({"permissions": "restricted", "resources": {"audit": "write"}}, "resources.audit"),
        ({"permissions": "restricted", "resources": {"models": 3}}, "resources.models"),
        ({"permissions": "all", "resources": {"models": "read"}}, "resources"),
        ({"allowed_models": []}, "allowed_models"),
        ({"allowed_models": ["ft:*", "  "]}, "allowed_models.1"),
        ({"allowed_models": "ft:*"}, "allowed_models"),
        ({"rpm_limit": 0}, "rpm_limit"),
        ({"tpm_limit": -5}, "tpm_limit"),
        ({"rpm_limit": 10**12}, "rpm_limit"),
        ({"expires_in_s": 0}, "expires_in_s"),
        ({"expires_at": 1_000_000}, "expires_at"),  # 1970
        ({"expires_at": 10**15}, "expires_at"),
        ({"expires_at": 4_000_000_000, "expires_in_s": 60}, "expires_in_s"),
        ({"policy_arns": ["OpenRFTFullAccess"]}, "policy_arns.0"),
        ({"policy_arns": ["arn:aws:iam::aws:policy/NoSuchPolicy"]}, "policy_arns.0"),
        ({"policy_arns": [FULL_ACCESS_POLICY_ARN, OTHER_ACCOUNT_ARN]}, "policy_arns.1"),
        ({"policy_arns": ["arn:aws:iam::{account}:policy/Missing"]}, "policy_arns.0"),
        ({"policy_arns": FULL_ACCESS_POLICY_ARN}, "policy_arns"),
    ],
)
def test_bad_extension_fields_are_400_naming_the_field(
    live_server: LiveServer, extension: dict[str, Any], param: str
) -> None:
    body = json.loads(json.dumps(extension).replace("{account}", account_id("proj_default")))
    with admin(live_server) as http:
        before = http.get("/projects/proj_default/api_keys").json()["data"]
        response = http.post("/projects/proj_default/service_accounts", json={"name": "bot", **body})
        after = http.get("/projects/proj_default/api_keys").json()["data"]
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error" and error["message"]
    assert after == before


# -- the CLI ----------------------------------------------------------------------------------------------


def test_cli_keys_create_restricted(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENRFT_BASE_URL", "OPENRFT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    base = ["--base-url", live_server.base_url, "--api-key", live_server.admin_key, "keys", "create"]
    args = [
        *("--project", "proj_default", "--name", "app"),
        *("--resource", "models=read", "--resource", "model_capabilities=write"),
        *("--allowed-model", "ft:*", "--rpm", "60", "--tpm", "10000", "--expires-in", "30d"),
        *("--policy", INFERENCE_ONLY),
    ]
    result = runner.invoke(app, [*base, *args, "--json"])
    assert result.exit_code == 0, result.output
    account = json.loads(result.stdout)
    assert account["permissions"] == "restricted"  # implied by --resource
    assert account["scopes"] == ["api.model.read", "api.model.request"]
    assert account["allowed_models"] == ["ft:*"] and (account["rpm_limit"], account["tpm_limit"]) == (60, 10_000)
    assert abs(account["expires_at"] - (now_s() + 30 * 86_400)) <= 5
    assert account["policy_arns"] == [INFERENCE_ONLY]

    human = runner.invoke(app, [*base, "proj_default", "--name", "ro", "--permissions", "read_only"])
    assert human.exit_code == 0, human.output
    assert "permissions read_only; scopes api.all.read" in human.stdout
    assert any(line.startswith("sk-rft-") for line in human.stdout.splitlines())

    bad = runner.invoke(app, [*base, "proj_default", "--name", "x", "--resource", "modelz=read"])
    assert bad.exit_code == 1 and "modelz" in bad.output
    assert runner.invoke(app, [*base, "proj_default", "--name", "x", "--expires-in", "soon"]).exit_code == 2
    assert runner.invoke(app, [*base, "--name", "x"]).exit_code == 2  # no project
    listing = ["--base-url", live_server.base_url, "--api-key", live_server.admin_key, "keys", "list", "proj_default"]
    listed = runner.invoke(app, [*listing, "--json"])
    assert listed.exit_code == 0, listed.output
    assert {k["name"]: k["permissions"] for k in json.loads(listed.stdout)} == {
        "OPENRFT_ADMIN_KEY": "all",
        "app": "restricted",
        "ro": "read_only",
    }
    assert runner.invoke(app, listing).exit_code == 0  # the table, with its permissions and expires columns


# -- enforcement through the SDKs -------------------------------------------------------------------------


def test_expired_key_is_refused(live_server: LiveServer) -> None:
    account = make_key(live_server, expires_in_s=2)
    client = sdk(live_server, account)
    client.models.list()
    while now_s() < account["expires_at"]:
        time.sleep(0.1)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "expired_api_key" and account["api_key"]["id"] in message_of(caught.value)


def test_read_only_key_reads_but_cannot_create_a_job(live_server: LiveServer) -> None:
    client = sdk(live_server, make_key(live_server, permissions="read_only"))
    client.models.list()
    client.files.list()
    client.fine_tuning.jobs.list()
    with pytest.raises(openai.AuthenticationError) as caught:
        client.fine_tuning.jobs.create(model="tiny-llama", training_file="file-nope", method=RFT_METHOD)
    assert caught.value.status_code == 401
    assert message_of(caught.value).startswith(
        "You have insufficient permissions for this operation. Missing scopes: api.fine_tuning.jobs.write."
    )
    assert caught.value.type == "invalid_request_error"


def test_inference_only_key_chats_but_cannot_list_files(live_server: LiveServer, tiny: TinyModels) -> None:
    account = make_key(live_server, permissions="restricted", resources={"model_capabilities": "write"})
    client = sdk(live_server, account)
    out = client.chat.completions.create(
        model=tiny.base, messages=[{"role": "user", "content": "hello"}], max_tokens=3, temperature=0
    )
    assert out.choices[0].message.content is not None
    with pytest.raises(openai.AuthenticationError) as caught:
        client.files.list()
    assert "Missing scopes: api.files.read." in message_of(caught.value)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()  # model_capabilities is not models: listing needs api.model.read
    assert "Missing scopes: api.model.read." in message_of(caught.value)


def test_allowed_models_limit_which_model_a_key_calls(live_server: LiveServer, tiny: TinyModels) -> None:
    account = make_key(live_server, allowed_models=["ft:tiny-llama:*"])
    client = sdk(live_server, account)
    client.chat.completions.create(model=tiny.fine_tuned, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=tiny.base, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    assert caught.value.status_code == 403 and caught.value.code == "model_not_allowed"
    assert caught.value.param == "model"


def test_third_request_over_rpm_2_is_429_with_headers(live_server: LiveServer) -> None:
    client = sdk(live_server, make_key(live_server, rpm_limit=2))
    client.models.list()
    client.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    response = caught.value.response
    assert response.status_code == 429 and caught.value.code == "rate_limit_exceeded"
    assert message_of(caught.value).startswith("Rate limit reached for requests per minute (RPM) on key key_")
    assert "Limit 2, Used 2, Requested 1." in message_of(caught.value)
    headers = response.headers
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    # Refill at 2 a minute: the next request in at most 30 s, a full bucket in at most a minute.
    assert 1 <= int(headers["retry-after"]) <= 30
    assert 0 < int(headers["retry-after-ms"]) <= 30_000
    assert headers["x-ratelimit-reset-requests"].endswith("s")


def test_admitted_requests_carry_the_ratelimit_headers(live_server: LiveServer) -> None:
    client = sdk(live_server, make_key(live_server, rpm_limit=2, tpm_limit=1000))
    headers = client.models.with_raw_response.list().headers
    assert headers["x-ratelimit-limit-requests"] == "2" and headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-limit-tokens"] == "1000" and headers["x-ratelimit-remaining-tokens"] == "1000"
    assert headers["x-ratelimit-reset-tokens"] == "0s" and "retry-after" not in headers


def test_tokens_per_minute_are_charged_with_usage(live_server: LiveServer, tiny: TinyModels) -> None:
    client = sdk(live_server, make_key(live_server, tpm_limit=20))
    out = client.chat.completions.create(
        model=tiny.base, messages=[{"role": "user", "content": "hello world"}], max_tokens=8, temperature=0
    )
    assert out.usage is not None and out.usage.total_tokens > 20  # the prompt alone is over 10 tokens
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    assert "tokens per minute (TPM)" in message_of(caught.value)
    assert caught.value.response.headers["x-ratelimit-limit-tokens"] == "20"
    assert caught.value.response.headers["x-ratelimit-remaining-tokens"] == "0"


def test_sigv4_key_is_held_to_its_scopes(live_server: LiveServer) -> None:
    account = make_key(live_server, permissions="read_only")
    aws = lambda_client(
        live_server.base_url, account["api_key"]["id"], account["api_key"]["value"], read_timeout_s=30, max_attempts=1
    )
    assert aws.list_functions()["Functions"] == []
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        aws.invoke(FunctionName="anything", Payload=b"{}")
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDeniedException" and "api.functions.invoke" in error["Message"]
