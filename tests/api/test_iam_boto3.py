"""Contract tests of IAM through the real boto3 `iam` client on a live server, plus the organization API and CLI.

Every call is the one a user of AWS makes, with only endpoint_url (and openrft credentials) added; the
replies are parsed by botocore from its own service model, so a field or an error code out of shape
fails here as it would for a user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from openrft.cli.common import make_config
from openrft.cli.iam import policies_app, roles_app
from openrft.context import build_context
from openrft.functions.arn import account_id
from openrft.settings import Settings
from openrft.store import schema
from tests.api import aws_clients
from tests.api.aws_clients import admin_headers, client, error_of, restrict, service_account_key
from tests.conftest import LiveServer

ACCOUNT = account_id("proj_default")
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
INVOKE_ANY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Invoke", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}],
}
FILES_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["files:GetFile", "files:ListFiles"], "Resource": "*"}],
}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    yield from aws_clients.serve(settings, monkeypatch)


@pytest.fixture
def iam(server: LiveServer) -> Any:
    return client("iam", server)


def make_role(iam: Any, name: str = "reward-exec", **kw: Any) -> dict[str, Any]:
    role: dict[str, Any] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST), **kw)
    return role["Role"]


def test_role_lifecycle(iam: Any) -> None:
    role = make_role(iam, Description="runs the reward function", Path="/rft/", MaxSessionDuration=7200)
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/rft/reward-exec"
    assert (role["RoleName"], role["Path"], role["MaxSessionDuration"]) == ("reward-exec", "/rft/", 7200)
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST  # URL-encoded JSON on the wire, decoded by botocore
    assert role["Description"] == "runs the reward function"
    got = iam.get_role(RoleName="reward-exec")["Role"]
    assert {k: got[k] for k in role} == role
    make_role(iam, "another")
    listed = iam.list_roles()
    assert [r["RoleName"] for r in listed["Roles"]] == ["another", "reward-exec"] and not listed["IsTruncated"]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/rft/")["Roles"]] == ["reward-exec"]
    bedrock = {
        **LAMBDA_TRUST,
        "Statement": [{**LAMBDA_TRUST["Statement"][0], "Principal": {"Service": "bedrock.amazonaws.com"}}],
    }
    iam.update_assume_role_policy(RoleName="reward-exec", PolicyDocument=json.dumps(bedrock))
    assert iam.get_role(RoleName="reward-exec")["Role"]["AssumeRolePolicyDocument"] == bedrock
    iam.delete_role(RoleName="reward-exec")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as err:
        iam.get_role(RoleName="reward-exec")
    assert error_of(err.value) == ("NoSuchEntity", 404, "The role with name reward-exec cannot be found.")


def test_inline_policies(iam: Any) -> None:
    make_role(iam)
    iam.put_role_policy(RoleName="reward-exec", PolicyName="invoke", PolicyDocument=json.dumps(INVOKE_ANY))
    iam.put_role_policy(RoleName="reward-exec", PolicyName="files", PolicyDocument=json.dumps(INVOKE_ANY))
    iam.put_role_policy(RoleName="reward-exec", PolicyName="files", PolicyDocument=json.dumps(FILES_READ))  # replaces
    got = iam.get_role_policy(RoleName="reward-exec", PolicyName="files")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == ("reward-exec", "files", FILES_READ)
    assert iam.list_role_policies(RoleName="reward-exec")["PolicyNames"] == ["files", "invoke"]
    iam.delete_role_policy(RoleName="reward-exec", PolicyName="files")
    assert iam.list_role_policies(RoleName="reward-exec")["PolicyNames"] == ["invoke"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role_policy(RoleName="reward-exec", PolicyName="files")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_role_policy(RoleName="reward-exec", PolicyName="files")


def test_managed_policies_and_attachments(iam: Any) -> None:
    make_role(iam)
    created = iam.create_policy(
        PolicyName="read-files", PolicyDocument=json.dumps(FILES_READ), Description="files, read only"
    )["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/read-files"
    assert (created["Arn"], created["DefaultVersionId"], created["AttachmentCount"]) == (arn, "v1", 0)
    assert created["PolicyId"].startswith("ANPA") and created["IsAttachable"] is True
    iam.attach_role_policy(RoleName="reward-exec", PolicyArn=arn)
    iam.attach_role_policy(RoleName="reward-exec", PolicyArn=BASIC_EXECUTION)
    iam.attach_role_policy(RoleName="reward-exec", PolicyArn=arn)  # attaching twice is one attachment
    attached = iam.list_attached_role_policies(RoleName="reward-exec")["AttachedPolicies"]
    assert attached == [  # in ARN order: the account's digits sort before "aws"
        {"PolicyName": "read-files", "PolicyArn": arn},
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC_EXECUTION},
    ]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert (version["Document"], version["VersionId"], version["IsDefaultVersion"]) == (FILES_READ, "v1", True)
    aws = iam.get_policy_version(PolicyArn=BASIC_EXECUTION, VersionId="v1")["PolicyVersion"]["Document"]
    assert aws["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == [arn]
    aws_arns = {p["Arn"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {BASIC_EXECUTION, "arn:aws:iam::aws:policy/OpenRFTFullAccess"} <= aws_arns and arn not in aws_arns
    only = {p["Arn"] for p in iam.list_policies(OnlyAttached=True)["Policies"]}
    assert {arn, BASIC_EXECUTION} <= only
    with pytest.raises(iam.exceptions.DeleteConflictException) as err:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(err.value)[:2] == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName="reward-exec", PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.detach_role_policy(RoleName="reward-exec", PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy_version(PolicyArn=BASIC_EXECUTION, VersionId="v2")


def test_delete_conflict_until_the_role_has_no_policies(iam: Any) -> None:
    make_role(iam)
    iam.put_role_policy(RoleName="reward-exec", PolicyName="invoke", PolicyDocument=json.dumps(INVOKE_ANY))
    iam.attach_role_policy(RoleName="reward-exec", PolicyArn=BASIC_EXECUTION)
    with pytest.raises(iam.exceptions.DeleteConflictException) as err:
        iam.delete_role(RoleName="reward-exec")
    assert error_of(err.value) == ("DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName="reward-exec", PolicyName="invoke")
    with pytest.raises(iam.exceptions.DeleteConflictException) as err:
        iam.delete_role(RoleName="reward-exec")
    assert "detach all policies" in error_of(err.value)[2]
    iam.detach_role_policy(RoleName="reward-exec", PolicyArn=BASIC_EXECUTION)
    iam.delete_role(RoleName="reward-exec")
    assert iam.list_roles()["Roles"] == []


@pytest.mark.parametrize(
    ("document", "element"),
    [
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "x:y", "Resource": "*"}]},
            "Statement[0].Effect",
        ),
        (
            {"Version": "2012-10-17", "Statement": [INVOKE_ANY["Statement"][0], {"Effect": "Allow", "Action": "x:y"}]},
            "Statement[1]",
        ),
        ({"Version": "2012-10-17", "Statement": [{**INVOKE_ANY["Statement"][0], "Principal": "*"}]}, "Principal"),
        ({"Version": "2013-01-01", "Statement": INVOKE_ANY["Statement"]}, "Version"),
    ],
)
def test_malformed_permissions_policy_names_the_element(iam: Any, document: dict[str, Any], element: str) -> None:
    make_role(iam)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as err:
        iam.put_role_policy(RoleName="reward-exec", PolicyName="bad", PolicyDocument=json.dumps(document))
    code, status, message = error_of(err.value)
    assert (code, status) == ("MalformedPolicyDocument", 400) and element in message, message
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_policy(PolicyName="bad", PolicyDocument=json.dumps(document))
    assert iam.list_role_policies(RoleName="reward-exec")["PolicyNames"] == []


def test_other_errors(iam: Any) -> None:
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName="r", AssumeRolePolicyDocument="{not json")
    identity_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as err:  # a trust policy names a Principal
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(identity_only))
    assert "Principal" in error_of(err.value)[2]
    make_role(iam)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as err:
        make_role(iam, "REWARD-EXEC")  # role names are unique whatever their case, as on AWS
    assert error_of(err.value) == ("EntityAlreadyExists", 409, "Role with name REWARD-EXEC already exists.")
    for call in (
        lambda: iam.put_role_policy(RoleName="nope", PolicyName="p", PolicyDocument=json.dumps(INVOKE_ANY)),
        lambda: iam.attach_role_policy(RoleName="nope", PolicyArn=BASIC_EXECUTION),
        lambda: iam.list_role_policies(RoleName="nope"),
        lambda: iam.delete_role(RoleName="nope"),
        lambda: iam.attach_role_policy(RoleName="reward-exec", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy"),
        lambda: iam.attach_role_policy(RoleName="reward-exec", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/none"),
    ):
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            call()
    with pytest.raises(iam.exceptions.InvalidInputException) as err:  # a knob openrft lacks is refused, not ignored
        make_role(iam, "tagged", Tags=[{"Key": "team", "Value": "rl"}])
    assert "Tags" in error_of(err.value)[2]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        make_role(iam, "bad name!")
    assert error_of(err.value)[:2] == ("ValidationError", 400)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        for _ in range(2):
            iam.create_policy(PolicyName="twice", PolicyDocument=json.dumps(FILES_READ))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.delete_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert error_of(err.value)[:2] == ("AccessDenied", 403)


def test_pages_with_marker(iam: Any) -> None:
    for name in ("c", "a", "b"):
        make_role(iam, f"role-{name}")
    first = iam.list_roles(MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["role-a", "role-b"] and first["IsTruncated"]
    rest = iam.list_roles(MaxItems=2, Marker=first["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == ["role-c"] and not rest["IsTruncated"]
    paginator = iam.get_paginator("list_roles")
    assert [r["RoleName"] for page in paginator.paginate(PaginationConfig={"PageSize": 1}) for r in page["Roles"]] == [
        "role-a",
        "role-b",
        "role-c",
    ]


def test_projects_are_separate_accounts(server: LiveServer, iam: Any) -> None:
    make_role(iam)
    admin = admin_headers(server)
    project = httpx.post(f"{server.v1}/organization/projects", json={"name": "other"}, headers=admin).json()["id"]
    key = service_account_key(server, "other-ci", project)
    other = client("iam", server, key["id"], key["value"])
    assert other.list_roles()["Roles"] == []
    with pytest.raises(other.exceptions.NoSuchEntityException):
        other.get_role(RoleName="reward-exec")
    mine = make_role(other)  # the same name in another account
    assert mine["Arn"] == f"arn:aws:iam::{account_id(project)}:role/reward-exec"
    assert iam.get_role(RoleName="reward-exec")["Role"]["RoleId"] != mine["RoleId"]


def test_a_read_only_key_reads_but_does_not_write(server: LiveServer, iam: Any) -> None:
    make_role(iam)
    key = service_account_key(server, "auditor")
    restrict(server, key["service_account_id"], "arn:aws:iam::aws:policy/ReadOnlyAccess")
    reader = client("iam", server, key["id"], key["value"])
    assert [r["RoleName"] for r in reader.list_roles()["Roles"]] == ["reward-exec"]
    assert reader.get_role(RoleName="reward-exec")["Role"]["RoleName"] == "reward-exec"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        reader.create_role(RoleName="escalate", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    code, status, message = error_of(err.value)
    assert (code, status) == ("AccessDenied", 403)
    assert f"perform: iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/escalate" in message
    with pytest.raises(botocore.exceptions.ClientError):
        reader.attach_role_policy(RoleName="reward-exec", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert iam.list_attached_role_policies(RoleName="reward-exec")["AttachedPolicies"] == []


def test_bad_signature_is_a_query_error(server: LiveServer) -> None:
    forged = client("iam", server, "admin", "not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        forged.list_roles()
    assert error_of(err.value)[:2] == ("SignatureDoesNotMatch", 403)
    unknown = client("iam", server, "key_doesnotexist", "whatever")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        unknown.list_roles()
    assert error_of(err.value)[:2] == ("InvalidClientTokenId", 403)
    response = httpx.post(server.base_url + "/", data={"Action": "ListRoles", "Version": "2010-05-08"})
    assert response.status_code == 401 and "<Code>InvalidClientTokenId</Code>" in response.text
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    response = httpx.post(server.base_url + "/", data={"Action": "Frobnicate", "Version": "2010-05-08"}, headers=admin)
    assert response.status_code == 400 and "<Code>InvalidAction</Code>" in response.text


def test_organization_api_and_cli(server: LiveServer, iam: Any) -> None:
    base = f"{server.v1}/organization/projects/proj_default"
    admin = admin_headers(server)
    role = httpx.post(f"{base}/roles", json={"name": "trainer", "trust_policy": LAMBDA_TRUST}, headers=admin).json()
    assert (role["object"], role["arn"]) == ("organization.project.role", f"arn:aws:iam::{ACCOUNT}:role/trainer")
    put = httpx.put(f"{base}/roles/trainer/policies/invoke", json={"document": INVOKE_ANY}, headers=admin)
    assert put.json()["document"] == INVOKE_ANY
    assert iam.list_role_policies(RoleName="trainer")["PolicyNames"] == ["invoke"]  # the same role on boto3's side
    taken = httpx.post(f"{base}/roles", json={"name": "trainer", "trust_policy": LAMBDA_TRUST}, headers=admin)
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "EntityAlreadyExists")
    bad = httpx.post(f"{base}/policies", json={"name": "p", "document": {"Statement": []}}, headers=admin)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "MalformedPolicyDocument")
    key = service_account_key(server, "app")
    account = f"{base}/service_accounts/{key['service_account_id']}"
    restrict(server, key["service_account_id"], "arn:aws:iam::aws:policy/OpenRFTInferenceOnly")
    attached = httpx.get(f"{account}/policies", headers=admin).json()["attached_policies"]
    assert attached == [{"name": "OpenRFTInferenceOnly", "arn": "arn:aws:iam::aws:policy/OpenRFTInferenceOnly"}]
    project_key = {"Authorization": f"Bearer {key['value']}"}
    assert httpx.get(f"{base}/roles", headers=project_key).status_code == 403  # the admin key only

    runner = CliRunner()
    config = make_config(server.base_url, server.admin_key)
    out = runner.invoke(roles_app, ["create", "judge", "--trust-service", "lambda.amazonaws.com"], obj=config)
    assert out.exit_code == 0, out.output
    out = runner.invoke(
        roles_app, ["attach-policy", "judge", "arn:aws:iam::aws:policy/OpenRFTInferenceOnly"], obj=config
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(roles_app, ["list", "--json"], obj=config)
    roles = {r["name"]: r for r in json.loads(out.output)}
    assert set(roles) == {"judge", "trainer"}
    assert [p["name"] for p in roles["judge"]["attached_policies"]] == ["OpenRFTInferenceOnly"]
    out = runner.invoke(policies_app, ["create", "read-files", "--document", json.dumps(FILES_READ)], obj=config)
    assert out.exit_code == 0, out.output
    arn = f"arn:aws:iam::{ACCOUNT}:policy/read-files"
    out = runner.invoke(policies_app, ["attach", arn, "--service-account", key["service_account_id"]], obj=config)
    assert out.exit_code == 0, out.output
    out = runner.invoke(policies_app, ["get", "read-files", "--json"], obj=config)
    assert json.loads(out.output)["attachment_count"] == 1
    out = runner.invoke(policies_app, ["delete", "read-files"], obj=config)
    assert out.exit_code == 1 and "409" in out.output  # still attached
    out = runner.invoke(roles_app, ["delete", "judge"], obj=config)
    assert out.exit_code == 1 and "detach" in out.output


def test_mutations_are_audited_with_the_change(server: LiveServer, iam: Any) -> None:
    key = service_account_key(server, "ops")
    ops = client("iam", server, key["id"], key["value"])
    arn = make_role(ops)["Arn"]
    ops.put_role_policy(RoleName="reward-exec", PolicyName="invoke", PolicyDocument=json.dumps(INVOKE_ANY))
    ops.get_role(RoleName="reward-exec")  # a read: its decision is audited by authorization, no mutation row
    with pytest.raises(ops.exceptions.NoSuchEntityException):
        ops.delete_role_policy(RoleName="reward-exec", PolicyName="absent")  # nothing changed: recorded as failed
    ctx = build_context(server.settings)
    try:
        with ctx.store.begin() as conn:
            audit = schema.audit_log.c
            rows = conn.execute(
                sa.select(audit.type, audit.key_id, audit.resource, audit.outcome, audit.action)
                .where(audit.type.like("iam.%"))
                .order_by(audit.seq)
            ).all()
    finally:
        ctx.store.dispose()
    assert [tuple(r) for r in rows] == [
        ("iam.role.created", key["id"], arn, "succeeded", "iam:CreateRole"),
        ("iam.role.policy_put", key["id"], arn, "succeeded", "iam:PutRolePolicy"),
        ("iam.role.policy_deleted", key["id"], arn, "failed", "iam:DeleteRolePolicy"),
    ]
