"""Lambda resource policies through boto3: AddPermission, GetPolicy, RemovePermission, and the invoke
they allow, decided as AWS decides it within an account (a resource-policy allow for the caller's ARN is
enough; an explicit deny in the caller's own policies still wins)."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from tests.api.access import ACCOUNT, aws_client, deny, make_key
from tests.api.test_lambda_api import create, error_code
from tests.conftest import LiveServer

FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reward"


@pytest.fixture
def lam(live_server: LiveServer) -> Any:
    admin = aws_client(live_server, "lambda")
    create(admin, "reward")
    return admin


def dry_run(client: Any, name: str = "reward", **kw: Any) -> int:
    return int(client.invoke(FunctionName=name, InvocationType="DryRun", **kw)["StatusCode"])


def test_add_get_remove_permission_shapes(lam: Any) -> None:
    added = lam.add_permission(
        FunctionName="reward",
        StatementId="bedrock-jobs",
        Action="lambda:InvokeFunction",
        Principal="bedrock.amazonaws.com",
        SourceArn=f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-customization-job/*",
        SourceAccount=ACCOUNT,
    )
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "bedrock-jobs",
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FUNCTION_ARN,
        "Condition": {
            "ArnLike": {"AWS:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-customization-job/*"},
            "StringEquals": {"AWS:SourceAccount": ACCOUNT},
        },
    }
    policy = lam.get_policy(FunctionName="reward")
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17" and document["Statement"] == [statement]
    assert policy["RevisionId"]
    lam.remove_permission(FunctionName="reward", StatementId="bedrock-jobs")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        lam.get_policy(FunctionName="reward")
    assert error_code(err.value) == ("ResourceNotFoundException", 404)


def test_permission_errors(lam: Any) -> None:
    lam.add_permission(FunctionName="reward", StatementId="s1", Action="lambda:InvokeFunction", Principal=ACCOUNT)
    cases = [
        (
            dict(FunctionName="reward", StatementId="s1", Action="lambda:InvokeFunction", Principal=ACCOUNT),
            ("ResourceConflictException", 409),
        ),
        (
            dict(FunctionName="nope", StatementId="s2", Action="lambda:InvokeFunction", Principal=ACCOUNT),
            ("ResourceNotFoundException", 404),
        ),
        (
            dict(FunctionName="reward", StatementId="s3", Action="lambda:InvokeFunction", Principal="someone"),
            ("InvalidParameterValueException", 400),
        ),
        (
            dict(FunctionName="reward", StatementId="s4", Action="s3:GetObject", Principal=ACCOUNT),
            ("InvalidParameterValueException", 400),
        ),
    ]
    for args, expected in cases:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            lam.add_permission(**args)
        assert error_code(err.value) == expected, args
    with pytest.raises(botocore.exceptions.ClientError) as err:
        lam.remove_permission(FunctionName="reward", StatementId="never")
    assert error_code(err.value) == ("ResourceNotFoundException", 404)
    revision = lam.get_policy(FunctionName="reward")["RevisionId"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        lam.add_permission(
            FunctionName="reward",
            StatementId="s5",
            Action="lambda:InvokeFunction",
            Principal=ACCOUNT,
            RevisionId="0" + revision[1:],
        )
    assert error_code(err.value) == ("PreconditionFailedException", 412)


def test_resource_policy_allows_a_caller_its_own_policies_do_not(live_server: LiveServer, lam: Any) -> None:
    key = make_key(live_server)  # no identity policy at all
    theirs = aws_client(live_server, "lambda", key.id, key.secret)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dry_run(theirs)
    assert error_code(err.value) == ("AccessDeniedException", 403)
    assert "lambda:InvokeFunction" in str(err.value) and FUNCTION_ARN in str(err.value)

    lam.add_permission(FunctionName="reward", StatementId="one-key", Action="lambda:InvokeFunction", Principal=key.arn)
    assert dry_run(theirs) == 204
    with pytest.raises(botocore.exceptions.ClientError) as err:  # invoke only: the policy grants nothing else
        theirs.get_function(FunctionName="reward")
    assert error_code(err.value) == ("AccessDeniedException", 403)

    lam.remove_permission(FunctionName="reward", StatementId="one-key")
    with pytest.raises(botocore.exceptions.ClientError):
        dry_run(theirs)


def test_an_explicit_deny_in_the_callers_policy_beats_the_resource_policy(live_server: LiveServer, lam: Any) -> None:
    key = make_key(live_server, deny("lambda:InvokeFunction", FUNCTION_ARN, Sid="NeverReward"))
    lam.add_permission(FunctionName="reward", StatementId="k", Action="lambda:InvokeFunction", Principal=key.arn)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dry_run(aws_client(live_server, "lambda", key.id, key.secret))
    assert error_code(err.value) == ("AccessDeniedException", 403)
    assert "explicit deny" in str(err.value) and "NeverReward" in str(err.value)


def test_a_deleted_function_takes_its_policy_with_it(lam: Any) -> None:
    lam.add_permission(FunctionName="reward", StatementId="k", Action="lambda:InvokeFunction", Principal=ACCOUNT)
    lam.delete_function(FunctionName="reward")
    create(lam, "reward")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        lam.get_policy(FunctionName="reward")
    assert error_code(err.value) == ("ResourceNotFoundException", 404)


def test_a_function_policy_cannot_grow_past_aws_limit(lam: Any) -> None:
    source_arn = "arn:aws:bedrock:us-east-1:" + ACCOUNT + ":model-customization-job/" + "x" * 200
    added = 0
    with pytest.raises(botocore.exceptions.ClientError) as err:
        for n in range(200):
            lam.add_permission(
                FunctionName="reward",
                StatementId=f"s{n}",
                Action="lambda:InvokeFunction",
                Principal="bedrock.amazonaws.com",
                SourceArn=source_arn,
            )
            added += 1
    assert 0 < added < 200
    assert error_code(err.value)[1] == 400 and "PolicySize" in str(err.value)
    assert len(json.loads(lam.get_policy(FunctionName="reward")["Policy"])["Statement"]) == added
