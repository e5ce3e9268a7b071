"""Reading the audit trail: filters, keyset pages, and the rows in OpenAI's audit log shape.

The admin key reads every project's events (and those of no project); any other principal reads its
own project's only, whatever `project_ids` it names (the route's authorization, `audit:ListAuditLogs`
with scope `api.audit.read`, is checked before this). Newest first, in chain order (`seq`); `after`
pages towards older events, `before` towards newer ones (the page just before that event, and
`has_more` then says whether newer ones remain beyond it).

`actor_ids` match a key id, a service account id, a principal ARN or a role ARN; `resource_ids` match
a resource as recorded (an ARN or an id) or the id at its end (`file-abc` in
`arn:openrft:files:us-east-1:123456789012:file/file-abc`, `name` or `name:qualifier` of a function).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openrft.api.audit.schemas import (
    AuditLog,
    AuditLogActor,
    AuditLogActorApiKey,
    AuditLogActorServiceAccount,
    AuditLogActorUser,
    AuditLogExtension,
    AuditLogPage,
    AuditLogProject,
)
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import InvalidRequest
from openrft.store import schema
from openrft.store.pages import keyset_page

MAX_LIST_LIMIT = 100
audit_log = schema.audit_log
_ITEM_FIELDS = frozenset({"id", "type", "effective_at", "project", "actor", "openrft", "object"})
LAMBDA_PREFIX = "function:"


@dataclass(frozen=True)
class AuditLogFilters:
    """The list's query: OpenAI's parameters (`effective_at[gt]`, `project_ids[]`, ...)."""

    effective_at_gt: int | None = None
    effective_at_gte: int | None = None
    effective_at_lt: int | None = None
    effective_at_lte: int | None = None
    project_ids: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    actor_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()
    limit: int = 20
    after: str | None = None
    before: str | None = None


def resource_id(resource: str | None) -> str | None:
    """The id at the end of a resource ARN (the resource itself when it is not an ARN)."""
    if resource is None or not resource.startswith("arn:"):
        return resource
    part = resource.split(":", 5)[-1]  # after arn:partition:service:region:account:
    if part.startswith(LAMBDA_PREFIX):
        return part[len(LAMBDA_PREFIX) :]
    return part.rsplit("/", 1)[-1]


def _scope(principal: Principal, filters: AuditLogFilters) -> list[sa.ColumnElement[bool]]:
    c = audit_log.c
    scope: list[sa.ColumnElement[bool]] = []
    if not principal.is_admin:
        scope.append(c.project_id == principal.project_id)
    bounds = (
        (filters.effective_at_gt, c.effective_at.__gt__),
        (filters.effective_at_gte, c.effective_at.__ge__),
        (filters.effective_at_lt, c.effective_at.__lt__),
        (filters.effective_at_lte, c.effective_at.__le__),
    )
    scope += [compare(bound) for bound, compare in bounds if bound is not None]
    if filters.project_ids:
        scope.append(c.project_id.in_(filters.project_ids))
    if filters.event_types:
        scope.append(c.type.in_(filters.event_types))
    if ids := filters.actor_ids:
        actor = c.actor
        scope.append(
            sa.or_(
                c.key_id.in_(ids),
                actor["service_account_id"].as_string().in_(ids),
                actor["arn"].as_string().in_(ids),
                actor["role_arn"].as_string().in_(ids),
            )
        )
    if filters.resource_ids:
        scope.append(sa.or_(*[_names_resource(rid) for rid in filters.resource_ids]))
    return scope


def _names_resource(rid: str) -> sa.ColumnElement[bool]:
    r = audit_log.c.resource
    return sa.or_(
        r == rid,
        sa.and_(r.startswith("arn:"), r.endswith("/" + rid, autoescape=True)),
        sa.and_(r.startswith("arn:"), r.endswith(":" + LAMBDA_PREFIX + rid, autoescape=True)),
    )


def list_audit_logs(ctx: AppContext, principal: Principal, filters: AuditLogFilters) -> AuditLogPage:
    if not 1 <= filters.limit <= MAX_LIST_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}.", param="limit")
    if filters.after and filters.before:
        raise InvalidRequest("Pass at most one of after and before.", param="before")
    cursor = filters.before or filters.after
    with ctx.store.begin() as conn:
        rows, has_more = keyset_page(
            conn,
            audit_log,
            _scope(principal, filters),
            keys=(audit_log.c.seq,),
            id_column=audit_log.c.id,
            after=cursor,
            limit=filters.limit,
            descending=filters.before is None,  # newest first; `before` reads towards newer ones
            unknown_after=f"Unknown cursor {cursor!r}: no such audit log event in this list.",
        )
        if filters.before:
            rows.reverse()
        names = _project_names(conn, {row.project_id for row in rows if row.project_id})
    data = [_item(row, names) for row in rows]
    return AuditLogPage(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )


def _project_names(conn: sa.Connection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    projects = schema.projects
    found = conn.execute(sa.select(projects.c.id, projects.c.name).where(projects.c.id.in_(ids)))
    return {str(row.id): str(row.name) for row in found}


def _actor(actor: Any) -> AuditLogActor | None:
    if not isinstance(actor, dict) or not actor.get("key_id"):
        return None
    key_id = str(actor["key_id"])
    account = actor.get("service_account_id") or (actor.get("arn") if actor.get("role_arn") else None)
    if account:  # a service account's key, or a role session's temporary key (its account: the session ARN)
        api_key = AuditLogActorApiKey(
            id=key_id, type="service_account", service_account=AuditLogActorServiceAccount(id=str(account))
        )
    else:  # the admin key, or a key of no service account: a user's key in OpenAI's terms
        api_key = AuditLogActorApiKey(id=key_id, type="user", user=AuditLogActorUser(id=key_id))
    return AuditLogActor(type="api_key", api_key=api_key)


def _item(row: Any, names: dict[str, str]) -> AuditLog:
    actor = row.actor if isinstance(row.actor, dict) else {}
    extension = AuditLogExtension(
        principal=actor.get("arn"),
        action=row.action,
        resource=row.resource,
        outcome=row.outcome,
        decision=row.decision,
        source_ip=row.source_ip,
        user_agent=row.user_agent,
        request_id=row.request_id,
        seq=row.seq,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
    project = AuditLogProject(id=row.project_id, name=names.get(row.project_id)) if row.project_id else None
    typed: dict[str, Any] = {}
    if row.type not in _ITEM_FIELDS:
        details = row.details if isinstance(row.details, dict) else {}
        typed[row.type] = {"id": resource_id(row.resource), **details}
    return AuditLog(
        id=row.id,
        type=row.type,
        effective_at=row.effective_at,
        project=project,
        actor=_actor(row.actor),
        openrft=extension,
        **typed,
    )
