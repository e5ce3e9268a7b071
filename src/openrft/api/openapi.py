"""The OpenAPI document: what each surface answers when it fails, bodies read from the raw request.

Routes declare their errors with `openai_errors(...)` (the /v1 surface: OpenAI's `{"error": {...}}`)
or `aws_errors(...)` (the Lambda surface: `{"Type", "message"}` and the `x-amzn-ErrorType` header);
each surface's common statuses are added where its routers are included (app.py). Request bodies that
a handler reads itself (the streamed multipart upload, the Lambda JSON bodies behind a size limit)
are declared with `json_body(Model)` / `multipart_body(Model)`.

`build_openapi` is FastAPI's document with two corrections: no 422 (a validation error is answered
400 in the surface's own shape, errors.py), and the `$defs` of those declared bodies moved to
`components/schemas`, where their `$ref`s point.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

REF_TEMPLATE = "#/components/schemas/{model}"


class ErrorObject(BaseModel):
    """openai.types.ErrorObject."""

    message: str
    type: str = Field(description="invalid_request_error, or server_error for a 5xx.")
    param: str | None = Field(description="The parameter at fault, when there is one.")
    code: str | None = Field(description="A machine-readable code (invalid_api_key, not_found, ...).")


class ErrorResponse(BaseModel):
    """The body of every error on /v1."""

    error: ErrorObject


class AwsErrorResponse(BaseModel):
    """The body of every error on the Lambda surface (restJson1, what botocore parses)."""

    Type: str = Field(description='"User" (AWS sends "Service" for its own faults; openrft always "User").')
    message: str


OPENAI_COMMON = (400, 401, 403, 500)  # any /v1 operation: bad input or signature, no key, not allowed, a bug
AWS_COMMON = (400, 401, 403, 500)

_OPENAI_STATUSES = {
    400: "Invalid request: a parameter, the body or a malformed signature (`invalid_request_error`).",
    401: "No API key, or an unknown or revoked one (`invalid_api_key`).",
    403: "The key may not do this (an admin endpoint with a project key), or a SigV4 signature that fails.",
    404: "No such object in the caller's project (`not_found`, `model_not_found`, ...).",
    409: "The request conflicts with what exists (an Idempotency-Key reused with another body).",
    413: "The upload is larger than OPENRFT_MAX_FILE_BYTES (`file_too_large`).",
    500: "An unexpected server error (`server_error`); generation failures are `generation_failed`.",
}
_AWS_STATUSES = {
    400: "InvalidParameterValueException, InvalidRequestContentException or IncompleteSignatureException.",
    401: "UnrecognizedClientException: no credentials, or an unknown Bearer key.",
    403: "InvalidSignatureException, or UnrecognizedClientException for an unknown access key id.",
    404: "ResourceNotFoundException: no such function, version or alias in the caller's project.",
    409: "ResourceConflictException: the function or alias exists already, or is in use.",
    412: "PreconditionFailedException: RevisionId is not the latest revision.",
    413: "RequestTooLargeException: the request, payload or zip is over AWS's limit.",
    500: "ServiceException: the sandbox cannot run user code here, or an unexpected server error.",
}
_AWS_ERROR_HEADER = {
    "x-amzn-ErrorType": {
        "description": "The AWS error code, e.g. ResourceNotFoundException (botocore reads the error from it).",
        "required": True,
        "schema": {"type": "string"},
    }
}


def openai_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a /v1 route: the given statuses (none: the common ones), OpenAI's error body."""
    return {s: {"model": ErrorResponse, "description": _OPENAI_STATUSES[s]} for s in statuses or OPENAI_COMMON}


def aws_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a Lambda route: the given statuses (none: the common ones), AWS's error shape."""
    return {
        s: {"model": AwsErrorResponse, "description": _AWS_STATUSES[s], "headers": _AWS_ERROR_HEADER}
        for s in statuses or AWS_COMMON
    }


def json_body(model: type[BaseModel], *, required: bool | None = None) -> dict[str, Any]:
    """`openapi_extra=` declaring a JSON request body the handler parses itself with `model`."""
    if required is None:
        required = any(field.is_required() for field in model.model_fields.values())
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def multipart_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra=` declaring a multipart/form-data body (bytes fields are file parts)."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def _hoist_defs(operation: dict[str, Any], components: dict[str, Any]) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        for name, definition in media.get("schema", {}).pop("$defs", {}).items():
            if components.setdefault(name, definition) != definition:
                raise RuntimeError(f"two different schemas are named {name!r} in the OpenAPI document")


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document of `app` (cached on it, as FastAPI does)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for path_item in doc["paths"].values():
        for operation in path_item.values():
            operation["responses"].pop("422", None)
            _hoist_defs(operation, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc
