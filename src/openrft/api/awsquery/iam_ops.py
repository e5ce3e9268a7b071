"""The IAM operations boto3's `iam` client calls: roles, their inline and attached policies, managed policies.

Each entry of `OPERATIONS` is the action AWS authorizes the call as, on the resource AWS names (the
role's ARN, path included, for role operations; the policy's ARN for policy operations; `*` for
ListRoles and ListPolicies, which AWS authorizes on no resource), and a handler from the decoded
input to the output structure botocore's model describes. Policy documents travel URL-encoded JSON in
replies, as IAM sends them (botocore decodes them back into dicts).

Lists page with `Marker` / `MaxItems` (1 to 1000, default 100): the marker is the last name returned.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from openrft.api.awsquery.operations import OpCall, Operation
from openrft.api.awsquery.protocol import validation_error
from openrft.auth import arns, iam
from openrft.auth.iam import ManagedPolicy, Role
from openrft.errors import NoSuchEntity

DEFAULT_MAX_ITEMS = 100
MAX_ITEMS = 1000


def encode_document(document: dict[str, Any]) -> str:
    """A policy document as IAM returns it: JSON, URL-encoded."""
    return quote(json.dumps(document, separators=(",", ":")), safe="")


def role_out(role: Role) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.id,
        "Arn": role.arn,
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": encode_document(role.trust_policy),
        "MaxSessionDuration": role.max_session_duration_s,
    }
    if role.description:
        out["Description"] = role.description
    return out


def policy_out(policy: ManagedPolicy, attachment_count: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": "v1",
        "AttachmentCount": attachment_count,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": policy.created_at,
        "UpdateDate": policy.updated_at,
    }
    if policy.description:
        out["Description"] = policy.description
    return out


def page(items: list[Any], key: Any, call: OpCall, field: str) -> dict[str, Any]:
    """One page of `items` (sorted by `key`) after the request's Marker: {field, IsTruncated[, Marker]}."""
    max_items = call.params.get("MaxItems", DEFAULT_MAX_ITEMS)
    if not 1 <= max_items <= MAX_ITEMS:
        raise validation_error(f"MaxItems must be between 1 and {MAX_ITEMS}.", "MaxItems")
    if marker := call.params.get("Marker"):
        try:
            after = base64.urlsafe_b64decode(marker.encode()).decode()
        except ValueError:
            raise validation_error("Invalid Marker.", "Marker") from None
        items = [item for item in items if key(item) > after]
    shown = items[:max_items]
    out: dict[str, Any] = {field: shown, "IsTruncated": len(items) > max_items}
    if out["IsTruncated"]:
        out["Marker"] = base64.urlsafe_b64encode(key(shown[-1]).encode()).decode()
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ---- resources ----------------------------------------------------------------------------------------


def role_resource(call: OpCall) -> str:
    """The named role's ARN, with its path when the role exists."""
    name = call.params["RoleName"]
    if call.params.get("Path"):  # CreateRole
        return arns.role(call.project_id, name, call.params["Path"])
    with call.ctx.store.begin() as conn:
        try:
            return iam.get_role(conn, call.project_id, name).arn
        except NoSuchEntity:
            return arns.role(call.project_id, name)


def policy_resource(call: OpCall) -> str:
    if "PolicyArn" in call.params:
        return str(call.params["PolicyArn"])
    return arns.policy(call.project_id, call.params["PolicyName"], call.params.get("Path") or "/")


def _any(_call: OpCall) -> str:
    return "*"


def _policy_arn_key(call: OpCall) -> dict[str, list[str]]:
    return {"iam:PolicyARN": [call.params["PolicyArn"]]}


# ---- roles --------------------------------------------------------------------------------------------


def create_role(call: OpCall) -> dict[str, Any]:
    p = call.params
    with call.ctx.store.begin_immediate() as conn:
        role = iam.create_role(
            conn,
            call.project_id,
            name=p["RoleName"],
            trust_policy=p["AssumeRolePolicyDocument"],
            path=p.get("Path", "/"),
            description=_text(p.get("Description")),
            max_session_duration_s=p.get("MaxSessionDuration", 3600),
        )
    return {"Role": role_out(role)}


def get_role(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin() as conn:
        return {"Role": role_out(iam.get_role(conn, call.project_id, call.params["RoleName"]))}


def list_roles(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin() as conn:
        roles = iam.list_roles(conn, call.project_id, path_prefix=call.params.get("PathPrefix", "/"))
    listed = page(roles, lambda r: r.name, call, "Roles")
    listed["Roles"] = [role_out(r) for r in listed["Roles"]]
    return listed


def delete_role(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin_immediate() as conn:
        iam.delete_role(conn, call.project_id, call.params["RoleName"])
    return {}


def update_assume_role_policy(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin_immediate() as conn:
        iam.update_trust_policy(conn, call.project_id, call.params["RoleName"], call.params["PolicyDocument"])
    return {}


def _role_id(conn: Any, call: OpCall) -> str:
    return iam.get_role(conn, call.project_id, call.params["RoleName"]).id


def put_role_policy(call: OpCall) -> dict[str, Any]:
    p = call.params
    with call.ctx.store.begin_immediate() as conn:
        iam.put_inline_policy(
            conn,
            project_id=call.project_id,
            principal_type="role",
            principal_id=_role_id(conn, call),
            name=p["PolicyName"],
            document=p["PolicyDocument"],
        )
    return {}


def get_role_policy(call: OpCall) -> dict[str, Any]:
    p = call.params
    with call.ctx.store.begin() as conn:
        role = iam.get_role(conn, call.project_id, p["RoleName"])
        document = iam.get_inline_policy(
            conn, project_id=call.project_id, principal_type="role", principal_id=role.id, name=p["PolicyName"]
        )
    return {"RoleName": role.name, "PolicyName": p["PolicyName"], "PolicyDocument": encode_document(document)}


def list_role_policies(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin() as conn:
        names = iam.list_inline_policies(
            conn, project_id=call.project_id, principal_type="role", principal_id=_role_id(conn, call)
        )
    return page(names, lambda n: n, call, "PolicyNames")


def delete_role_policy(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin_immediate() as conn:
        iam.delete_inline_policy(
            conn,
            project_id=call.project_id,
            principal_type="role",
            principal_id=_role_id(conn, call),
            name=call.params["PolicyName"],
        )
    return {}


def attach_role_policy(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin_immediate() as conn:
        iam.attach(
            conn,
            project_id=call.project_id,
            principal_type="role",
            principal_id=_role_id(conn, call),
            policy_arn=call.params["PolicyArn"],
        )
    return {}


def detach_role_policy(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin_immediate() as conn:
        iam.detach(
            conn,
            project_id=call.project_id,
            principal_type="role",
            principal_id=_role_id(conn, call),
            policy_arn=call.params["PolicyArn"],
        )
    return {}


def list_attached_role_policies(call: OpCall) -> dict[str, Any]:
    prefix = call.params.get("PathPrefix", "/")
    with call.ctx.store.begin() as conn:
        policies = iam.attached_policies(
            conn, project_id=call.project_id, principal_type="role", principal_id=_role_id(conn, call)
        )
    attached = sorted((p for p in policies if p.path.startswith(prefix)), key=lambda p: p.arn)
    listed = page(attached, lambda p: p.arn, call, "AttachedPolicies")
    listed["AttachedPolicies"] = [{"PolicyName": p.name, "PolicyArn": p.arn} for p in listed["AttachedPolicies"]]
    return listed


# ---- managed policies ---------------------------------------------------------------------------------


def create_policy(call: OpCall) -> dict[str, Any]:
    p = call.params
    with call.ctx.store.begin_immediate() as conn:
        policy = iam.create_policy(
            conn,
            call.project_id,
            name=p["PolicyName"],
            document=p["PolicyDocument"],
            path=p.get("Path", "/"),
            description=_text(p.get("Description")),
        )
    return {"Policy": policy_out(policy, 0)}


def get_policy(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin() as conn:
        policy = iam.get_policy(conn, call.project_id, call.params["PolicyArn"])
        count = iam.attachment_counts(conn, call.project_id).get(policy.arn, 0)
    return {"Policy": policy_out(policy, count)}


def get_policy_version(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin() as conn:
        policy = iam.get_policy(conn, call.project_id, call.params["PolicyArn"])
    if call.params["VersionId"] != "v1":
        raise NoSuchEntity(
            f"Policy {policy.arn} version {call.params['VersionId']} does not exist or is not attachable.",
            param="VersionId",
        )
    version = {
        "Document": encode_document(policy.document),
        "VersionId": "v1",
        "IsDefaultVersion": True,
        "CreateDate": policy.created_at,
    }
    return {"PolicyVersion": version}


def list_policies(call: OpCall) -> dict[str, Any]:
    p = call.params
    scope = p.get("Scope", "All")
    if scope not in ("All", "AWS", "Local"):
        raise validation_error("Scope must be one of All, AWS, Local.", "Scope")
    if p.get("PolicyUsageFilter", "PermissionsPolicy") != "PermissionsPolicy":
        return {"Policies": [], "IsTruncated": False}  # no permissions boundaries here: none is used as one
    with call.ctx.store.begin() as conn:
        found = iam.list_policies(
            conn,
            call.project_id,
            scope=scope,
            only_attached=p.get("OnlyAttached", False),
            path_prefix=p.get("PathPrefix", "/"),
        )
        counts = iam.attachment_counts(conn, call.project_id)
    listed = page(sorted(found, key=lambda x: x.arn), lambda x: x.arn, call, "Policies")
    listed["Policies"] = [policy_out(x, counts.get(x.arn, 0)) for x in listed["Policies"]]
    return listed


def delete_policy(call: OpCall) -> dict[str, Any]:
    with call.ctx.store.begin_immediate() as conn:
        iam.delete_policy(conn, call.project_id, call.params["PolicyArn"])
    return {}


_ROLE_EXTRAS = ("PermissionsBoundary", "Tags", "MaxSigninSessionDuration")
OPERATIONS: dict[str, Operation] = {
    "CreateRole": Operation("iam:CreateRole", role_resource, create_role, "iam.role.created", unsupported=_ROLE_EXTRAS),
    "GetRole": Operation("iam:GetRole", role_resource, get_role),
    "ListRoles": Operation("iam:ListRoles", _any, list_roles),
    "DeleteRole": Operation("iam:DeleteRole", role_resource, delete_role, "iam.role.deleted"),
    "UpdateAssumeRolePolicy": Operation(
        "iam:UpdateAssumeRolePolicy", role_resource, update_assume_role_policy, "iam.role.trust_policy_updated"
    ),
    "PutRolePolicy": Operation("iam:PutRolePolicy", role_resource, put_role_policy, "iam.role.policy_put"),
    "GetRolePolicy": Operation("iam:GetRolePolicy", role_resource, get_role_policy),
    "ListRolePolicies": Operation("iam:ListRolePolicies", role_resource, list_role_policies),
    "DeleteRolePolicy": Operation("iam:DeleteRolePolicy", role_resource, delete_role_policy, "iam.role.policy_deleted"),
    "AttachRolePolicy": Operation(
        "iam:AttachRolePolicy", role_resource, attach_role_policy, "iam.role.policy_attached", keys=_policy_arn_key
    ),
    "DetachRolePolicy": Operation(
        "iam:DetachRolePolicy", role_resource, detach_role_policy, "iam.role.policy_detached", keys=_policy_arn_key
    ),
    "ListAttachedRolePolicies": Operation("iam:ListAttachedRolePolicies", role_resource, list_attached_role_policies),
    "CreatePolicy": Operation(
        "iam:CreatePolicy", policy_resource, create_policy, "iam.policy.created", unsupported=("Tags",)
    ),
    "GetPolicy": Operation("iam:GetPolicy", policy_resource, get_policy),
    "GetPolicyVersion": Operation("iam:GetPolicyVersion", policy_resource, get_policy_version),
    "ListPolicies": Operation("iam:ListPolicies", _any, list_policies),
    "DeletePolicy": Operation("iam:DeletePolicy", policy_resource, delete_policy, "iam.policy.deleted"),
}
