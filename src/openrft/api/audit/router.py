"""`GET /v1/organization/audit_logs`: the audit trail, as OpenAI's Audit Logs API lists it.

Query parameters in OpenAI's (and its SDK's) bracket form: `effective_at[gt|gte|lt|lte]`,
`project_ids[]`, `event_types[]`, `actor_ids[]`, `resource_ids[]`, plus `limit`, `after`, `before`.
Any authenticated principal may call it; what it sees is scoped in the service (admin: everything).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openrft.api.audit import service
from openrft.api.audit.schemas import AuditLogPage
from openrft.api.audit.service import AuditLogFilters
from openrft.api.deps import get_ctx, get_principal
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(prefix="/organization", tags=["audit"])

Ids = list[str] | None
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what the database can compare with


def audit_log_filters(
    effective_at_gt: Annotated[int | None, Query(alias="effective_at[gt]", ge=INT64_MIN, le=INT64_MAX)] = None,
    effective_at_gte: Annotated[int | None, Query(alias="effective_at[gte]", ge=INT64_MIN, le=INT64_MAX)] = None,
    effective_at_lt: Annotated[int | None, Query(alias="effective_at[lt]", ge=INT64_MIN, le=INT64_MAX)] = None,
    effective_at_lte: Annotated[int | None, Query(alias="effective_at[lte]", ge=INT64_MIN, le=INT64_MAX)] = None,
    project_ids: Annotated[Ids, Query(alias="project_ids[]", description="Only events of these projects.")] = None,
    event_types: Annotated[Ids, Query(alias="event_types[]", description="Only events of these types.")] = None,
    actor_ids: Annotated[
        Ids, Query(alias="actor_ids[]", description="Key ids, service account ids, principal or role ARNs.")
    ] = None,
    resource_ids: Annotated[
        Ids, Query(alias="resource_ids[]", description="Resource ARNs or the ids at their end.")
    ] = None,
    limit: Annotated[int, Query(description="1 to 100.")] = 20,
    after: Annotated[str | None, Query(description="An event id: the page of older events after it.")] = None,
    before: Annotated[str | None, Query(description="An event id: the page of newer events before it.")] = None,
) -> AuditLogFilters:
    return AuditLogFilters(
        effective_at_gt=effective_at_gt,
        effective_at_gte=effective_at_gte,
        effective_at_lt=effective_at_lt,
        effective_at_lte=effective_at_lte,
        project_ids=tuple(project_ids or ()),
        event_types=tuple(event_types or ()),
        actor_ids=tuple(actor_ids or ()),
        resource_ids=tuple(resource_ids or ()),
        limit=limit,
        after=after,
        before=before,
    )


@router.get("/audit_logs", response_model=AuditLogPage)
def list_audit_logs(
    principal: Principal = Depends(get_principal),
    filters: AuditLogFilters = Depends(audit_log_filters),
    ctx: AppContext = Depends(get_ctx),
) -> AuditLogPage:
    return service.list_audit_logs(ctx, principal, filters)
