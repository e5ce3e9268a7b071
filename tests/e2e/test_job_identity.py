"""A job's identity at run time: a permission revoked while the job runs fails it with that reason."""

from __future__ import annotations

import json
import time

import boto3
import botocore.config

from openrft.functions.arn import account_id
from tests.e2e.conftest import TINY_HP, Flow, events, wait_for

TRUST_JOBS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def test_a_permission_revoked_mid_run_fails_the_job_with_that_reason(flow: Flow) -> None:
    project = flow.project("identity")
    deployed = flow.deploy_reward(project, slow_s=0.5)
    iam = boto3.client(
        "iam",
        endpoint_url=flow.base_url,
        region_name="us-east-1",
        aws_access_key_id=project.key_id,
        aws_secret_access_key=project.secret,
        config=botocore.config.Config(retries={"max_attempts": 0}),
    )
    role = iam.create_role(RoleName="trainer", AssumeRolePolicyDocument=json.dumps(TRUST_JOBS))["Role"]["Arn"]
    function_arns = f"arn:aws:lambda:us-east-1:{account_id(project.id)}:function:{deployed.name}*"
    grant = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arns}],
    }
    iam.put_role_policy(RoleName="trainer", PolicyName="reward", PolicyDocument=json.dumps(grant))

    client = flow.client(project)
    train, valid = flow.upload(client, 8, 2)
    grader = {"type": "lambda", "lambda": {"function": deployed.ref}}
    job = client.fine_tuning.jobs.create(
        model="tiny-base",
        training_file=train,
        validation_file=valid,
        method={"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": TINY_HP}},  # type: ignore[typeddict-item]
        extra_body={"role_arn": role},
    )
    wait_for(
        client,
        job.id,
        lambda j: any(e.type == "metrics" for e in events(client, j.id)),
        timeout_s=240,
        what="a first step graded as the role",
    )
    iam.delete_role_policy(RoleName="trainer", PolicyName="reward")

    deadline = time.monotonic() + 240
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("failed", "succeeded", "cancelled"):
        assert time.monotonic() < deadline, "the job did not stop after its permission was revoked"
        time.sleep(0.2)
    assert job.status == "failed", job
    assert job.error is not None and job.error.code == "permission_denied", job.error
    assert "lambda:InvokeFunction" in job.error.message and "assumed-role/trainer" in job.error.message
