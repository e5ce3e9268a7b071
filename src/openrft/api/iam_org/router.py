"""Routes of the organization API for IAM: a project's roles, managed policies, and the policies of its
service accounts (`/v1/organization/projects/{project_id}/roles|policies|service_accounts/{id}/policies`).

Every route needs an admin key (`require_admin`), as the rest of the organization API. The same roles
and policies answer on the IAM query API (boto3's `iam` client), where a project key acts in its own
project under its policies.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from openrft.api.deps import get_ctx, require_admin
from openrft.api.iam_org import schemas, service
from openrft.api.iam_org.service import PolicyScope
from openrft.api.openapi import openai_errors
from openrft.api.organization.schemas import Page
from openrft.context import AppContext

router = APIRouter(prefix="/organization", tags=["organization"], dependencies=[Depends(require_admin)])
NOT_FOUND = openai_errors(404)
CONFLICT = openai_errors(404, 409)
ROLE = "/projects/{project_id}/roles/{role_name}"
ACCOUNT = "/projects/{project_id}/service_accounts/{service_account_id}"


@router.post("/projects/{project_id}/roles", response_model=schemas.Role, responses=CONFLICT)
def create_role(project_id: str, body: schemas.RoleCreate, ctx: AppContext = Depends(get_ctx)) -> schemas.Role:
    return service.create_role(ctx, project_id, body)


@router.get("/projects/{project_id}/roles", response_model=Page[schemas.Role], responses=NOT_FOUND)
def list_roles(
    project_id: str, after: str | None = None, limit: int = 20, ctx: AppContext = Depends(get_ctx)
) -> Page[schemas.Role]:
    return service.list_roles(ctx, project_id, after=after, limit=limit)


@router.get(ROLE, response_model=schemas.Role, responses=NOT_FOUND)
def retrieve_role(project_id: str, role_name: str, ctx: AppContext = Depends(get_ctx)) -> schemas.Role:
    return service.get_role(ctx, project_id, role_name)


@router.delete(ROLE, response_model=schemas.RoleDeleted, responses=CONFLICT)
def delete_role(project_id: str, role_name: str, ctx: AppContext = Depends(get_ctx)) -> schemas.RoleDeleted:
    return service.delete_role(ctx, project_id, role_name)


@router.delete(f"{ROLE}/sessions", response_model=schemas.SessionsRevoked, responses=NOT_FOUND)
def revoke_role_sessions(
    project_id: str, role_name: str, ctx: AppContext = Depends(get_ctx)
) -> schemas.SessionsRevoked:
    """Revoke every live session of the role: their credentials get ExpiredToken from now on."""
    return service.revoke_sessions(ctx, project_id, role_name)


@router.put(f"{ROLE}/policies/{{policy_name}}", response_model=schemas.InlinePolicy, responses=NOT_FOUND)
def put_role_policy(
    project_id: str,
    role_name: str,
    policy_name: str,
    body: schemas.InlinePolicyPut,
    ctx: AppContext = Depends(get_ctx),
) -> schemas.InlinePolicy:
    return service.put_inline_policy(ctx, project_id, "role", role_name, policy_name, body)


@router.delete(f"{ROLE}/policies/{{policy_name}}", response_model=schemas.InlinePolicyDeleted, responses=NOT_FOUND)
def delete_role_policy(
    project_id: str, role_name: str, policy_name: str, ctx: AppContext = Depends(get_ctx)
) -> schemas.InlinePolicyDeleted:
    return service.delete_inline_policy(ctx, project_id, "role", role_name, policy_name)


@router.post(f"{ROLE}/attach_policy", response_model=schemas.Attachments, responses=NOT_FOUND)
def attach_role_policy(
    project_id: str, role_name: str, body: schemas.PolicyAttach, ctx: AppContext = Depends(get_ctx)
) -> schemas.Attachments:
    return service.attach(ctx, project_id, "role", role_name, body.policy_arn)


@router.post(f"{ROLE}/detach_policy", response_model=schemas.Attachments, responses=NOT_FOUND)
def detach_role_policy(
    project_id: str, role_name: str, body: schemas.PolicyAttach, ctx: AppContext = Depends(get_ctx)
) -> schemas.Attachments:
    return service.detach(ctx, project_id, "role", role_name, body.policy_arn)


@router.get(f"{ACCOUNT}/policies", response_model=schemas.Attachments, responses=NOT_FOUND)
def service_account_policies(
    project_id: str, service_account_id: str, ctx: AppContext = Depends(get_ctx)
) -> schemas.Attachments:
    return service.attachments(ctx, project_id, "service_account", service_account_id)


@router.put(f"{ACCOUNT}/policies/{{policy_name}}", response_model=schemas.InlinePolicy, responses=NOT_FOUND)
def put_service_account_policy(
    project_id: str,
    service_account_id: str,
    policy_name: str,
    body: schemas.InlinePolicyPut,
    ctx: AppContext = Depends(get_ctx),
) -> schemas.InlinePolicy:
    return service.put_inline_policy(ctx, project_id, "service_account", service_account_id, policy_name, body)


@router.delete(f"{ACCOUNT}/policies/{{policy_name}}", response_model=schemas.InlinePolicyDeleted, responses=NOT_FOUND)
def delete_service_account_policy(
    project_id: str, service_account_id: str, policy_name: str, ctx: AppContext = Depends(get_ctx)
) -> schemas.InlinePolicyDeleted:
    return service.delete_inline_policy(ctx, project_id, "service_account", service_account_id, policy_name)


@router.post(f"{ACCOUNT}/attach_policy", response_model=schemas.Attachments, responses=NOT_FOUND)
def attach_service_account_policy(
    project_id: str, service_account_id: str, body: schemas.PolicyAttach, ctx: AppContext = Depends(get_ctx)
) -> schemas.Attachments:
    return service.attach(ctx, project_id, "service_account", service_account_id, body.policy_arn)


@router.post(f"{ACCOUNT}/detach_policy", response_model=schemas.Attachments, responses=NOT_FOUND)
def detach_service_account_policy(
    project_id: str, service_account_id: str, body: schemas.PolicyAttach, ctx: AppContext = Depends(get_ctx)
) -> schemas.Attachments:
    return service.detach(ctx, project_id, "service_account", service_account_id, body.policy_arn)


@router.post("/projects/{project_id}/policies", response_model=schemas.Policy, responses=CONFLICT)
def create_policy(project_id: str, body: schemas.PolicyCreate, ctx: AppContext = Depends(get_ctx)) -> schemas.Policy:
    return service.create_policy(ctx, project_id, body)


@router.get("/projects/{project_id}/policies", response_model=Page[schemas.Policy], responses=NOT_FOUND)
def list_policies(
    project_id: str,
    scope: PolicyScope = "all",
    after: str | None = None,
    limit: int = 20,
    ctx: AppContext = Depends(get_ctx),
) -> Page[schemas.Policy]:
    """`scope`: local (the project's own), aws (AWS managed) or all; `after`: the last ARN seen."""
    return service.list_policies(ctx, project_id, scope=scope, after=after, limit=limit)


@router.get("/projects/{project_id}/policies/{policy_ref:path}", response_model=schemas.Policy, responses=NOT_FOUND)
def retrieve_policy(project_id: str, policy_ref: str, ctx: AppContext = Depends(get_ctx)) -> schemas.Policy:
    """`policy_ref`: a customer managed policy's name, or any policy's ARN."""
    return service.get_policy(ctx, project_id, policy_ref)


@router.delete(
    "/projects/{project_id}/policies/{policy_ref:path}", response_model=schemas.PolicyDeleted, responses=CONFLICT
)
def delete_policy(project_id: str, policy_ref: str, ctx: AppContext = Depends(get_ctx)) -> schemas.PolicyDeleted:
    return service.delete_policy(ctx, project_id, policy_ref)
