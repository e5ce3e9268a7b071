"""IAM entities of a project: roles, customer managed policies, inline policies and attachments.

A project is an AWS account here (`openrft.functions.arn.account_id`), so every entity belongs to one
project and its ARN names that account: roles `arn:aws:iam::<acct>:role<path><name>`, customer managed
policies `arn:aws:iam::<acct>:policy<path><name>`. AWS managed policies (`arn:aws:iam::aws:policy/...`)
live in code (openrft.auth.managed) and may be attached in every project.

Policies attach to two kinds of principal: a role (`principal_type="role"`, its RoleId) and a service
account, the owner of a project key (`"service_account"`, its `svc_acct_...` id). `policies_of` is what
an authorization decision evaluates: the principal's inline policies and the managed ones attached to
it, parsed (openrft.auth.policy).

Every document is checked by `parse_policy` before it is stored (MalformedPolicy naming the element at
fault): role trust policies as TRUST policies, the rest as IDENTITY policies. Documents are stored as
parsed JSON, so GetRolePolicy returns the same document, not its original whitespace.

Simplifications, stated: one version per customer managed policy (`v1`; no CreatePolicyVersion), no
tags, permissions boundaries or instance profiles, and none of AWS's quotas beyond name and size limits.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from openrft.auth import managed
from openrft.auth.arns import policy as policy_arn
from openrft.auth.arns import role as role_arn
from openrft.auth.policy import Policy, PolicyKind, parse_policy, parse_stored
from openrft.errors import AccessDenied, DeleteConflict, EntityAlreadyExists, InvalidRequest, NoSuchEntity
from openrft.ids import now_s
from openrft.store import schema

PrincipalType = Literal["role", "service_account"]
PRINCIPAL_TYPES = ("role", "service_account")

ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
POLICY_NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$")
PATH_RE = re.compile(r"^(/|/[\x21-\x7e]*/)$")
MAX_PATH = 512
MAX_DESCRIPTION = 1000
MIN_SESSION_S, MAX_SESSION_S = 3600, 43200  # a role's MaxSessionDuration, as AWS bounds it
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

roles_t = schema.iam_roles
policies_t = schema.iam_policies
inline_t = schema.iam_inline_policies
attachments_t = schema.iam_attachments


@dataclass(frozen=True)
class Role:
    id: str  # AROA...: AWS's RoleId
    project_id: str
    name: str
    path: str
    arn: str
    trust_policy: dict[str, Any]  # the AssumeRolePolicyDocument
    description: str
    max_session_duration_s: int
    created_at: int


@dataclass(frozen=True)
class ManagedPolicy:
    """A customer managed policy of a project, or an AWS managed one (`project_id` None)."""

    id: str  # ANPA...: AWS's PolicyId
    project_id: str | None
    name: str
    path: str
    arn: str
    description: str
    document: dict[str, Any]
    created_at: int
    updated_at: int

    @property
    def aws_managed(self) -> bool:
        return self.project_id is None


def new_entity_id(prefix: str) -> str:
    """AWS's unique-id shape: a 4-letter type prefix and 17 base32 characters (AROA..., ANPA...)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


# ---- validation ---------------------------------------------------------------------------------------


def check_name(value: str, *, param: str, pattern: re.Pattern[str] = ROLE_NAME_RE) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        limit = 64 if pattern is ROLE_NAME_RE else 128
        raise InvalidRequest(
            f"The specified value for {param} is invalid. It must contain only alphanumeric characters "
            f"and/or the following: +=,.@_- and be 1 to {limit} characters long.",
            param=param,
        )
    return value


def check_path(path: str, *, param: str = "path") -> str:
    if len(path) > MAX_PATH or not PATH_RE.match(path):
        raise InvalidRequest(
            "The specified value for path is invalid. It must begin and end with / and contain only "
            f"printable ASCII characters, at most {MAX_PATH} of them.",
            param=param,
        )
    return path


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidRequest(f"The description must be at most {MAX_DESCRIPTION} characters.", param="description")
    return description


def parse_document(document: str | Mapping[str, Any], *, name: str, kind: PolicyKind) -> tuple[Policy, dict[str, Any]]:
    """The parsed policy (MalformedPolicy when it breaks the grammar) and the JSON object to store."""
    parsed = parse_policy(document, name=name, kind=kind)
    stored = json.loads(document) if isinstance(document, str) else json.loads(json.dumps(document))
    return parsed, stored


# ---- roles --------------------------------------------------------------------------------------------


def _role(row: Any) -> Role:
    return Role(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        trust_policy=dict(row.trust_policy),
        description=row.description or "",
        max_session_duration_s=row.max_session_duration_s,
        created_at=row.created_at,
    )


def _check_session(max_session_duration_s: int) -> int:
    if not MIN_SESSION_S <= max_session_duration_s <= MAX_SESSION_S:
        raise InvalidRequest(
            f"The MaxSessionDuration must be between {MIN_SESSION_S} and {MAX_SESSION_S} seconds.",
            param="max_session_duration",
        )
    return max_session_duration_s


def create_role(
    conn: sa.Connection,
    project_id: str,
    *,
    name: str,
    trust_policy: str | Mapping[str, Any],
    path: str = "/",
    description: str = "",
    max_session_duration_s: int = 3600,
) -> Role:
    check_name(name, param="RoleName")
    check_path(path)
    check_description(description)
    _check_session(max_session_duration_s)
    arn = role_arn(project_id, name, path)
    _, document = parse_document(trust_policy, name=arn, kind=PolicyKind.TRUST)
    if _role_row(conn, project_id, name) is not None:
        raise EntityAlreadyExists(f"Role with name {name} already exists.", param="RoleName")
    row = {
        "id": new_entity_id("AROA"),
        "project_id": project_id,
        "name": name,
        "path": path,
        "arn": arn,
        "description": description,
        "trust_policy": document,
        "max_session_duration_s": max_session_duration_s,
        "created_at": now_s(),
    }
    try:
        with conn.begin_nested():
            conn.execute(roles_t.insert().values(**row))
    except sa.exc.IntegrityError:  # a concurrent CreateRole of the same name won
        raise EntityAlreadyExists(f"Role with name {name} already exists.", param="RoleName") from None
    return _role(_Obj(row))


class _Obj:
    """Attribute access over a dict: what `_role` reads from a row."""

    def __init__(self, values: Mapping[str, Any]):
        self.__dict__.update(values)


def _role_row(conn: sa.Connection, project_id: str, name: str) -> Any:
    # Role names are unique case-insensitively on AWS ("Role with name ... already exists").
    query = sa.select(roles_t).where(roles_t.c.project_id == project_id, sa.func.lower(roles_t.c.name) == name.lower())
    return conn.execute(query).first()


def get_role(conn: sa.Connection, project_id: str, name: str) -> Role:
    row = _role_row(conn, project_id, name)
    if row is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.", param="RoleName")
    return _role(row)


def role_by_arn(conn: sa.Connection, arn: str) -> Role | None:
    row = conn.execute(sa.select(roles_t).where(roles_t.c.arn == arn)).first()
    return _role(row) if row is not None else None


def role_by_id(conn: sa.Connection, role_id: str) -> Role | None:
    row = conn.execute(sa.select(roles_t).where(roles_t.c.id == role_id)).first()
    return _role(row) if row is not None else None


def list_roles(conn: sa.Connection, project_id: str, *, path_prefix: str = "/") -> list[Role]:
    """The project's roles under `path_prefix`, in name order."""
    query = sa.select(roles_t).where(
        roles_t.c.project_id == project_id, roles_t.c.path.startswith(path_prefix, autoescape=True)
    )
    return [_role(r) for r in conn.execute(query.order_by(roles_t.c.name))]


def update_trust_policy(conn: sa.Connection, project_id: str, name: str, trust_policy: str | Mapping[str, Any]) -> Role:
    role = get_role(conn, project_id, name)
    _, document = parse_document(trust_policy, name=role.arn, kind=PolicyKind.TRUST)
    conn.execute(roles_t.update().where(roles_t.c.id == role.id).values(trust_policy=document))
    return get_role(conn, project_id, name)


def delete_role(conn: sa.Connection, project_id: str, name: str) -> Role:
    """Delete a role without policies (DeleteConflict otherwise, as AWS); its sessions stop working."""
    role = get_role(conn, project_id, name)
    if list_inline_policies(conn, project_id=project_id, principal_type="role", principal_id=role.id):
        raise DeleteConflict("Cannot delete entity, must delete policies first.", param="RoleName")
    if _attached_arns(conn, project_id=project_id, principal_type="role", principal_id=role.id):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.", param="RoleName")
    conn.execute(roles_t.delete().where(roles_t.c.id == role.id))
    return role


# ---- inline policies ----------------------------------------------------------------------------------


def _inline_name(conn: sa.Connection, principal_type: PrincipalType, principal_id: str, policy_name: str) -> str:
    """What a decision cites for an inline policy: `role/<role name>/inline/<policy>`."""
    if principal_type == "role":
        role = role_by_id(conn, principal_id)
        return f"role/{role.name if role else principal_id}/inline/{policy_name}"
    return f"service_account/{principal_id}/inline/{policy_name}"


def _inline_where(project_id: str, principal_type: str, principal_id: str) -> list[sa.ColumnElement[bool]]:
    return [
        inline_t.c.project_id == project_id,
        inline_t.c.principal_type == principal_type,
        inline_t.c.principal_id == principal_id,
    ]


def put_inline_policy(
    conn: sa.Connection,
    *,
    project_id: str,
    principal_type: PrincipalType,
    principal_id: str,
    name: str,
    document: str | Mapping[str, Any],
) -> None:
    """Add or replace the principal's inline policy `name` (PutRolePolicy)."""
    check_name(name, param="PolicyName", pattern=POLICY_NAME_RE)
    cite = _inline_name(conn, principal_type, principal_id, name)
    _, stored = parse_document(document, name=cite, kind=PolicyKind.IDENTITY)
    where = [*_inline_where(project_id, principal_type, principal_id), inline_t.c.name == name]
    conn.execute(inline_t.delete().where(*where))
    conn.execute(
        inline_t.insert().values(
            principal_type=principal_type,
            principal_id=principal_id,
            name=name,
            project_id=project_id,
            document=stored,
            created_at=now_s(),
        )
    )


def get_inline_policy(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str, name: str
) -> dict[str, Any]:
    where = [*_inline_where(project_id, principal_type, principal_id), inline_t.c.name == name]
    row = conn.execute(sa.select(inline_t.c.document).where(*where)).first()
    if row is None:
        raise NoSuchEntity(f"The role policy with name {name} cannot be found.", param="PolicyName")
    return dict(row.document)


def list_inline_policies(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str
) -> list[str]:
    query = sa.select(inline_t.c.name).where(*_inline_where(project_id, principal_type, principal_id))
    return [r.name for r in conn.execute(query.order_by(inline_t.c.name))]


def delete_inline_policy(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str, name: str
) -> None:
    where = [*_inline_where(project_id, principal_type, principal_id), inline_t.c.name == name]
    if conn.execute(inline_t.delete().where(*where)).rowcount == 0:
        raise NoSuchEntity(f"The role policy with name {name} cannot be found.", param="PolicyName")


# ---- managed policies ---------------------------------------------------------------------------------


def _from_aws(policy: managed.AwsManagedPolicy) -> ManagedPolicy:
    return ManagedPolicy(
        id=policy.policy_id,
        project_id=None,
        name=policy.name,
        path=policy.path,
        arn=policy.arn,
        description=policy.meaning,
        document=policy.document,
        created_at=managed.MANAGED_CREATED_AT,
        updated_at=managed.MANAGED_CREATED_AT,
    )


def _policy(row: Any) -> ManagedPolicy:
    return ManagedPolicy(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        description=row.description or "",
        document=dict(row.document),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_policy(
    conn: sa.Connection,
    project_id: str,
    *,
    name: str,
    document: str | Mapping[str, Any],
    path: str = "/",
    description: str = "",
) -> ManagedPolicy:
    check_name(name, param="PolicyName", pattern=POLICY_NAME_RE)
    check_path(path)
    check_description(description)
    arn = policy_arn(project_id, name, path)
    _, stored = parse_document(document, name=arn, kind=PolicyKind.IDENTITY)
    taken = sa.select(policies_t.c.id).where(
        policies_t.c.project_id == project_id, sa.func.lower(policies_t.c.name) == name.lower()
    )
    if conn.execute(taken).first() is not None:
        raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.")
    now = now_s()
    row = {
        "id": new_entity_id("ANPA"),
        "project_id": project_id,
        "name": name,
        "path": path,
        "arn": arn,
        "description": description,
        "document": stored,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with conn.begin_nested():
            conn.execute(policies_t.insert().values(**row))
    except sa.exc.IntegrityError:
        raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.") from None
    return _policy(_Obj(row))


def find_policy(conn: sa.Connection, project_id: str, arn: str) -> ManagedPolicy | None:
    """An AWS managed policy, or a customer managed policy of this project, by ARN."""
    if managed.is_aws_managed(arn):
        aws = managed.by_arn(arn)
        return _from_aws(aws) if aws is not None else None
    row = conn.execute(
        sa.select(policies_t).where(policies_t.c.arn == arn, policies_t.c.project_id == project_id)
    ).first()
    return _policy(row) if row is not None else None


def get_policy(conn: sa.Connection, project_id: str, arn: str) -> ManagedPolicy:
    policy = find_policy(conn, project_id, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.", param="PolicyArn")
    return policy


def list_policies(
    conn: sa.Connection,
    project_id: str,
    *,
    scope: Literal["All", "AWS", "Local"] = "All",
    only_attached: bool = False,
    path_prefix: str = "/",
) -> list[ManagedPolicy]:
    """The project's customer managed policies (Local) and/or the AWS managed ones (AWS), in name order."""
    found: list[ManagedPolicy] = []
    if scope in ("All", "AWS"):
        found += [_from_aws(p) for p in managed.all_policies()]
    if scope in ("All", "Local"):
        query = sa.select(policies_t).where(policies_t.c.project_id == project_id)
        found += [_policy(r) for r in conn.execute(query)]
    found = [p for p in found if p.path.startswith(path_prefix)]
    if only_attached:
        counts = attachment_counts(conn, project_id)
        found = [p for p in found if counts.get(p.arn, 0) > 0]
    return sorted(found, key=lambda p: (p.name, p.arn))


def attachment_counts(conn: sa.Connection, project_id: str) -> dict[str, int]:
    """Policy ARN -> how many principals of the project it is attached to."""
    query = (
        sa.select(attachments_t.c.policy_arn, sa.func.count())
        .where(attachments_t.c.project_id == project_id)
        .group_by(attachments_t.c.policy_arn)
    )
    return {arn: int(n) for arn, n in conn.execute(query)}


def delete_policy(conn: sa.Connection, project_id: str, arn: str) -> ManagedPolicy:
    if managed.is_aws_managed(arn):
        raise AccessDenied(f"Cannot delete policies outside your own account: {arn} is an AWS managed policy.")
    policy = get_policy(conn, project_id, arn)
    if attachment_counts(conn, project_id).get(arn, 0):
        raise DeleteConflict("Cannot delete a policy attached to entities.", param="PolicyArn")
    conn.execute(policies_t.delete().where(policies_t.c.arn == arn, policies_t.c.project_id == project_id))
    return policy


# ---- attachments --------------------------------------------------------------------------------------


def _attach_where(project_id: str, principal_type: str, principal_id: str) -> list[sa.ColumnElement[bool]]:
    return [
        attachments_t.c.project_id == project_id,
        attachments_t.c.principal_type == principal_type,
        attachments_t.c.principal_id == principal_id,
    ]


def _attached_arns(conn: sa.Connection, *, project_id: str, principal_type: str, principal_id: str) -> list[str]:
    query = sa.select(attachments_t.c.policy_arn).where(*_attach_where(project_id, principal_type, principal_id))
    return [r.policy_arn for r in conn.execute(query.order_by(attachments_t.c.created_at, attachments_t.c.policy_arn))]


def attach(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str, policy_arn: str
) -> ManagedPolicy:
    """Attach a managed policy (AWS's or the project's own) to a role or service account; idempotent."""
    if principal_type not in PRINCIPAL_TYPES:
        raise InvalidRequest(f"principal_type must be one of {', '.join(PRINCIPAL_TYPES)}.", param="principal_type")
    policy = get_policy(conn, project_id, policy_arn)
    if policy_arn in _attached_arns(
        conn, project_id=project_id, principal_type=principal_type, principal_id=principal_id
    ):
        return policy
    conn.execute(
        attachments_t.insert().values(
            principal_type=principal_type,
            principal_id=principal_id,
            policy_arn=policy_arn,
            project_id=project_id,
            created_at=now_s(),
        )
    )
    return policy


def detach(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str, policy_arn: str
) -> None:
    where = [*_attach_where(project_id, principal_type, principal_id), attachments_t.c.policy_arn == policy_arn]
    if conn.execute(attachments_t.delete().where(*where)).rowcount == 0:
        raise NoSuchEntity(f"Policy {policy_arn} was not found.", param="PolicyArn")


def attached_policies(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str
) -> list[ManagedPolicy]:
    """The managed policies attached to a principal, in attachment order (a deleted one is skipped)."""
    arns = _attached_arns(conn, project_id=project_id, principal_type=principal_type, principal_id=principal_id)
    found = (find_policy(conn, project_id, arn) for arn in arns)
    return [p for p in found if p is not None]


def detach_all(conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str) -> None:
    """Forget every inline policy and attachment of a principal (a service account being deleted)."""
    conn.execute(attachments_t.delete().where(*_attach_where(project_id, principal_type, principal_id)))
    conn.execute(inline_t.delete().where(*_inline_where(project_id, principal_type, principal_id)))


# ---- what a decision evaluates ------------------------------------------------------------------------


def policies_of(
    conn: sa.Connection, *, project_id: str, principal_type: PrincipalType, principal_id: str
) -> list[Policy]:
    """The principal's identity policies, parsed: its inline policies, then its attached managed ones.

    Each is named as a decision cites it: `role/<role>/inline/<name>` for an inline policy, the ARN for
    a managed one.
    """
    out: list[Policy] = []
    query = sa.select(inline_t.c.name, inline_t.c.document).where(
        *_inline_where(project_id, principal_type, principal_id)
    )
    for row in conn.execute(query.order_by(inline_t.c.name)).all():
        cite = _inline_name(conn, principal_type, principal_id, row.name)
        out.append(parse_stored(row.document, name=cite, kind=PolicyKind.IDENTITY))
    for policy in attached_policies(
        conn, project_id=project_id, principal_type=principal_type, principal_id=principal_id
    ):
        out.append(parse_stored(policy.document, name=policy.arn, kind=PolicyKind.IDENTITY))
    return out


def trust_policy_of(role: Role) -> Policy:
    """A role's trust policy, parsed as the resource policy of sts:AssumeRole on the role."""
    return parse_policy(role.trust_policy, name=f"{role.arn} (trust policy)", kind=PolicyKind.TRUST)
