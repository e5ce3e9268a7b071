"""The role-creating cells of AWS's Qwen RFT notebook, replayed against openrft with only endpoint_url added.

aws-samples/amazon-bedrock-samples, custom-models/bedrock-reinforcement-fine-tuning/models/qwen/
qwen_gsm8k_rft.ipynb: the setup cell reads the account id from `sts.get_caller_identity()`; the role
cell creates the reward Lambda's execution role (trust: lambda.amazonaws.com) with
AWSLambdaBasicExecutionRole attached, deploys the reward function with that role, then creates the
Bedrock RFT role (trust: bedrock.amazonaws.com) with an inline policy allowing lambda:InvokeFunction
on that function, taking the `EntityAlreadyExistsException` branch when a role exists; the job cell
reads the account id again. The calls below are the same calls with the same arguments (written for
this test, not copied), on clients that differ only by endpoint_url and openrft's credentials.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from openrft.auth import authorize, sts
from openrft.context import build_context
from openrft.errors import AccessDenied
from openrft.functions.arn import account_id, function_arn
from openrft.settings import Settings
from tests.api import aws_clients
from tests.conftest import LiveServer

AWS_REGION = "us-west-2"  # the notebook's region: openrft signs and answers in any
DATASET_NAME = "gsm8k"
LAMBDA_FUNCTION_NAME = f"{DATASET_NAME}-reward-function"
LAMBDA_ROLE_NAME = f"{DATASET_NAME.upper()}-Lambda-Role"
BEDROCK_ROLE_NAME = "BedrockRFTRole"
REWARD_FUNCTION_MODULE = f"{DATASET_NAME}_rew_func"
REWARD_SOURCE = '''
def lambda_handler(event, context):
    """A stand-in for the notebook's GSM8K reward: 1.0 when the last number matches the reference."""
    def last_number(text):
        tokens = [t.strip(".,$") for t in str(text).split()]
        numbers = [t for t in tokens if t.replace(".", "", 1).lstrip("-").isdigit()]
        return numbers[-1] if numbers else None
    return [
        {"id": s.get("id"), "aggregate_reward_score": float(last_number(s["messages"][-1]["content"])
                                                          == str(s.get("reference_answer")))}
        for s in event
    ]
'''


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[LiveServer]:
    """The live server, and the environment the notebook's default credentials come from: an openrft key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "admin")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", settings.admin_key or "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    yield from aws_clients.serve(settings, monkeypatch)


def deployment_package() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{REWARD_FUNCTION_MODULE}.py", REWARD_SOURCE)
    return buf.getvalue()


def run_role_cells(server: LiveServer) -> dict[str, Any]:
    """The setup cell's account lookup and the role cell, as the notebook runs them."""
    endpoint = {"endpoint_url": server.base_url}
    session = boto3.Session(region_name=AWS_REGION)  # AWS_PROFILE = None in the notebook
    aws_account_id = session.client("sts", **endpoint).get_caller_identity()["Account"]

    lambda_client = session.client("lambda", region_name=AWS_REGION, **endpoint)
    iam_client = session.client("iam", region_name=AWS_REGION, **endpoint)
    lambda_trust_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        response = iam_client.create_role(
            RoleName=LAMBDA_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(lambda_trust_policy),
            Description=f"Execution role for {DATASET_NAME} reward function",
        )
        lambda_role_arn = response["Role"]["Arn"]
        iam_client.attach_role_policy(
            RoleName=LAMBDA_ROLE_NAME, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        )
        created_lambda_role = True
    except iam_client.exceptions.EntityAlreadyExistsException:
        lambda_role_arn = iam_client.get_role(RoleName=LAMBDA_ROLE_NAME)["Role"]["Arn"]
        created_lambda_role = False

    try:
        lambda_client.get_function(FunctionName=LAMBDA_FUNCTION_NAME)
        lambda_client.update_function_code(FunctionName=LAMBDA_FUNCTION_NAME, ZipFile=deployment_package())
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=LAMBDA_FUNCTION_NAME)
    except lambda_client.exceptions.ResourceNotFoundException:
        lambda_client.create_function(
            FunctionName=LAMBDA_FUNCTION_NAME,
            Runtime="python3.11",
            Role=lambda_role_arn,
            Handler=f"{REWARD_FUNCTION_MODULE}.lambda_handler",
            Code={"ZipFile": deployment_package()},
            Timeout=300,
            MemorySize=512,
        )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=LAMBDA_FUNCTION_NAME)
    lambda_arn = lambda_client.get_function(FunctionName=LAMBDA_FUNCTION_NAME)["Configuration"]["FunctionArn"]

    bedrock_trust_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    bedrock_permissions = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": lambda_arn}],
    }
    try:
        response = iam_client.create_role(
            RoleName=BEDROCK_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(bedrock_trust_policy),
            Description="Execution role for Bedrock RFT",
        )
        bedrock_role_arn = response["Role"]["Arn"]
    except iam_client.exceptions.EntityAlreadyExistsException:
        bedrock_role_arn = iam_client.get_role(RoleName=BEDROCK_ROLE_NAME)["Role"]["Arn"]
    iam_client.put_role_policy(
        RoleName=BEDROCK_ROLE_NAME, PolicyName="BedrockRFTPermissions", PolicyDocument=json.dumps(bedrock_permissions)
    )

    # The job cell: TARGET_ACCOUNT_ID = boto3.client('sts').get_caller_identity().get('Account')
    target_account_id = (
        boto3.client("sts", aws_access_key_id="admin", aws_secret_access_key=server.admin_key, **endpoint)
        .get_caller_identity()
        .get("Account")
    )
    return {
        "account": aws_account_id,
        "target_account": target_account_id,
        "lambda_role_arn": lambda_role_arn,
        "lambda_arn": lambda_arn,
        "bedrock_role_arn": bedrock_role_arn,
        "created_lambda_role": created_lambda_role,
        "iam": iam_client,
        "bedrock_permissions": bedrock_permissions,
    }


def test_the_notebook_role_cells_run_twice(server: LiveServer) -> None:
    first = run_role_cells(server)
    account = account_id("proj_default")
    assert first["account"] == first["target_account"] == account
    assert first["lambda_role_arn"] == f"arn:aws:iam::{account}:role/GSM8K-Lambda-Role"
    assert first["bedrock_role_arn"] == f"arn:aws:iam::{account}:role/BedrockRFTRole"
    assert first["lambda_arn"] == function_arn("proj_default", LAMBDA_FUNCTION_NAME)
    iam = first["iam"]
    lambda_role = iam.get_role(RoleName=LAMBDA_ROLE_NAME)["Role"]
    assert lambda_role["Description"] == "Execution role for gsm8k reward function"
    assert lambda_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName=LAMBDA_ROLE_NAME)["AttachedPolicies"] == [
        {
            "PolicyName": "AWSLambdaBasicExecutionRole",
            "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        }
    ]
    permissions = iam.get_role_policy(RoleName=BEDROCK_ROLE_NAME, PolicyName="BedrockRFTPermissions")
    assert permissions["PolicyDocument"] == first["bedrock_permissions"]

    # Re-running the cell takes its EntityAlreadyExistsException branches and changes nothing.
    again = run_role_cells(server)
    assert not again["created_lambda_role"]
    assert (again["lambda_role_arn"], again["bedrock_role_arn"]) == (
        first["lambda_role_arn"],
        first["bedrock_role_arn"],
    )
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == [BEDROCK_ROLE_NAME, LAMBDA_ROLE_NAME]
    assert iam.list_role_policies(RoleName=BEDROCK_ROLE_NAME)["PolicyNames"] == ["BedrockRFTPermissions"]


def test_the_roles_mean_what_the_notebook_meant(server: LiveServer) -> None:
    """The Bedrock role, acting for bedrock.amazonaws.com, may invoke the reward function and nothing else."""
    cells = run_role_cells(server)
    ctx = build_context(server.settings)
    try:
        for role_arn, service in (
            (cells["bedrock_role_arn"], "bedrock.amazonaws.com"),
            (cells["lambda_role_arn"], "lambda.amazonaws.com"),
        ):
            creds = sts.issue_for_service(
                ctx.store, ctx.cipher, project_id="proj_default", role_arn=role_arn, session_name="job", service=service
            )
            principal, _ = sts.secret_for_access_key(ctx.store, ctx.cipher, creds.access_key_id, creds.session_token)
            with ctx.store.begin() as conn:
                invoke = authorize.decide(conn, principal, "lambda:InvokeFunction", cells["lambda_arn"])
                other = authorize.decide(
                    conn, principal, "lambda:InvokeFunction", function_arn("proj_default", "other")
                )
                create = authorize.decide(conn, principal, "lambda:CreateFunction", cells["lambda_arn"])
            if service == "bedrock.amazonaws.com":
                assert (invoke.allowed, invoke.policy) == (True, "role/BedrockRFTRole/inline/BedrockRFTPermissions")
            else:  # AWSLambdaBasicExecutionRole grants CloudWatch Logs only: no openrft action
                assert not invoke.allowed
            assert not other.allowed and not create.allowed
        with pytest.raises(AccessDenied):  # each role trusts its own service only
            sts.issue_for_service(
                ctx.store,
                ctx.cipher,
                project_id="proj_default",
                role_arn=cells["bedrock_role_arn"],
                session_name="job",
                service="lambda.amazonaws.com",
            )
    finally:
        ctx.store.dispose()
