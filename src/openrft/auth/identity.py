"""A job's identity: who its grader calls act as, checked at creation and again at every call.

A job runs as the key that created it, or as a role named at creation (`role_arn`, our extension on the
OpenAI surface; Bedrock's `roleArn` maps onto it). The identity is stored on the job row
(`jobs.identity`): `{"type": "key", "key_id"}` or `{"type": "role", "role_arn", "session_name"}`. Each
call a grader makes on the job's behalf is one action on one resource: a reward function of this
project is `lambda:InvokeFunction` on its ARN (its own resource policy counts, as on AWS); a judge model
served here is `models:InvokeModel` on the model's ARN. HTTP endpoints and real AWS functions are
authorized by whoever serves them, and `api_base` judges by their own keys: not ours to decide.

`grader_calls` lists a grader's calls (multi graders walked), `require_calls` decides them for an
identity and raises AccessDenied naming the first one refused; the API calls it before anything is
queued and the graders call it at run time, so a permission revoked mid-run fails the job with that
reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openrft.auth import arns, authorize
from openrft.auth.keys import Principal, principal_of
from openrft.auth.policy import PolicyKind, RequestContext, evaluate, parse_policy
from openrft.errors import AccessDenied, AuthenticationFailed
from openrft.functions.arn import InvalidReference, account_id, is_aws_arn, parse_ref
from openrft.store import schema


@dataclass(frozen=True)
class GraderCall:
    action: str
    resource: str
    param: str  # where the grader names it, for the 400 at creation
    function: tuple[str, str | None] | None = None  # (name, qualifier) of a reward function


def trusts_service(project_id: str, trust_policy: Mapping[str, Any], service: str) -> bool:
    """Does a role's trust policy let `service` (lambda.amazonaws.com, bedrock.amazonaws.com) assume it?"""
    policy = parse_policy(dict(trust_policy), name="trust policy", kind=PolicyKind.TRUST)
    context = RequestContext(
        action="sts:AssumeRole",
        resource="*",
        principal_arn=service,
        principal_account=account_id(project_id),
        principal_service=service,
    )
    return evaluate(context, [], [policy]).allowed


def key_identity(principal: Principal) -> dict[str, Any]:
    return {"type": "key", "key_id": principal.key_id, "arn": principal.arn}


def role_identity(role_arn: str, session_name: str) -> dict[str, Any]:
    return {"type": "role", "role_arn": role_arn, "session_name": session_name}


def principal_for(conn: sa.Connection, project_id: str, identity: Mapping[str, Any]) -> Principal:
    """The principal a stored identity acts as now; AccessDenied when its key is revoked or expired."""
    if identity.get("type") == "role":
        return Principal(
            key_id=f"role-session:{identity['session_name']}",
            project_id=project_id,
            is_admin=False,
            role_arn=str(identity["role_arn"]),
            session_name=str(identity["session_name"]),
        )
    key_id = str(identity.get("key_id"))
    row = conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        raise AccessDenied(f"The key {key_id} the job acts as was revoked.")
    try:
        return principal_of(row)
    except AuthenticationFailed as exc:
        raise AccessDenied(exc.message) from None


def grader_calls(project_id: str, grader: Mapping[str, Any], param: str = "grader") -> Iterator[GraderCall]:
    """The calls a grader (or each sub-grader of a multi grader) makes on the job's behalf."""
    kind = grader.get("type")
    if kind == "multi":
        for name, sub in (grader.get("graders") or {}).items():
            if isinstance(sub, Mapping):
                yield from grader_calls(project_id, sub, f"{param}.graders.{name}")
    elif kind == "lambda":
        ref = str((grader.get("lambda") or {}).get("function", ""))
        if ref.startswith(("http://", "https://")) or is_aws_arn(ref, project_id):
            return
        try:
            parsed = parse_ref(ref)
        except InvalidReference:
            return  # the grader's own validation names this
        resource = arns.function(project_id, parsed.name, parsed.qualifier)
        yield GraderCall("lambda:InvokeFunction", resource, f"{param}.lambda.function", (parsed.name, parsed.qualifier))
    elif kind in ("score_model", "label_model") and not (grader.get("openrft") or {}).get("api_base"):
        model = str(grader.get("model", ""))
        yield GraderCall("models:InvokeModel", arns.model(project_id, model), f"{param}.model")


def require_calls(conn: sa.Connection, principal: Principal, calls: Iterator[GraderCall] | list[GraderCall]) -> None:
    """Each call allowed for `principal`, or AccessDenied naming the first refused (its `param` set)."""
    from openrft.functions.permissions import resource_policy  # functions sits beside auth in the core

    for call in calls:
        policies = []
        if call.function is not None:
            policy = resource_policy(conn, principal.project_id, *call.function)
            policies = [policy] if policy is not None else []
        try:
            authorize.require(conn, principal, call.action, call.resource, resource_policies=policies)
        except AccessDenied as exc:
            exc.param = call.param
            raise
