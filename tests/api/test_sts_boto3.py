"""Contract tests of STS through the real boto3 `sts` client: AssumeRole, temporary credentials, GetCallerIdentity.

The credentials AssumeRole returns are used as AWS users use them: a boto3 client built with
aws_session_token (SigV4 with X-Amz-Security-Token), and the session token alone as a Bearer key (the
openai SDK inside a function). Sessions end by expiry, revocation and the role's deletion.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import httpx
import openai
import pytest
import sqlalchemy as sa

from openrft.auth import sts
from openrft.context import build_context
from openrft.errors import AccessDenied
from openrft.functions.arn import account_id, function_arn
from openrft.settings import Settings
from openrft.store import schema
from tests.api import aws_clients
from tests.api.aws_clients import admin_headers, client, credentials_client, error_of, restrict, service_account_key
from tests.api.test_lambda_api import HANDLER, make_zip
from tests.conftest import LiveServer

ACCOUNT = account_id("proj_default")


def trust(principal: Any) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


FOREIGN_ROLE = "arn:aws:iam::123456789012:role/any"  # another account's: names no openrft role
ACCOUNT_TRUST = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
INVOKE_ONE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OneFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function_arn("proj_default", "allowed"),
        },
        {"Sid": "ListFiles", "Effect": "Allow", "Action": "files:ListFiles", "Resource": "*"},
    ],
}


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    yield from aws_clients.serve(settings, monkeypatch)


@pytest.fixture
def iam(server: LiveServer) -> Any:
    return client("iam", server)


@pytest.fixture
def role_arn(iam: Any) -> str:
    """A role any principal of the account may assume (with an identity policy allowing it), allowed one function."""
    arn: str = iam.create_role(RoleName="invoker", AssumeRolePolicyDocument=ACCOUNT_TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName="invoker", PolicyName="one-function", PolicyDocument=json.dumps(INVOKE_ONE))
    return arn


def assume(server: LiveServer, role_arn: str, key: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    caller = client("sts", server, key["id"], key["value"]) if key else client("sts", server)
    out: dict[str, Any] = caller.assume_role(RoleArn=role_arn, RoleSessionName=kw.pop("name", "rft-run"), **kw)
    return out


def test_caller_identity_of_keys(server: LiveServer) -> None:
    admin = client("sts", server).get_caller_identity()
    assert (admin["Account"], admin["Arn"], admin["UserId"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    key = service_account_key(server)
    mine = client("sts", server, key["id"], key["value"]).get_caller_identity()
    account = key["service_account_id"]
    assert (mine["Account"], mine["Arn"], mine["UserId"]) == (
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:user/{account}",
        account,
    )


def test_assume_role_and_use_the_credentials(server: LiveServer, role_arn: str) -> None:
    key = service_account_key(server)  # OpenRFTFullAccess: its identity policy allows sts:AssumeRole
    before = int(time.time())
    out = assume(server, role_arn, key, DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    assert before + 900 - 5 <= creds["Expiration"].timestamp() <= before + 900 + 5
    role_id = client("iam", server).get_role(RoleName="invoker")["Role"]["RoleId"]
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/invoker/rft-run"
    assert out["AssumedRoleUser"] == {"AssumedRoleId": f"{role_id}:rft-run", "Arn": session_arn}
    who = credentials_client("sts", server, creds).get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (ACCOUNT, session_arn, f"{role_id}:rft-run")
    # The session token alone is a Bearer key for the OpenAI surface (the openai SDK in a reward function).
    files = openai.OpenAI(base_url=server.v1, api_key=creds["SessionToken"], max_retries=0).files.list()
    assert files.data == []
    # A wrong token with the right key id is an unknown client, not a hint that the key exists.
    forged = {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        credentials_client("sts", server, forged).get_caller_identity()
    assert error_of(err.value)[:2] == ("InvalidClientTokenId", 403)
    no_token = client("sts", server, creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as err:
        no_token.get_caller_identity()
    assert error_of(err.value)[:2] == ("InvalidClientTokenId", 403)


def test_lambda_with_the_session_gets_exactly_the_roles_rights(server: LiveServer, role_arn: str) -> None:
    admin = client("lambda", server)
    for name in ("allowed", "other"):  # functions without an execution role: the session is the caller here
        admin.create_function(
            FunctionName=name, Runtime="python3.12", Role=FOREIGN_ROLE, Handler=HANDLER, Code={"ZipFile": make_zip()}
        )
    session = credentials_client("lambda", server, assume(server, role_arn)["Credentials"])
    with pytest.raises(botocore.exceptions.ClientError):  # its role grants one invoke, not a listing
        session.list_functions()
    out = session.invoke(FunctionName="allowed", Payload=json.dumps({"x": 1}))
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read())["echo"] == {"x": 1}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        session.invoke(FunctionName="other", InvocationType="DryRun")
    code, status, message = error_of(err.value)
    assert (code, status) == ("AccessDeniedException", 403)
    other = function_arn("proj_default", "other")
    assert f"rft-run is not authorized to perform: lambda:InvokeFunction on resource: {other}" in message
    with pytest.raises(botocore.exceptions.ClientError):
        session.delete_function(FunctionName="allowed")


def test_who_may_assume(server: LiveServer, iam: Any) -> None:
    key = service_account_key(server, "narrow")
    restrict(server, key["service_account_id"], "arn:aws:iam::aws:policy/OpenRFTInferenceOnly")  # no sts:AssumeRole
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{key['service_account_id']}"
    lambda_only = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    account = iam.create_role(RoleName="account", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    named = iam.create_role(RoleName="named", AssumeRolePolicyDocument=trust({"AWS": user_arn}))
    denied = iam.create_role(
        RoleName="denied",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"},
                    {"Sid": "NotThisOne", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"},
                ],
            }
        ),
    )
    unknown = f"arn:aws:iam::{ACCOUNT}:role/never-made"
    for role in (lambda_only["Role"]["Arn"], account["Role"]["Arn"], denied["Role"]["Arn"], unknown):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            assume(server, role, key)
        code, status, message = error_of(err.value)
        assert (code, status) == ("AccessDenied", 403), role
        assert f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role}" in message
    # A trust policy that names the caller itself is enough, without an identity policy (AWS, same account).
    assert assume(server, named["Role"]["Arn"], key)["AssumedRoleUser"]["Arn"].endswith("assumed-role/named/rft-run")
    # The admin key may assume what trusts the account, not what trusts only a service.
    assert assume(server, account["Role"]["Arn"])["Credentials"]["AccessKeyId"].startswith("ASIA")
    with pytest.raises(botocore.exceptions.ClientError):
        assume(server, lambda_only["Role"]["Arn"])


def test_duration_and_parameters(server: LiveServer, role_arn: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:  # the role's MaxSessionDuration: 3600 by default
        assume(server, role_arn, DurationSeconds=3601)
    assert error_of(err.value)[:2] == ("ValidationError", 400)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        assume(server, role_arn, Policy=json.dumps(INVOKE_ONE))  # session policies: not implemented, so refused
    code, status, message = error_of(err.value)
    assert (code, status, message) == ("ValidationError", 400, "Policy is not supported by openrft.")
    long_arn = client("iam", server).create_role(
        RoleName="long", AssumeRolePolicyDocument=ACCOUNT_TRUST, MaxSessionDuration=7200
    )["Role"]["Arn"]
    assert assume(server, long_arn, DurationSeconds=7200)["Credentials"]["AccessKeyId"].startswith("ASIA")
    chained = credentials_client("sts", server, assume(server, role_arn)["Credentials"])
    with pytest.raises(botocore.exceptions.ClientError) as err:  # role chaining: a session lasts at most an hour
        chained.assume_role(RoleArn=long_arn, RoleSessionName="chained", DurationSeconds=7200)
    assert error_of(err.value)[:2] == ("ValidationError", 400) and "role chaining" in error_of(err.value)[2]


def expire(settings: Settings, access_key_id: str) -> None:
    ctx = build_context(settings)
    with ctx.store.begin() as conn:
        conn.execute(
            schema.sts_sessions.update()
            .where(schema.sts_sessions.c.access_key_id == access_key_id)
            .values(expires_at=int(time.time()) - 1)
        )
    ctx.store.dispose()


def expired(call: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    assert error_of(err.value) == ("ExpiredToken", 403, "The security token included in the request is expired")


def test_expired_revoked_and_deleted_sessions_are_refused(server: LiveServer, iam: Any, role_arn: str) -> None:
    first, second, third = (assume(server, role_arn, name=f"s{i}")["Credentials"] for i in range(3))
    expire(server.settings, first["AccessKeyId"])
    expired(credentials_client("sts", server, first).get_caller_identity)
    bearer = httpx.get(f"{server.v1}/files", headers={"Authorization": f"Bearer {first['SessionToken']}"})
    assert bearer.status_code == 401 and bearer.json()["error"]["code"] == "ExpiredToken"
    assert credentials_client("sts", server, second).get_caller_identity()["Arn"].endswith("/s1")
    url = f"{server.v1}/organization/projects/proj_default/roles/invoker/sessions"
    assert httpx.delete(url, headers=admin_headers(server)).json()["revoked"] == 2
    expired(credentials_client("sts", server, second).get_caller_identity)
    expired(credentials_client("sts", server, third).get_caller_identity)
    fresh = assume(server, role_arn, name="after")["Credentials"]
    iam.delete_role_policy(RoleName="invoker", PolicyName="one-function")
    iam.delete_role(RoleName="invoker")
    expired(credentials_client("sts", server, fresh).get_caller_identity)
    iam.create_role(RoleName="invoker", AssumeRolePolicyDocument=ACCOUNT_TRUST)  # same name, another role
    expired(credentials_client("sts", server, fresh).get_caller_identity)


def test_execution_role_credentials_for_a_service(server: LiveServer, iam: Any) -> None:
    """What the sandbox hands a function whose Role trusts lambda.amazonaws.com (openrft.auth.sts)."""
    exec_arn = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    other_arn = iam.create_role(RoleName="other", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    ctx = build_context(server.settings)
    try:
        creds = sts.issue_for_service(
            ctx.store, ctx.cipher, project_id="proj_default", role_arn=exec_arn["Role"]["Arn"], session_name="reward"
        )
        assert 895 <= creds.expiration - time.time() <= 905
        with pytest.raises(AccessDenied, match="cannot be assumed by Lambda"):
            sts.issue_for_service(
                ctx.store, ctx.cipher, project_id="proj_default", role_arn=other_arn["Role"]["Arn"], session_name="x"
            )
        with pytest.raises(AccessDenied):  # another project's function cannot use this project's role
            sts.issue_for_service(
                ctx.store, ctx.cipher, project_id="proj_other", role_arn=exec_arn["Role"]["Arn"], session_name="x"
            )
        with ctx.store.begin() as conn:
            source = conn.execute(
                sa.select(schema.sts_sessions.c.source).where(
                    schema.sts_sessions.c.access_key_id == creds.access_key_id
                )
            ).scalar_one()
        assert source == "lambda.amazonaws.com"
    finally:
        ctx.store.dispose()
    session = client("sts", server, creds.access_key_id, creds.secret_access_key, creds.session_token)
    assert session.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/exec/reward"


def test_sessions_that_ended_a_day_ago_are_swept(server: LiveServer, role_arn: str) -> None:
    import sqlalchemy as sa

    from openrft.auth.sts import sweep_sessions
    from openrft.store import schema
    from openrft.store.db import Store

    live = assume(server, role_arn)["Credentials"]["AccessKeyId"]
    old = assume(server, role_arn, name="old")["Credentials"]["AccessKeyId"]
    store = Store(server.settings.db_url)
    try:
        with store.begin() as conn:
            table = schema.sts_sessions
            conn.execute(table.update().where(table.c.access_key_id == old).values(expires_at=1000))
        assert sweep_sessions(store) == 1
        with store.begin() as conn:
            left = {r.access_key_id for r in conn.execute(sa.select(schema.sts_sessions.c.access_key_id))}
        assert live in left and old not in left
    finally:
        store.dispose()
