"""The STS operations boto3's `sts` client calls: AssumeRole and GetCallerIdentity.

AssumeRole decides itself (openrft.auth.sts: the role's trust policy beside the caller's identity
policies), through `authz.check` so the decision has the request's scopes, rate limit and audit
record. `ExternalId`, when given, is the condition key `sts:ExternalId` a trust policy may test.
GetCallerIdentity needs no permission, as on AWS: whoever signed the request may ask who they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openrft.api.awsquery.access import check
from openrft.api.awsquery.operations import OpCall, Operation
from openrft.auth import iam, sts
from openrft.auth.policy import Policy


def assume_role(call: OpCall) -> dict[str, Any]:
    p = call.params
    keys = call.info.keys()
    if "ExternalId" in p:
        keys["sts:ExternalId"] = [p["ExternalId"]]

    def decide(action: str, resource: str, resource_policies: Sequence[Policy]) -> None:
        check(call.ctx, call.principal, call.info, action, resource, keys=keys, resource_policies=resource_policies)

    credentials, arn = sts.assume_role(
        call.ctx.store,
        call.ctx.cipher,
        call.principal,
        role_arn=p["RoleArn"],
        session_name=p["RoleSessionName"],
        duration_s=p.get("DurationSeconds", 3600),
        context_keys=keys,
        check=decide,
    )
    with call.ctx.store.begin() as conn:
        role = iam.role_by_arn(conn, p["RoleArn"])
    role_id = role.id if role is not None else ""
    return {
        "Credentials": {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": credentials.expiration,
        },
        "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{p['RoleSessionName']}", "Arn": arn},
    }


def get_caller_identity(call: OpCall) -> dict[str, Any]:
    return sts.caller_identity(call.ctx.store, call.principal)


def _role_arn(call: OpCall) -> str:
    return str(call.params["RoleArn"])


_SESSION_EXTRAS = (
    "PolicyArns",
    "Policy",
    "Tags",
    "TransitiveTagKeys",
    "SerialNumber",
    "TokenCode",
    "SourceIdentity",
    "ProvidedContexts",
    "MinimumSessionTokenSize",
)
OPERATIONS: dict[str, Operation] = {
    "AssumeRole": Operation(
        "sts:AssumeRole", _role_arn, assume_role, "sts.role.assumed", unsupported=_SESSION_EXTRAS, checks_itself=True
    ),
    "GetCallerIdentity": Operation(None, lambda call: "*", get_caller_identity),
}
