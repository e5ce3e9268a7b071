"""Routes of the organization API (`/v1/organization/...`): projects, service accounts, API keys.

Every route needs an admin key (`require_admin`); a project key gets 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from openrft.api.deps import get_ctx, require_admin
from openrft.api.openapi import openai_errors
from openrft.api.organization import service
from openrft.api.organization.schemas import (
    ApiKey,
    ApiKeyDeleted,
    Page,
    Project,
    ProjectCreate,
    ProjectUpdate,
    ServiceAccount,
    ServiceAccountCreate,
    ServiceAccountCreated,
    ServiceAccountDeleted,
)
from openrft.context import AppContext

router = APIRouter(prefix="/organization", tags=["organization"], dependencies=[Depends(require_admin)])
NOT_FOUND = openai_errors(404)


@router.post("/projects", response_model=Project)
def create_project(body: ProjectCreate, ctx: AppContext = Depends(get_ctx)) -> Project:
    return service.create_project(ctx, body.name)


@router.get("/projects", response_model=Page[Project])
def list_projects(
    after: str | None = None,
    limit: int = 20,
    include_archived: bool = False,
    ctx: AppContext = Depends(get_ctx),
) -> Page[Project]:
    return service.list_projects(ctx, after=after, limit=limit, include_archived=include_archived)


@router.get("/projects/{project_id}", response_model=Project, responses=NOT_FOUND)
def retrieve_project(project_id: str, ctx: AppContext = Depends(get_ctx)) -> Project:
    return service.get_project(ctx, project_id)


@router.post("/projects/{project_id}", response_model=Project, responses=NOT_FOUND)
def update_project(project_id: str, body: ProjectUpdate, ctx: AppContext = Depends(get_ctx)) -> Project:
    return service.update_project(ctx, project_id, body.name)


@router.post("/projects/{project_id}/archive", response_model=Project, responses=NOT_FOUND)
def archive_project(project_id: str, ctx: AppContext = Depends(get_ctx)) -> Project:
    return service.archive_project(ctx, project_id)


@router.post("/projects/{project_id}/service_accounts", response_model=ServiceAccountCreated, responses=NOT_FOUND)
def create_service_account(
    project_id: str, body: ServiceAccountCreate, ctx: AppContext = Depends(get_ctx)
) -> ServiceAccountCreated:
    return service.create_service_account(ctx, project_id, body)


@router.get("/projects/{project_id}/service_accounts", response_model=Page[ServiceAccount], responses=NOT_FOUND)
def list_service_accounts(
    project_id: str, after: str | None = None, limit: int = 20, ctx: AppContext = Depends(get_ctx)
) -> Page[ServiceAccount]:
    return service.list_service_accounts(ctx, project_id, after=after, limit=limit)


@router.get(
    "/projects/{project_id}/service_accounts/{service_account_id}", response_model=ServiceAccount, responses=NOT_FOUND
)
def retrieve_service_account(
    project_id: str, service_account_id: str, ctx: AppContext = Depends(get_ctx)
) -> ServiceAccount:
    return service.get_service_account(ctx, project_id, service_account_id)


@router.delete(
    "/projects/{project_id}/service_accounts/{service_account_id}",
    response_model=ServiceAccountDeleted,
    responses=NOT_FOUND,
)
def delete_service_account(
    project_id: str, service_account_id: str, ctx: AppContext = Depends(get_ctx)
) -> ServiceAccountDeleted:
    return service.delete_service_account(ctx, project_id, service_account_id)


@router.get("/projects/{project_id}/api_keys", response_model=Page[ApiKey], responses=NOT_FOUND)
def list_api_keys(
    project_id: str, after: str | None = None, limit: int = 20, ctx: AppContext = Depends(get_ctx)
) -> Page[ApiKey]:
    return service.list_api_keys(ctx, project_id, after=after, limit=limit)


@router.get("/projects/{project_id}/api_keys/{key_id}", response_model=ApiKey, responses=NOT_FOUND)
def retrieve_api_key(project_id: str, key_id: str, ctx: AppContext = Depends(get_ctx)) -> ApiKey:
    return service.get_api_key(ctx, project_id, key_id)


@router.delete("/projects/{project_id}/api_keys/{key_id}", response_model=ApiKeyDeleted, responses=NOT_FOUND)
def delete_api_key(project_id: str, key_id: str, ctx: AppContext = Depends(get_ctx)) -> ApiKeyDeleted:
    return service.delete_api_key(ctx, project_id, key_id)
