"""Roles and policies of a project for the admin (the router requires the admin key), over openrft.auth.iam.

The project must exist; a service account must be one of the project's (it owns one of its keys).
Lists page in name order with `after=<name>` (roles) or `after=<arn>` (policies) and `limit`.
Attaching a policy to a service account is how a key's rights are changed after its creation.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa

from openrft.api.iam_org import schemas
from openrft.api.organization.schemas import Page
from openrft.auth import iam, sts
from openrft.context import AppContext
from openrft.errors import InvalidRequest, NoSuchEntity, NotFound
from openrft.store import schema

MAX_LIST_LIMIT = 100
PolicyScope = Literal["all", "aws", "local"]


def _require_project(conn: sa.Connection, project_id: str) -> None:
    row = conn.execute(sa.select(schema.projects.c.id).where(schema.projects.c.id == project_id)).first()
    if row is None:
        raise NotFound(f"No such project: {project_id}", param="project_id")


def _require_service_account(conn: sa.Connection, project_id: str, service_account_id: str) -> None:
    keys = schema.api_keys.c
    query = sa.select(keys.id).where(keys.project_id == project_id, keys.service_account_id == service_account_id)
    if conn.execute(query).first() is None:
        raise NotFound(f"No such service account: {service_account_id}", param="service_account_id")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}.", param="limit")


def _attachments(
    conn: sa.Connection, project_id: str, kind: iam.PrincipalType, principal_id: str
) -> schemas.Attachments:
    names = iam.list_inline_policies(conn, project_id=project_id, principal_type=kind, principal_id=principal_id)
    attached = iam.attached_policies(conn, project_id=project_id, principal_type=kind, principal_id=principal_id)
    return schemas.Attachments(
        principal_type=kind,
        principal_id=principal_id,
        inline_policies=names,
        attached_policies=[schemas.AttachedPolicy(name=p.name, arn=p.arn) for p in attached],
    )


def _role(conn: sa.Connection, role: iam.Role) -> schemas.Role:
    permissions = _attachments(conn, role.project_id, "role", role.id)
    return schemas.Role(
        id=role.id,
        name=role.name,
        arn=role.arn,
        path=role.path,
        description=role.description,
        trust_policy=role.trust_policy,
        max_session_duration=role.max_session_duration_s,
        created_at=role.created_at,
        inline_policies=permissions.inline_policies,
        attached_policies=permissions.attached_policies,
    )


def _policy(policy: iam.ManagedPolicy, counts: dict[str, int]) -> schemas.Policy:
    return schemas.Policy(
        id=policy.id,
        name=policy.name,
        arn=policy.arn,
        path=policy.path,
        description=policy.description,
        document=policy.document,
        aws_managed=policy.aws_managed,
        attachment_count=counts.get(policy.arn, 0),
        created_at=policy.created_at,
        updated_at=policy.updated_at,
    )


# ---- roles --------------------------------------------------------------------------------------------


def create_role(ctx: AppContext, project_id: str, body: schemas.RoleCreate) -> schemas.Role:
    with ctx.store.begin_immediate() as conn:
        _require_project(conn, project_id)
        role = iam.create_role(
            conn,
            project_id,
            name=body.name,
            trust_policy=body.trust_policy,
            path=body.path,
            description=body.description,
            max_session_duration_s=body.max_session_duration,
        )
        return _role(conn, role)


def list_roles(ctx: AppContext, project_id: str, *, after: str | None, limit: int) -> Page[schemas.Role]:
    _check_limit(limit)
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        roles = iam.list_roles(conn, project_id)
        if after is not None:
            roles = [r for r in roles if r.name > after]
        shown = [_role(conn, r) for r in roles[:limit]]
    page = Page.of(shown, has_more=len(roles) > limit)
    # The cursor is the role's name (unique in the project), what `after` takes.
    page.first_id = shown[0].name if shown else None
    page.last_id = shown[-1].name if shown else None
    return page


def get_role(ctx: AppContext, project_id: str, name: str) -> schemas.Role:
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        return _role(conn, iam.get_role(conn, project_id, name))


def delete_role(ctx: AppContext, project_id: str, name: str) -> schemas.RoleDeleted:
    with ctx.store.begin_immediate() as conn:
        _require_project(conn, project_id)
        role = iam.delete_role(conn, project_id, name)
    return schemas.RoleDeleted(id=role.id)


def revoke_sessions(ctx: AppContext, project_id: str, name: str) -> schemas.SessionsRevoked:
    with ctx.store.begin_immediate() as conn:
        _require_project(conn, project_id)
        role = iam.get_role(conn, project_id, name)
        count = sts.revoke_sessions(conn, project_id=project_id, role_id=role.id)
    return schemas.SessionsRevoked(role=role.name, revoked=count)


# ---- a principal's policies (roles and service accounts alike) ----------------------------------------


def _principal_id(conn: sa.Connection, project_id: str, kind: iam.PrincipalType, ref: str) -> str:
    """The principal id of a role (by name) or service account (by id) of the project."""
    _require_project(conn, project_id)
    if kind == "role":
        return iam.get_role(conn, project_id, ref).id
    _require_service_account(conn, project_id, ref)
    return ref


def put_inline_policy(
    ctx: AppContext, project_id: str, kind: iam.PrincipalType, ref: str, name: str, body: schemas.InlinePolicyPut
) -> schemas.InlinePolicy:
    with ctx.store.begin_immediate() as conn:
        principal_id = _principal_id(conn, project_id, kind, ref)
        iam.put_inline_policy(
            conn,
            project_id=project_id,
            principal_type=kind,
            principal_id=principal_id,
            name=name,
            document=body.document,
        )
        document = iam.get_inline_policy(
            conn, project_id=project_id, principal_type=kind, principal_id=principal_id, name=name
        )
    return schemas.InlinePolicy(name=name, principal_type=kind, principal_id=principal_id, document=document)


def delete_inline_policy(
    ctx: AppContext, project_id: str, kind: iam.PrincipalType, ref: str, name: str
) -> schemas.InlinePolicyDeleted:
    with ctx.store.begin_immediate() as conn:
        principal_id = _principal_id(conn, project_id, kind, ref)
        iam.delete_inline_policy(conn, project_id=project_id, principal_type=kind, principal_id=principal_id, name=name)
    return schemas.InlinePolicyDeleted(name=name)


def attach(ctx: AppContext, project_id: str, kind: iam.PrincipalType, ref: str, policy_arn: str) -> schemas.Attachments:
    with ctx.store.begin_immediate() as conn:
        principal_id = _principal_id(conn, project_id, kind, ref)
        iam.attach(conn, project_id=project_id, principal_type=kind, principal_id=principal_id, policy_arn=policy_arn)
        return _attachments(conn, project_id, kind, principal_id)


def detach(ctx: AppContext, project_id: str, kind: iam.PrincipalType, ref: str, policy_arn: str) -> schemas.Attachments:
    with ctx.store.begin_immediate() as conn:
        principal_id = _principal_id(conn, project_id, kind, ref)
        iam.detach(conn, project_id=project_id, principal_type=kind, principal_id=principal_id, policy_arn=policy_arn)
        return _attachments(conn, project_id, kind, principal_id)


def attachments(ctx: AppContext, project_id: str, kind: iam.PrincipalType, ref: str) -> schemas.Attachments:
    with ctx.store.begin() as conn:
        principal_id = _principal_id(conn, project_id, kind, ref)
        return _attachments(conn, project_id, kind, principal_id)


# ---- managed policies ---------------------------------------------------------------------------------


def create_policy(ctx: AppContext, project_id: str, body: schemas.PolicyCreate) -> schemas.Policy:
    with ctx.store.begin_immediate() as conn:
        _require_project(conn, project_id)
        policy = iam.create_policy(
            conn, project_id, name=body.name, document=body.document, path=body.path, description=body.description
        )
    return _policy(policy, {})


def list_policies(
    ctx: AppContext, project_id: str, *, scope: PolicyScope, after: str | None, limit: int
) -> Page[schemas.Policy]:
    _check_limit(limit)
    aws_scope: Literal["All", "AWS", "Local"] = {"all": "All", "aws": "AWS", "local": "Local"}[scope]  # type: ignore[assignment]
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        found = sorted(iam.list_policies(conn, project_id, scope=aws_scope), key=lambda p: p.arn)
        counts = iam.attachment_counts(conn, project_id)
    if after is not None:
        found = [p for p in found if p.arn > after]
    shown = [_policy(p, counts) for p in found[:limit]]
    page = Page.of(shown, has_more=len(found) > limit)
    page.first_id = shown[0].arn if shown else None  # the cursor is the ARN, what `after` takes
    page.last_id = shown[-1].arn if shown else None
    return page


def _resolve_policy(conn: sa.Connection, project_id: str, ref: str) -> iam.ManagedPolicy:
    """A policy by ARN, or a customer managed policy of the project by name."""
    if ref.startswith("arn:"):
        return iam.get_policy(conn, project_id, ref)
    table = schema.iam_policies
    row = conn.execute(
        sa.select(table.c.arn).where(table.c.project_id == project_id, sa.func.lower(table.c.name) == ref.lower())
    ).first()
    if row is None:
        raise NoSuchEntity(f"No customer managed policy named {ref} in project {project_id}.", param="policy")
    return iam.get_policy(conn, project_id, row.arn)


def get_policy(ctx: AppContext, project_id: str, ref: str) -> schemas.Policy:
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        policy = _resolve_policy(conn, project_id, ref)
        return _policy(policy, iam.attachment_counts(conn, project_id))


def delete_policy(ctx: AppContext, project_id: str, ref: str) -> schemas.PolicyDeleted:
    with ctx.store.begin_immediate() as conn:
        _require_project(conn, project_id)
        policy = iam.delete_policy(conn, project_id, _resolve_policy(conn, project_id, ref).arn)
    return schemas.PolicyDeleted(id=policy.id, arn=policy.arn)
