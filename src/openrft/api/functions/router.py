"""AWS Lambda REST paths under /2015-03-31/functions: what boto3's `lambda` client calls.

Handlers translate HTTP to the registry and back; shapes live in service.py, bodies in schemas.py.
Authentication is SigV4 (boto3, the AWS CLI) or a Bearer key (deps.get_principal). FunctionName in a
path may be a name, a partial ARN or an ARN, with an optional `:qualifier`.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from openrft.api import authz
from openrft.api.authz import RequestInfo
from openrft.api.deps import get_ctx, get_principal
from openrft.api.functions import schemas, service
from openrft.api.functions.schemas import (
    AddPermissionResponse,
    AliasConfiguration,
    FunctionConfiguration,
    GetFunctionResponse,
    GetPolicyResponse,
    ListAliasesResponse,
    ListFunctionsResponse,
    ListVersionsByFunctionResponse,
)
from openrft.api.openapi import aws_errors, json_body
from openrft.auth import iam, identity
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import RequestTooLarge
from openrft.functions import permissions, registry
from openrft.functions.registry import FunctionSpec

router = APIRouter(prefix="/2015-03-31/functions")


MAX_REQUEST_BYTES = 70_167_211  # AWS's CreateFunction request limit (a 50 MB zip, base64 in JSON)


async def raw_body(request: Request) -> bytes:
    """The body, refused past AWS's request limit before it is all in memory."""
    too_large = RequestTooLarge(f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for this operation")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # starlette's cache: SigV4 verification reads the same bytes
    return body


def _op(response_model: type[BaseModel] | None, *errors: int, body: type[BaseModel] | None = None) -> dict[str, Any]:
    """Route arguments: the response shape (unset members left out: AWS never sends null), the errors
    answered besides the common ones, and the JSON body the handler parses itself (after `raw_body`)."""
    args: dict[str, Any] = {"responses": aws_errors(*errors)} if errors else {}
    if response_model is not None:
        args |= {"response_model": response_model, "response_model_exclude_none": True}
    else:
        args |= {"status_code": 204, "response_class": Response}
    if body is not None:
        args["openapi_extra"] = json_body(body)
    return args


_STRING = {"schema": {"type": "string"}}
INVOKE_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"description": "The event: any JSON value (none: {})."}}},
    }
}
INVOKE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "RequestResponse: the handler's return value as JSON, or its error when "
        "X-Amz-Function-Error is set ({errorMessage, errorType, requestId, stackTrace}).",
        "content": {"application/json": {"schema": {}}},
        "headers": {
            "X-Amz-Executed-Version": {"required": True, **_STRING},
            "x-amzn-RequestId": {"required": True, **_STRING},
            "X-Amz-Function-Error": {"description": "Unhandled, when the function raised.", **_STRING},
            "X-Amz-Log-Result": {"description": "LogType Tail: base64 of the last 4 KB of the log.", **_STRING},
        },
    },
    202: {
        "description": "Event: the function ran (synchronously here); no body.",
        "headers": {"x-amzn-RequestId": {"required": True, **_STRING}},
    },
    204: {
        "description": "DryRun: the function exists and the caller may invoke it.",
        "headers": {"X-Amz-Executed-Version": {"required": True, **_STRING}},
    },
    **aws_errors(404, 413),
}


@router.post("", status_code=201, **_op(FunctionConfiguration, 404, 409, 413, body=schemas.CreateFunctionRequest))
@router.post("/", status_code=201, include_in_schema=False, **_op(FunctionConfiguration))
def create_function(
    request: Request,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    req = schemas.parse_body(schemas.CreateFunctionRequest, body)
    pass_execution_role(ctx, principal, RequestInfo.of(request), req.Role)
    if req.PackageType != "Zip":
        raise registry.invalid("Only PackageType Zip is supported.")
    if not req.Runtime or not req.Handler:
        raise registry.invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    zip_bytes = schemas.decode_zip(req.Code.ZipFile, s3=req.Code.S3Bucket, image=req.Code.ImageUri)
    spec = FunctionSpec(
        runtime=req.Runtime,
        handler=req.Handler,
        timeout_s=req.Timeout,
        memory_mb=req.MemorySize,
        environment=req.Environment.Variables if req.Environment else {},
        description=req.Description,
        role=req.Role,
    )
    name, qualifier = registry.split_ref(principal.project_id, req.FunctionName)
    if qualifier:
        raise registry.invalid("FunctionName of CreateFunction cannot carry a qualifier.")
    row = registry.create_function(
        ctx.store, ctx.blobs, principal.project_id, name, spec, zip_bytes, publish=req.Publish
    )
    return service.function_config(principal.project_id, row)


@router.get("", **_op(ListFunctionsResponse))
@router.get("/", include_in_schema=False, **_op(ListFunctionsResponse))
def list_functions(
    function_version: str | None = Query(None, alias="FunctionVersion"),
    marker: str | None = Query(None, alias="Marker"),
    max_items: int | None = Query(None, alias="MaxItems"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    rows = registry.list_latest(ctx.store, principal.project_id)
    if function_version == "ALL":
        rows = [v for r in rows for v in registry.list_versions(ctx.store, principal.project_id, r["function_name"])]
    elif function_version is not None:
        raise registry.invalid("FunctionVersion must be ALL")
    shape = partial(service.function_config, principal.project_id)
    return service.paged("Functions", rows, marker, max_items, shape)


@router.get("/{function_name}", **_op(GetFunctionResponse, 404))
def get_function(
    request: Request,
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    row = registry.get_version(ctx.store, principal.project_id, name, qualifier)
    location = f"{str(request.base_url).rstrip('/')}/2015-03-31/functions/{name}/code?Qualifier={row['version']}"
    return {
        "Configuration": service.function_config(principal.project_id, row, qualified=qualifier is not None),
        "Code": {"RepositoryType": "S3", "Location": location},
    }


@router.get(
    "/{function_name}/code",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The deployment package."}, **aws_errors(404)},
)
def download_code(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    """openrft's stand-in for GetFunction's presigned S3 URL: the zip, for an authenticated caller."""
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    row = registry.get_version(ctx.store, principal.project_id, name, qualifier)
    return Response(registry.read_code(ctx.blobs, row), media_type="application/zip")


@router.delete("/{function_name}", **_op(None, 404, 409))
def delete_function(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    registry.delete_function(ctx.store, ctx.blobs, principal.project_id, name, qualifier)
    return Response(status_code=204)


@router.get("/{function_name}/configuration", **_op(FunctionConfiguration, 404))
def get_function_configuration(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    row = registry.get_version(ctx.store, principal.project_id, name, qualifier)
    return service.function_config(principal.project_id, row, qualified=qualifier is not None)


@router.put(
    "/{function_name}/configuration",
    **_op(FunctionConfiguration, 404, 412, 413, body=schemas.UpdateFunctionConfigurationRequest),
)
def update_function_configuration(
    function_name: str,
    request: Request,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    req = schemas.parse_body(schemas.UpdateFunctionConfigurationRequest, body)
    if req.Role is not None:
        pass_execution_role(ctx, principal, RequestInfo.of(request), req.Role)
    name = _unqualified(principal, function_name)
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "runtime": req.Runtime,
            "handler": req.Handler,
            "timeout_s": req.Timeout,
            "memory_mb": req.MemorySize,
            "description": req.Description,
            "role": req.Role,
            "environment": req.Environment.Variables if req.Environment else None,
        }.items()
        if value is not None
    }
    row = registry.update_configuration(
        ctx.store, ctx.blobs, principal.project_id, name, changes, revision_id=req.RevisionId
    )
    return service.function_config(principal.project_id, row)


@router.put(
    "/{function_name}/code", **_op(FunctionConfiguration, 404, 412, 413, body=schemas.UpdateFunctionCodeRequest)
)
def update_function_code(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    req = schemas.parse_body(schemas.UpdateFunctionCodeRequest, body)
    name = _unqualified(principal, function_name)
    zip_bytes = schemas.decode_zip(req.ZipFile, s3=req.S3Bucket, image=req.ImageUri)
    if req.DryRun:
        latest = registry.get_version(ctx.store, principal.project_id, name)
        registry.validate_zip(zip_bytes, latest["handler"])
        return service.function_config(principal.project_id, latest)
    row = registry.update_code(
        ctx.store, ctx.blobs, principal.project_id, name, zip_bytes, publish=req.Publish, revision_id=req.RevisionId
    )
    return service.function_config(principal.project_id, row)


@router.post(
    "/{function_name}/versions",
    status_code=201,
    **_op(FunctionConfiguration, 404, 412, 413, body=schemas.PublishVersionRequest),
)
def publish_version(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    req = schemas.parse_body(schemas.PublishVersionRequest, body)
    row = registry.publish_version(
        ctx.store,
        principal.project_id,
        _unqualified(principal, function_name),
        expected_sha256=req.CodeSha256,
        description=req.Description,
        revision_id=req.RevisionId,
    )
    return service.function_config(principal.project_id, row)


@router.get("/{function_name}/versions", **_op(ListVersionsByFunctionResponse, 404))
def list_versions_by_function(
    function_name: str,
    marker: str | None = Query(None, alias="Marker"),
    max_items: int | None = Query(None, alias="MaxItems"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    rows = registry.list_versions(ctx.store, principal.project_id, _unqualified(principal, function_name))
    shape = partial(service.function_config, principal.project_id)
    return service.paged("Versions", rows, marker, max_items, shape)


@router.post(
    "/{function_name}/aliases",
    status_code=201,
    **_op(AliasConfiguration, 404, 409, 413, body=schemas.CreateAliasRequest),
)
def create_alias(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    req = schemas.parse_body(schemas.CreateAliasRequest, body)
    schemas.check_routing(req.RoutingConfig)
    name = _unqualified(principal, function_name)
    row = registry.create_alias(ctx.store, principal.project_id, name, req.Name, req.FunctionVersion, req.Description)
    return service.alias_config(principal.project_id, row)


@router.get("/{function_name}/aliases", **_op(ListAliasesResponse, 404))
def list_aliases(
    function_name: str,
    function_version: str | None = Query(None, alias="FunctionVersion"),
    marker: str | None = Query(None, alias="Marker"),
    max_items: int | None = Query(None, alias="MaxItems"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    name = _unqualified(principal, function_name)
    rows = registry.list_aliases(ctx.store, principal.project_id, name, function_version)
    shape = partial(service.alias_config, principal.project_id)
    return service.paged("Aliases", rows, marker, max_items, shape)


@router.get("/{function_name}/aliases/{alias}", **_op(AliasConfiguration, 404))
def get_alias(
    function_name: str,
    alias: str,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    row = registry.get_alias(ctx.store, principal.project_id, _unqualified(principal, function_name), alias)
    return service.alias_config(principal.project_id, row)


@router.put(
    "/{function_name}/aliases/{alias}", **_op(AliasConfiguration, 404, 412, 413, body=schemas.UpdateAliasRequest)
)
def update_alias(
    function_name: str,
    alias: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    req = schemas.parse_body(schemas.UpdateAliasRequest, body)
    schemas.check_routing(req.RoutingConfig)
    row = registry.update_alias(
        ctx.store,
        principal.project_id,
        _unqualified(principal, function_name),
        alias,
        version=req.FunctionVersion,
        description=req.Description,
        revision_id=req.RevisionId,
    )
    return service.alias_config(principal.project_id, row)


@router.delete("/{function_name}/aliases/{alias}", **_op(None, 404))
def delete_alias(
    function_name: str,
    alias: str,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    registry.delete_alias(ctx.store, principal.project_id, _unqualified(principal, function_name), alias)
    return Response(status_code=204)


@router.post(
    "/{function_name}/invocations", response_class=Response, responses=INVOKE_RESPONSES, openapi_extra=INVOKE_BODY
)
def invoke(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    invocation_type: str = Header("RequestResponse", alias="X-Amz-Invocation-Type"),
    log_type: str | None = Header(None, alias="X-Amz-Log-Type"),
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    outcome = service.invoke(
        ctx, principal.project_id, function_name, qualifier, body, invocation_type=invocation_type, log_type=log_type
    )
    return Response(
        content=outcome.body, status_code=outcome.status_code, headers=outcome.headers, media_type="application/json"
    )


@router.post(
    "/{function_name}/policy",
    status_code=201,
    **_op(AddPermissionResponse, 404, 409, 412, body=schemas.AddPermissionRequest),
)
def add_permission(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    fields = schemas.parse_body(schemas.AddPermissionRequest, body).model_dump(exclude_none=True)
    statement = permissions.add_permission(ctx.store, principal.project_id, name, qualifier, fields)
    return {"Statement": json.dumps(statement)}


@router.get("/{function_name}/policy", **_op(GetPolicyResponse, 404))
def get_policy(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    return permissions.get_policy(ctx.store, principal.project_id, name, qualifier)


@router.delete("/{function_name}/policy/{statement_id}", **_op(None, 404, 412))
def remove_permission(
    function_name: str,
    statement_id: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    revision_id: str | None = Query(None, alias="RevisionId"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    permissions.remove_permission(ctx.store, principal.project_id, name, qualifier, statement_id, revision_id)
    return Response(status_code=204)


def pass_execution_role(ctx: AppContext, principal: Principal, info: RequestInfo, role: str | None) -> None:
    """Naming an openrft role as a function's Role passes it to Lambda: iam:PassRole on it, as AWS requires,
    and the role must trust lambda.amazonaws.com. A role ARN of another account names no openrft role:
    the function then runs without credentials (see docs/operations.md)."""
    if not role or not role.startswith(f"arn:aws:iam::{principal.account_id}:role/"):
        return
    with ctx.store.begin() as conn:
        found = iam.role_by_arn(conn, role)
    if found is None or found.project_id != principal.project_id:
        raise registry.invalid(f"The role defined for the function cannot be assumed by Lambda: no role {role}.")
    if not identity.trusts_service(found.project_id, found.trust_policy, "lambda.amazonaws.com"):
        raise registry.invalid("The role defined for the function cannot be assumed by Lambda.")
    keys = {"iam:PassedToService": ["lambda.amazonaws.com"]}
    authz.check(ctx, principal, info, "iam:PassRole", role, keys=keys)


def _unqualified(principal: Principal, function_ref: str) -> str:
    name, qualifier = registry.split_ref(principal.project_id, function_ref)
    if qualifier:
        raise registry.invalid(f"{function_ref!r}: this operation takes an unqualified function name or ARN.")
    return name
