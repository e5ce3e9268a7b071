"""Projects, service accounts and project API keys (admin only; the router enforces it).

A service account here is the owner of exactly one key: creating it creates the key and returns the
secret once (hashed for Bearer look-ups, encrypted for SigV4, see auth/keys.py). Deleting a key
revokes it (`revoked_at`): the row stays for audit, the secret gets 401 from then on. The bootstrap
admin key lives in the environment and cannot be deleted through the API.

A key is created with restrictions (openrft's extension, see schemas.py): its permissions become scope
strings (openrft.auth.scopes) stored with the mode and the levels in `api_keys.permissions`, next to the
allowed models, the per-minute limits and the expiry; its identity policies are attached to its service
account in `iam_attachments` and detached when the key is revoked. The request path enforces them
(openrft.api.authz); this module only validates and records them, and shows them on the service account
and API key objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from openrft.api.organization.schemas import (
    ApiKey,
    ApiKeyDeleted,
    Page,
    Project,
    ServiceAccount,
    ServiceAccountApiKey,
    ServiceAccountCreate,
    ServiceAccountCreated,
    ServiceAccountDeleted,
)
from openrft.auth import iam
from openrft.auth.keys import ADMIN_KEY_ID, DEFAULT_PROJECT_ID, create_key
from openrft.auth.scopes import scopes_for
from openrft.context import AppContext
from openrft.errors import InvalidRequest, NotFound
from openrft.functions.arn import account_id as account_of
from openrft.ids import new_id, now_s
from openrft.store import schema
from openrft.store.pages import keyset_page

MAX_LIST_LIMIT = 100
projects = schema.projects
api_keys = schema.api_keys
attachments = schema.iam_attachments


def _keyset_page(
    conn: sa.Connection,
    table: sa.Table,
    scope: list[Any],
    *,
    after: str | None,
    limit: int,
    id_column: str = "id",
) -> tuple[list[Any], bool]:
    """Rows of `table` in creation order after the one whose `id_column` is `after`; (rows, has_more)."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}.", param="limit")
    ident = table.c[id_column]
    unknown = f"Unknown cursor {after!r}: no such object in this list."
    return keyset_page(
        conn,
        table,
        scope,
        keys=(table.c.created_at, ident),
        id_column=ident,
        after=after,
        limit=limit,
        unknown_after=unknown,
    )


def _project(row: Any) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        archived_at=row.archived_at,
        status="archived" if row.archived_at else "active",
    )


def _require_project(conn: sa.Connection, project_id: str) -> Any:
    row = conn.execute(sa.select(projects).where(projects.c.id == project_id)).first()
    if row is None:
        raise NotFound(f"No such project: {project_id}", param="project_id")
    return row


def create_project(ctx: AppContext, name: str) -> Project:
    if not name.strip():
        raise InvalidRequest("Project name must not be blank.", param="name")
    project = Project(id=new_id("proj_"), name=name.strip(), created_at=now_s())
    with ctx.store.begin() as conn:
        conn.execute(projects.insert().values(**project.model_dump(exclude={"object", "status"})))
    return project


def get_project(ctx: AppContext, project_id: str) -> Project:
    with ctx.store.begin() as conn:
        return _project(_require_project(conn, project_id))


def list_projects(ctx: AppContext, *, after: str | None, limit: int, include_archived: bool) -> Page[Project]:
    scope = [] if include_archived else [projects.c.archived_at.is_(None)]
    with ctx.store.begin() as conn:
        rows, has_more = _keyset_page(conn, projects, scope, after=after, limit=limit)
    data = [_project(r) for r in rows]
    return Page[Project].of(data, has_more=has_more)


def update_project(ctx: AppContext, project_id: str, name: str) -> Project:
    if not name.strip():
        raise InvalidRequest("Project name must not be blank.", param="name")
    with ctx.store.begin_immediate() as conn:
        if _require_project(conn, project_id).archived_at is not None:
            raise InvalidRequest(f"Project {project_id} is archived and cannot be modified.", param="project_id")
        conn.execute(projects.update().where(projects.c.id == project_id).values(name=name.strip()))
        return _project(_require_project(conn, project_id))


def archive_project(ctx: AppContext, project_id: str) -> Project:
    """Archive a project for good: its keys are revoked, its data stays (as OpenAI: no unarchive)."""
    if project_id == DEFAULT_PROJECT_ID:
        raise InvalidRequest("The default project holds the admin key and cannot be archived.", param="project_id")
    with ctx.store.begin_immediate() as conn:
        row = _require_project(conn, project_id)
        if row.archived_at is None:
            now = now_s()
            conn.execute(projects.update().where(projects.c.id == project_id).values(archived_at=now))
            conn.execute(api_keys.update().where(*_live_keys(project_id)).values(revoked_at=now))
        return _project(_require_project(conn, project_id))


def create_service_account(ctx: AppContext, project_id: str, body: ServiceAccountCreate) -> ServiceAccountCreated:
    """A service account and its key, restricted as `body` says; the secret is returned this once."""
    name = body.name.strip()
    if not name:
        raise InvalidRequest("Service account name must not be blank.", param="name")
    restrictions = _restrictions(body)
    account_id = new_id("svc_acct_")
    with ctx.store.begin() as conn:
        project = _require_project(conn, project_id)
        if project.archived_at is not None:
            raise InvalidRequest(f"Project {project_id} is archived.", param="project_id")
        policy_arns = _check_policies(conn, project_id, body.policy_arns)
        row, secret = create_key(
            conn, ctx.cipher, project_id=project_id, name=name, service_account_id=account_id, policy_arns=policy_arns
        )
        conn.execute(api_keys.update().where(api_keys.c.id == row["id"]).values(**restrictions))
        key = conn.execute(sa.select(api_keys).where(api_keys.c.id == row["id"])).one()
    return ServiceAccountCreated(
        id=account_id,
        name=name,
        created_at=key.created_at,
        api_key=ServiceAccountApiKey(value=secret, name=name, created_at=key.created_at, id=key.id),
        **_shown(key, policy_arns),
    )


def _restrictions(body: ServiceAccountCreate) -> dict[str, Any]:
    """The `api_keys` columns of the key `body` asks for; InvalidRequest naming the field at fault."""
    scopes = scopes_for(body.permissions, body.resources)
    if body.expires_at is not None and body.expires_in_s is not None:
        raise InvalidRequest("Give expires_at or expires_in_s, not both.", param="expires_in_s")
    now = now_s()
    expires_at = now + body.expires_in_s if body.expires_in_s is not None else body.expires_at
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidRequest(f"expires_at must be in the future (now is {now}).", param="expires_at")
    return {
        "permissions": {"mode": body.permissions, "scopes": scopes, "resources": body.resources},
        "allowed_models": list(dict.fromkeys(body.allowed_models)) if body.allowed_models is not None else None,
        "rpm_limit": body.rpm_limit,
        "tpm_limit": body.tpm_limit,
        "expires_at": expires_at,
    }


def _check_policies(conn: sa.Connection, project_id: str, arns: Sequence[str]) -> list[str]:
    """`arns` without repeats, each an AWS managed policy openrft knows or a customer managed one of this project."""
    for i, arn in enumerate(arns):
        if iam.find_policy(conn, project_id, arn) is None:
            raise InvalidRequest(
                f"policy_arns.{i}: no policy {arn!r} to attach (AWS managed: arn:aws:iam::aws:policy/<name>; "
                f"this project's own: arn:aws:iam::{account_of(project_id)}:policy/<path><name>).",
                param=f"policy_arns.{i}",
            )
    return list(dict.fromkeys(arns))


def _policies_of(conn: sa.Connection, project_id: str, rows: Sequence[Any]) -> dict[str, list[str]]:
    """The attached policy ARNs of each key row's service account, keyed by its principal id."""
    ids = [_principal_id(r) for r in rows]
    if not ids:
        return {}
    found = conn.execute(
        sa.select(attachments.c.principal_id, attachments.c.policy_arn)
        .where(
            attachments.c.project_id == project_id,
            attachments.c.principal_type == "service_account",
            attachments.c.principal_id.in_(ids),
        )
        .order_by(attachments.c.created_at, attachments.c.policy_arn)
    ).all()
    by_id: dict[str, list[str]] = {}
    for principal_id, arn in found:
        by_id.setdefault(principal_id, []).append(arn)
    return by_id


def _principal_id(row: Any) -> str:
    return str(row.service_account_id or row.id)


def _shown(row: Any, policy_arns: Sequence[str]) -> dict[str, Any]:
    """The extension block of a key row: its restrictions as the service account and key objects show them."""
    permissions = row.permissions or {}
    mode = permissions.get("mode", "all")
    return {
        "permissions": mode,
        "scopes": permissions.get("scopes") if mode != "all" else None,
        "resources": permissions.get("resources"),
        "allowed_models": row.allowed_models,
        "rpm_limit": row.rpm_limit,
        "tpm_limit": row.tpm_limit,
        "expires_at": row.expires_at,
        "policy_arns": list(policy_arns),
    }


def _owner(row: Any) -> dict[str, Any]:
    if row.id == ADMIN_KEY_ID or row.service_account_id is None:
        user = {"object": "organization.project.user", "id": row.id, "name": row.name, "email": None}
        return {"type": "user", "user": {**user, "role": "owner", "added_at": row.created_at}}
    account = {
        "object": "organization.project.service_account",
        "id": row.service_account_id,
        "name": row.name,
        "role": "member",
        "created_at": row.created_at,
    }
    return {"type": "service_account", "service_account": account}


def _api_key(row: Any, policies: dict[str, list[str]]) -> ApiKey:
    return ApiKey(
        redacted_value=row.redacted_value,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        id=row.id,
        owner=_owner(row),
        **_shown(row, policies.get(_principal_id(row), [])),
    )


def _live_keys(project_id: str) -> list[Any]:
    return [api_keys.c.project_id == project_id, api_keys.c.revoked_at.is_(None)]


def list_api_keys(ctx: AppContext, project_id: str, *, after: str | None, limit: int) -> Page[ApiKey]:
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        rows, has_more = _keyset_page(conn, api_keys, _live_keys(project_id), after=after, limit=limit)
        policies = _policies_of(conn, project_id, rows)
    data = [_api_key(r, policies) for r in rows]
    return Page[ApiKey].of(data, has_more=has_more)


def _require_key(conn: sa.Connection, project_id: str, key_id: str) -> Any:
    _require_project(conn, project_id)
    row = conn.execute(sa.select(api_keys).where(*_live_keys(project_id), api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound(f"No such API key in project {project_id}: {key_id}", param="key_id")
    return row


def get_api_key(ctx: AppContext, project_id: str, key_id: str) -> ApiKey:
    with ctx.store.begin() as conn:
        row = _require_key(conn, project_id, key_id)
        return _api_key(row, _policies_of(conn, project_id, [row]))


def delete_api_key(ctx: AppContext, project_id: str, key_id: str) -> ApiKeyDeleted:
    with ctx.store.begin_immediate() as conn:
        row = _require_key(conn, project_id, key_id)
        if row.id == ADMIN_KEY_ID:
            raise InvalidRequest(
                "The bootstrap admin key comes from OPENRFT_ADMIN_KEY; unset or change it there.",
                param="key_id",
            )
        conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=now_s()))
        _forget_policies(conn, row)
    return ApiKeyDeleted(id=key_id)


def _forget_policies(conn: sa.Connection, row: Any) -> None:
    """Detach the policies of a revoked key's account, so none stays attached to a dead principal."""
    iam.detach_all(conn, project_id=row.project_id, principal_type="service_account", principal_id=_principal_id(row))


def _service_account(row: Any, policies: dict[str, list[str]]) -> ServiceAccount:
    return ServiceAccount(
        id=row.service_account_id,
        name=row.name,
        created_at=row.created_at,
        **_shown(row, policies.get(_principal_id(row), [])),
    )


def _accounts(project_id: str) -> list[Any]:
    return [*_live_keys(project_id), api_keys.c.service_account_id.is_not(None)]


def list_service_accounts(ctx: AppContext, project_id: str, *, after: str | None, limit: int) -> Page[ServiceAccount]:
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        rows, has_more = _keyset_page(
            conn, api_keys, _accounts(project_id), after=after, limit=limit, id_column="service_account_id"
        )
        policies = _policies_of(conn, project_id, rows)
    data = [_service_account(r, policies) for r in rows]
    return Page[ServiceAccount].of(data, has_more=has_more)


def _require_account(conn: sa.Connection, project_id: str, account_id: str) -> Any:
    _require_project(conn, project_id)
    row = conn.execute(
        sa.select(api_keys).where(*_accounts(project_id), api_keys.c.service_account_id == account_id)
    ).first()
    if row is None:
        raise NotFound(f"No such service account in project {project_id}: {account_id}", param="service_account_id")
    return row


def get_service_account(ctx: AppContext, project_id: str, account_id: str) -> ServiceAccount:
    with ctx.store.begin() as conn:
        row = _require_account(conn, project_id, account_id)
        return _service_account(row, _policies_of(conn, project_id, [row]))


def delete_service_account(ctx: AppContext, project_id: str, account_id: str) -> ServiceAccountDeleted:
    """Delete a service account: its key is revoked, its policies detached."""
    with ctx.store.begin_immediate() as conn:
        row = _require_account(conn, project_id, account_id)
        _forget_policies(conn, row)
        conn.execute(
            api_keys.update()
            .where(*_accounts(project_id), api_keys.c.service_account_id == account_id)
            .values(revoked_at=now_s())
        )
    return ServiceAccountDeleted(id=account_id)
