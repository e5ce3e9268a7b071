"""The authorization decision: may this principal perform this action on this resource?

One function, `decide`, used by the HTTP layer for every request and by the worker for every call a
job makes as its identity (a reward function invoked, a judge model asked). It gathers the principal's
identity policies (a key's: its service account's attached and inline policies; a role session's: the
role's), adds the condition keys AWS sets on every request, and lets `openrft.auth.policy.evaluate`
apply AWS's logic with the resource's own policy (a Lambda function's AddPermission statements, a
role's trust policy). The bootstrap admin key is allowed everything and never consults a policy.

`require` is `decide` that raises `AccessDenied` with AWS's message, naming the action, the resource and
why (no statement allows it, or which statement denies it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from openrft.auth import iam
from openrft.auth.keys import Principal
from openrft.auth.policy import Decision, Policy, PolicyKind, RequestContext, evaluate
from openrft.errors import AccessDenied

ADMIN_DECISION = Decision(allowed=True, effect="Allow", policy="OPENRFT_ADMIN_KEY", sid=None)


def identity_policies(conn: sa.Connection, principal: Principal) -> list[Policy]:
    """The identity-based policies that apply to `principal` (none for a role that no longer exists)."""
    if principal.role_arn is not None:
        role = iam.role_by_arn(conn, principal.role_arn)
        if role is None or role.project_id != principal.project_id:
            return []
        return iam.policies_of(conn, project_id=principal.project_id, principal_type="role", principal_id=role.id)
    return iam.policies_of(
        conn,
        project_id=principal.project_id,
        principal_type="service_account",
        principal_id=principal.service_account_id or principal.key_id,
    )


def request_keys(principal: Principal, keys: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """The global condition keys AWS puts in every request context, plus the caller's own."""
    now = datetime.now(UTC)
    base = {
        "aws:PrincipalArn": [principal.role_arn or principal.arn],
        "aws:PrincipalAccount": [principal.account_id],
        "aws:PrincipalType": ["AssumedRole" if principal.role_arn else "User"],
        "aws:userid": [principal.key_id],
        "aws:CurrentTime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:EpochTime": [str(int(now.timestamp()))],
        "aws:RequestedRegion": ["us-east-1"],
    }
    for name, values in (keys or {}).items():
        base[name] = list(values)
    return base


def decide(
    conn: sa.Connection,
    principal: Principal,
    action: str,
    resource: str,
    *,
    keys: Mapping[str, Sequence[str]] | None = None,
    resource_policies: Sequence[Policy] = (),
) -> Decision:
    if principal.is_admin:
        return ADMIN_DECISION
    context = RequestContext(
        action=action,
        resource=resource,
        principal_arn=principal.arn,
        principal_account=principal.account_id,
        keys=request_keys(principal, keys),
    )
    return evaluate(context, identity_policies(conn, principal), resource_policies)


def denial_message(principal: Principal, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied wording: who, what, on which resource, and which policy (or none) decided."""
    head = f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.effect == "ExplicitDeny":
        sid = f" (statement {decision.sid})" if decision.sid else ""
        where = "a resource-based policy" if decision.kind is PolicyKind.RESOURCE else "an identity-based policy"
        return f"{head} with an explicit deny in {where}: {decision.policy}{sid}"
    return f"{head} because no identity-based policy allows the {action} action"


def require(
    conn: sa.Connection,
    principal: Principal,
    action: str,
    resource: str,
    *,
    keys: Mapping[str, Sequence[str]] | None = None,
    resource_policies: Sequence[Policy] = (),
) -> Decision:
    decision = decide(conn, principal, action, resource, keys=keys, resource_policies=resource_policies)
    if not decision.allowed:
        raise AccessDenied(denial_message(principal, action, resource, decision))
    return decision
