"""Projects, service accounts and project API keys (admin only; the router enforces it).

A service account here is the owner of exactly one key: creating it creates the key and returns the
secret once (hashed for Bearer look-ups, encrypted for SigV4, see auth/keys.py). Deleting a key
revokes it (`revoked_at`): the row stays for audit, the secret gets 401 from then on. The bootstrap
admin key lives in the environment and cannot be deleted through the API.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from openrft.api.organization.schemas import (
    ApiKey,
    ApiKeyDeleted,
    Page,
    Project,
    ServiceAccount,
    ServiceAccountApiKey,
    ServiceAccountCreated,
    ServiceAccountDeleted,
)
from openrft.auth.keys import ADMIN_KEY_ID, DEFAULT_PROJECT_ID, create_key
from openrft.context import AppContext
from openrft.errors import InvalidRequest, NotFound
from openrft.ids import new_id, now_s
from openrft.store import schema
from openrft.store.pages import keyset_page

MAX_LIST_LIMIT = 100
projects = schema.projects
api_keys = schema.api_keys


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


def create_service_account(ctx: AppContext, project_id: str, name: str) -> ServiceAccountCreated:
    if not name.strip():
        raise InvalidRequest("Service account name must not be blank.", param="name")
    account_id = new_id("svc_acct_")
    with ctx.store.begin() as conn:
        project = _require_project(conn, project_id)
        if project.archived_at is not None:
            raise InvalidRequest(f"Project {project_id} is archived.", param="project_id")
        row, secret = create_key(
            conn, ctx.cipher, project_id=project_id, name=name.strip(), service_account_id=account_id
        )
    created_at = int(str(row["created_at"]))
    return ServiceAccountCreated(
        id=account_id,
        name=name.strip(),
        created_at=created_at,
        api_key=ServiceAccountApiKey(value=secret, name=name.strip(), created_at=created_at, id=str(row["id"])),
    )


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


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        redacted_value=row.redacted_value,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        id=row.id,
        owner=_owner(row),
    )


def _live_keys(project_id: str) -> list[Any]:
    return [api_keys.c.project_id == project_id, api_keys.c.revoked_at.is_(None)]


def list_api_keys(ctx: AppContext, project_id: str, *, after: str | None, limit: int) -> Page[ApiKey]:
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        rows, has_more = _keyset_page(conn, api_keys, _live_keys(project_id), after=after, limit=limit)
    data = [_api_key(r) for r in rows]
    return Page[ApiKey].of(data, has_more=has_more)


def _require_key(conn: sa.Connection, project_id: str, key_id: str) -> Any:
    _require_project(conn, project_id)
    row = conn.execute(sa.select(api_keys).where(*_live_keys(project_id), api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound(f"No such API key in project {project_id}: {key_id}", param="key_id")
    return row


def get_api_key(ctx: AppContext, project_id: str, key_id: str) -> ApiKey:
    with ctx.store.begin() as conn:
        return _api_key(_require_key(conn, project_id, key_id))


def delete_api_key(ctx: AppContext, project_id: str, key_id: str) -> ApiKeyDeleted:
    with ctx.store.begin_immediate() as conn:
        row = _require_key(conn, project_id, key_id)
        if row.id == ADMIN_KEY_ID:
            raise InvalidRequest(
                "The bootstrap admin key comes from OPENRFT_ADMIN_KEY; unset or change it there.",
                param="key_id",
            )
        conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=now_s()))
    return ApiKeyDeleted(id=key_id)


def _service_account(row: Any) -> ServiceAccount:
    return ServiceAccount(id=row.service_account_id, name=row.name, created_at=row.created_at)


def _accounts(project_id: str) -> list[Any]:
    return [*_live_keys(project_id), api_keys.c.service_account_id.is_not(None)]


def list_service_accounts(ctx: AppContext, project_id: str, *, after: str | None, limit: int) -> Page[ServiceAccount]:
    with ctx.store.begin() as conn:
        _require_project(conn, project_id)
        rows, has_more = _keyset_page(
            conn, api_keys, _accounts(project_id), after=after, limit=limit, id_column="service_account_id"
        )
    data = [_service_account(r) for r in rows]
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
        return _service_account(_require_account(conn, project_id, account_id))


def delete_service_account(ctx: AppContext, project_id: str, account_id: str) -> ServiceAccountDeleted:
    """Delete a service account: its key is revoked."""
    with ctx.store.begin_immediate() as conn:
        _require_account(conn, project_id, account_id)
        conn.execute(
            api_keys.update()
            .where(*_accounts(project_id), api_keys.c.service_account_id == account_id)
            .values(revoked_at=now_s())
        )
    return ServiceAccountDeleted(id=account_id)
