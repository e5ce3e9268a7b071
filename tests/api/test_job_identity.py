"""A job acts as its creator or as a role named at creation; every grader call is authorized as it.

Checked when the job is created (a 400 naming the missing permission and the grader field, nothing
queued), with iam:PassRole on a named role, as AWS requires it.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.api.access import ACCOUNT, allow, aws_client, make_key
from tests.api.test_lambda_api import create
from tests.conftest import LiveServer

FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reward"
TRAINER = [allow(["files:*", "fine_tuning:*", "models:*"])]  # what a trainer needs besides its grader
TRUST_JOBS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ROWS = b"".join(
    json.dumps({"messages": [{"role": "user", "content": f"q{i}"}], "answer": "a"}).encode() + b"\n" for i in range(4)
)


@pytest.fixture
def reward(live_server: LiveServer) -> str:
    create(aws_client(live_server, "lambda"), "reward")
    return "reward"


def start(client: openai.OpenAI, function: str, **extra: Any) -> Any:
    training = client.files.create(file=("t.jsonl", ROWS), purpose="fine-tune").id
    grader = {"type": "lambda", "lambda": {"function": function}}
    return client.fine_tuning.jobs.create(
        model="smollm2-135m-instruct",
        training_file=training,
        method={"type": "reinforcement", "reinforcement": {"grader": grader}},  # type: ignore[typeddict-item]
        extra_body=extra or None,
    )


def refusal(call: Any, status: type[openai.APIStatusError]) -> dict[str, Any]:
    with pytest.raises(status) as err:
        call()
    body = err.value.body
    assert isinstance(body, dict), body
    return body


def make_role(
    live_server: LiveServer, name: str, *statements: dict[str, Any], trust: dict[str, Any] = TRUST_JOBS
) -> str:
    iam = aws_client(live_server, "iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="grader",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
    return arn


def test_a_creator_who_may_not_invoke_the_reward_function_is_refused_before_anything_is_queued(
    live_server: LiveServer, reward: str
) -> None:
    key = make_key(live_server, *TRAINER)
    client = live_server.openai_client(key.secret)
    body = refusal(lambda: start(client, reward), openai.BadRequestError)
    assert body["code"] == "permission_denied"
    assert body["param"] == "method.reinforcement.grader.lambda.function"
    assert f"lambda:InvokeFunction on resource: {FUNCTION_ARN}" in body["message"]
    assert client.fine_tuning.jobs.list().data == []


def test_a_creator_allowed_to_invoke_it_gets_a_job_that_acts_as_its_key(live_server: LiveServer, reward: str) -> None:
    key = make_key(live_server, *TRAINER, allow("lambda:InvokeFunction", FUNCTION_ARN))
    job = start(live_server.openai_client(key.secret), reward)
    assert job.status == "validating_files" or job.status == "queued"
    identity = job.identity  # type: ignore[attr-defined]
    assert (identity["type"], identity["key_id"], identity["arn"]) == ("key", key.id, key.arn)


def test_a_resource_policy_on_the_function_is_enough(live_server: LiveServer, reward: str) -> None:
    key = make_key(live_server, *TRAINER)
    aws_client(live_server, "lambda").add_permission(
        FunctionName=reward, StatementId="trainer", Action="lambda:InvokeFunction", Principal=key.arn
    )
    assert start(live_server.openai_client(key.secret), reward).id.startswith("ftjob-")


def test_naming_a_role_needs_pass_role_on_it(live_server: LiveServer, reward: str) -> None:
    role = make_role(live_server, "rft-grader", allow("lambda:InvokeFunction", FUNCTION_ARN))
    without = make_key(live_server, *TRAINER)
    body = refusal(
        lambda: start(live_server.openai_client(without.secret), reward, role_arn=role), openai.PermissionDeniedError
    )
    assert f"iam:PassRole on resource: {role}" in body["message"]

    passer = make_key(
        live_server,
        *TRAINER,
        allow("iam:PassRole", role, Condition={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}),
    )
    job = start(live_server.openai_client(passer.secret), reward, role_arn=role)
    assert job.identity["type"] == "role" and job.identity["role_arn"] == role  # type: ignore[attr-defined]
    # The role's rights decide, not the creator's: the creator itself may not invoke the function.


def test_a_role_that_may_not_invoke_the_function_is_refused(live_server: LiveServer, reward: str) -> None:
    role = make_role(live_server, "no-invoke")
    key = make_key(live_server, *TRAINER, allow("iam:PassRole", role), allow("lambda:InvokeFunction", FUNCTION_ARN))
    body = refusal(lambda: start(live_server.openai_client(key.secret), reward, role_arn=role), openai.BadRequestError)
    assert body["code"] == "permission_denied" and "assumed-role/no-invoke" in body["message"]


def test_role_errors(live_server: LiveServer, reward: str) -> None:
    key = make_key(live_server, *TRAINER, allow("iam:PassRole", "*"))
    client = live_server.openai_client(key.secret)
    missing = f"arn:aws:iam::{ACCOUNT}:role/none"
    body = refusal(lambda: start(client, reward, role_arn=missing), openai.BadRequestError)
    assert (body["param"], body["code"]) == ("role_arn", "role_not_found")
    lambda_only = {
        **TRUST_JOBS,
        "Statement": [{**TRUST_JOBS["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}],
    }
    role = make_role(live_server, "lambda-only", trust=lambda_only)
    body = refusal(lambda: start(client, reward, role_arn=role), openai.BadRequestError)
    assert body["param"] == "role_arn" and "bedrock.amazonaws.com" in body["message"]
