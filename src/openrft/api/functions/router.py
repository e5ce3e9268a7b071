"""AWS Lambda REST paths under /2015-03-31/functions: what boto3's `lambda` client calls.

Handlers translate HTTP to the registry and back; shapes live in service.py, bodies in schemas.py.
Authentication is SigV4 (boto3, the AWS CLI) or a Bearer key (deps.get_principal). FunctionName in a
path may be a name, a partial ARN or an ARN, with an optional `:qualifier`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from openrft.api.deps import AppContext, get_ctx, get_principal
from openrft.api.errors import AwsError
from openrft.api.functions import schemas, service
from openrft.auth.keys import Principal
from openrft.functions import registry
from openrft.functions.registry import FunctionSpec

router = APIRouter(prefix="/2015-03-31/functions")


MAX_REQUEST_BYTES = 70_167_211  # AWS's CreateFunction request limit (a 50 MB zip, base64 in JSON)


async def raw_body(request: Request) -> bytes:
    """The body, refused past AWS's request limit before it is all in memory."""
    too_large = AwsError(
        413, "RequestTooLargeException", f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for this operation"
    )
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


def _json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content=content, status_code=status_code)


@router.post("")
@router.post("/", include_in_schema=False)
def create_function(
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    req = schemas.parse_body(schemas.CreateFunctionIn, body)
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
    return _json(service.function_config(principal.project_id, row), 201)


@router.get("")
@router.get("/", include_in_schema=False)
def list_functions(
    function_version: str | None = Query(None, alias="FunctionVersion"),
    marker: str | None = Query(None, alias="Marker"),
    max_items: int | None = Query(None, alias="MaxItems"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    rows = registry.list_latest(ctx.store, principal.project_id)
    if function_version == "ALL":
        rows = [v for r in rows for v in registry.list_versions(ctx.store, principal.project_id, r["function_name"])]
    elif function_version is not None:
        raise registry.invalid("FunctionVersion must be ALL")
    shape = partial(service.function_config, principal.project_id)
    return _json(service.paged("Functions", rows, marker, max_items, shape))


@router.get("/{function_name}")
def get_function(
    request: Request,
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    row = registry.get_version(ctx.store, principal.project_id, name, qualifier)
    location = f"{str(request.base_url).rstrip('/')}/2015-03-31/functions/{name}/code?Qualifier={row['version']}"
    return _json(
        {
            "Configuration": service.function_config(principal.project_id, row, qualified=qualifier is not None),
            "Code": {"RepositoryType": "S3", "Location": location},
        }
    )


@router.get("/{function_name}/code")
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


@router.delete("/{function_name}")
def delete_function(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    registry.delete_function(ctx.store, ctx.blobs, principal.project_id, name, qualifier)
    return Response(status_code=204)


@router.get("/{function_name}/configuration")
def get_function_configuration(
    function_name: str,
    qualifier: str | None = Query(None, alias="Qualifier"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    name, qualifier = service.resolve_path(principal.project_id, function_name, qualifier)
    row = registry.get_version(ctx.store, principal.project_id, name, qualifier)
    return _json(service.function_config(principal.project_id, row, qualified=qualifier is not None))


@router.put("/{function_name}/configuration")
def update_function_configuration(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    req = schemas.parse_body(schemas.UpdateFunctionConfigurationIn, body)
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
    return _json(service.function_config(principal.project_id, row))


@router.put("/{function_name}/code")
def update_function_code(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    req = schemas.parse_body(schemas.UpdateFunctionCodeIn, body)
    name = _unqualified(principal, function_name)
    zip_bytes = schemas.decode_zip(req.ZipFile, s3=req.S3Bucket, image=req.ImageUri)
    if req.DryRun:
        latest = registry.get_version(ctx.store, principal.project_id, name)
        registry.validate_zip(zip_bytes, latest["handler"])
        return _json(service.function_config(principal.project_id, latest))
    row = registry.update_code(
        ctx.store, ctx.blobs, principal.project_id, name, zip_bytes, publish=req.Publish, revision_id=req.RevisionId
    )
    return _json(service.function_config(principal.project_id, row))


@router.post("/{function_name}/versions")
def publish_version(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    req = schemas.parse_body(schemas.PublishVersionIn, body)
    row = registry.publish_version(
        ctx.store,
        principal.project_id,
        _unqualified(principal, function_name),
        expected_sha256=req.CodeSha256,
        description=req.Description,
        revision_id=req.RevisionId,
    )
    return _json(service.function_config(principal.project_id, row), 201)


@router.get("/{function_name}/versions")
def list_versions_by_function(
    function_name: str,
    marker: str | None = Query(None, alias="Marker"),
    max_items: int | None = Query(None, alias="MaxItems"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    rows = registry.list_versions(ctx.store, principal.project_id, _unqualified(principal, function_name))
    shape = partial(service.function_config, principal.project_id)
    return _json(service.paged("Versions", rows, marker, max_items, shape))


@router.post("/{function_name}/aliases")
def create_alias(
    function_name: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    req = schemas.parse_body(schemas.CreateAliasIn, body)
    schemas.check_routing(req.RoutingConfig)
    name = _unqualified(principal, function_name)
    row = registry.create_alias(ctx.store, principal.project_id, name, req.Name, req.FunctionVersion, req.Description)
    return _json(service.alias_config(principal.project_id, row), 201)


@router.get("/{function_name}/aliases")
def list_aliases(
    function_name: str,
    function_version: str | None = Query(None, alias="FunctionVersion"),
    marker: str | None = Query(None, alias="Marker"),
    max_items: int | None = Query(None, alias="MaxItems"),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    name = _unqualified(principal, function_name)
    rows = registry.list_aliases(ctx.store, principal.project_id, name, function_version)
    shape = partial(service.alias_config, principal.project_id)
    return _json(service.paged("Aliases", rows, marker, max_items, shape))


@router.get("/{function_name}/aliases/{alias}")
def get_alias(
    function_name: str,
    alias: str,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    row = registry.get_alias(ctx.store, principal.project_id, _unqualified(principal, function_name), alias)
    return _json(service.alias_config(principal.project_id, row))


@router.put("/{function_name}/aliases/{alias}")
def update_alias(
    function_name: str,
    alias: str,
    body: bytes = Depends(raw_body),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> JSONResponse:
    req = schemas.parse_body(schemas.UpdateAliasIn, body)
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
    return _json(service.alias_config(principal.project_id, row))


@router.delete("/{function_name}/aliases/{alias}")
def delete_alias(
    function_name: str,
    alias: str,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    registry.delete_alias(ctx.store, principal.project_id, _unqualified(principal, function_name), alias)
    return Response(status_code=204)


@router.post("/{function_name}/invocations")
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


def _unqualified(principal: Principal, function_ref: str) -> str:
    name, qualifier = registry.split_ref(principal.project_id, function_ref)
    if qualifier:
        raise registry.invalid(f"{function_ref!r}: this operation takes an unqualified function name or ARN.")
    return name
