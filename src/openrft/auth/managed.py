"""AWS managed policies: the names AWS's notebooks and tutorials attach, with what each means here.

AWS ships thousands of managed policies; openrft knows the handful that RFT workflows attach
(`attach_role_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")`)
plus its own `OpenRFT*` ones. Each is a policy document in openrft's action names (files:*, fine_tuning:*,
models:*, evals:*, lambda:*, iam:*, sts:*, audit:*; see the access contract), so attaching one grants
exactly what `meaning` says. A document names actions of services openrft does not have (logs:*, s3:*,
bedrock:*) where AWS's does: they match no openrft request, so they grant nothing here, as said.

They live in code, not in `iam_policies`: one ARN, the same in every project (account), never deleted
or edited, version `v1`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

AWS_POLICY_ARN_PREFIX = "arn:aws:iam::aws:policy"
# The CreateDate and UpdateDate every managed policy reports (openrft's versions have no history).
MANAGED_CREATED_AT = 1_700_000_000  # 2023-11-14T22:13:20Z


def _allow(actions: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    meaning: str  # what attaching it grants on openrft (the policy's Description)
    document: dict[str, Any] = field(compare=False)

    @property
    def arn(self) -> str:
        return f"{AWS_POLICY_ARN_PREFIX}{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        """A stable PolicyId in AWS's shape (ANPA + 17 characters)."""
        return "ANPA" + hashlib.sha256(self.arn.encode()).hexdigest()[:17].upper()


_READ = ["*:Get*", "*:List*", "*:Describe*"]
_LAMBDA_READ_IAM = [
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:ListRoles",
]

_POLICIES = (
    AwsManagedPolicy(
        "AdministratorAccess", "/", "Every action on every resource of the project.", _document(_allow("*"))
    ),
    AwsManagedPolicy(
        "OpenRFTFullAccess",
        "/",
        "Every action on every resource of the project: what a key created without policies gets.",
        _document(_allow("*")),
    ),
    AwsManagedPolicy(
        "ReadOnlyAccess",
        "/",
        "Every Get*, List* and Describe* action (files, jobs, models, evals, functions, IAM, the audit trail).",
        _document(_allow(_READ)),
    ),
    AwsManagedPolicy("IAMFullAccess", "/", "Every IAM action: roles and policies.", _document(_allow("iam:*"))),
    AwsManagedPolicy(
        "AWSLambda_FullAccess",
        "/",
        "Every Lambda action, reading roles and policies, and passing a role to Lambda (a function's Role).",
        _document(
            _allow("lambda:*"),
            _allow(_LAMBDA_READ_IAM),
            _allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        ),
    ),
    AwsManagedPolicy(
        "AWSLambdaRole",
        "/service-role/",
        "Invoke any function (lambda:InvokeFunction).",
        _document(_allow("lambda:InvokeFunction")),
    ),
    AwsManagedPolicy(
        "AWSLambdaBasicExecutionRole",
        "/service-role/",
        "Write CloudWatch logs (logs:*): openrft captures a function's log itself, so this grants no openrft action.",
        _document(_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])),
    ),
    AwsManagedPolicy(
        "AmazonBedrockFullAccess",
        "/",
        "Models and fine-tuning: every models:* and fine_tuning:* action (and bedrock:*, for the Bedrock surface).",
        _document(_allow(["bedrock:*", "models:*", "fine_tuning:*"])),
    ),
    AwsManagedPolicy(
        "AmazonS3FullAccess",
        "/",
        "s3:*: openrft has no S3 API, so this grants no openrft action.",
        _document(_allow("s3:*")),
    ),
    AwsManagedPolicy(
        "OpenRFTInferenceOnly",
        "/",
        "Call and list models only: models:InvokeModel, models:GetModel, models:ListModels.",
        _document(_allow(["models:InvokeModel", "models:GetModel", "models:ListModels"])),
    ),
    AwsManagedPolicy(
        "OpenRFTAuditReadOnly",
        "/",
        "Read the audit trail only: audit:ListAuditLogs.",
        _document(_allow("audit:ListAuditLogs")),
    ),
)

BY_ARN: dict[str, AwsManagedPolicy] = {p.arn: p for p in _POLICIES}
BY_NAME: dict[str, AwsManagedPolicy] = {p.name: p for p in _POLICIES}
FULL_ACCESS_ARN = BY_NAME["OpenRFTFullAccess"].arn


def all_policies() -> tuple[AwsManagedPolicy, ...]:
    return _POLICIES


def by_arn(arn: str) -> AwsManagedPolicy | None:
    """The managed policy with exactly this ARN (path included, as AWS requires), or None."""
    return BY_ARN.get(arn)


def is_aws_managed(arn: str) -> bool:
    return arn.startswith(AWS_POLICY_ARN_PREFIX + "/")
