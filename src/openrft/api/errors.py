"""Domain errors and their one mapping to HTTP.

Services raise these; `install_error_handlers` turns them into OpenAI's error body
`{"error": {"message", "type", "param", "code"}}`, or AWS's shape on the Lambda surface
(`{"Type": "User", "message"}` with the `x-amzn-ErrorType` header).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class OpenRFTError(Exception):
    """An error the client caused or can act on, in OpenAI's terms."""

    status_code = 400
    type = "invalid_request_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(OpenRFTError):
    status_code = 400


class AuthenticationFailed(OpenRFTError):
    status_code = 401
    code = "invalid_api_key"


class PermissionDenied(OpenRFTError):
    status_code = 403
    code = "insufficient_permissions"


class NotFound(OpenRFTError):
    status_code = 404
    code = "not_found"


class Conflict(OpenRFTError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(OpenRFTError):
    status_code = 413
    code = "file_too_large"


class Unavailable(OpenRFTError):
    status_code = 503
    type = "server_error"
    code = "unavailable"


class AwsError(Exception):
    """An error on the Lambda surface, in AWS's restJson1 shape (what botocore parses)."""

    def __init__(self, status_code: int, error_type: str, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.message = message


def is_aws_path(path: str) -> bool:
    return path.startswith("/2015-03-31/")


def aws_response(status_code: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"Type": "User", "message": message},
        headers={"x-amzn-ErrorType": error_type},
    )


def _loc_to_param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenRFTError)
    async def _openrft(request: Request, exc: OpenRFTError) -> JSONResponse:
        if is_aws_path(request.url.path):
            aws_type = {401: "UnrecognizedClientException", 403: "AccessDeniedException"}.get(
                exc.status_code, "InvalidParameterValueException"
            )
            return aws_response(exc.status_code, aws_type, exc.message)
        return JSONResponse(status_code=exc.status_code, content=exc.body())

    @app.exception_handler(AwsError)
    async def _aws(request: Request, exc: AwsError) -> JSONResponse:
        if not is_aws_path(request.url.path):  # e.g. a SigV4 failure on /v1: that surface's shape, AWS's code
            error = OpenRFTError(exc.message, code=exc.error_type)
            error.type = "server_error" if exc.status_code >= 500 else error.type
            return JSONResponse(status_code=exc.status_code, content=error.body())
        return aws_response(exc.status_code, exc.error_type, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = _loc_to_param(tuple(first.get("loc", ())))
        message = f"{param}: {first['msg']}" if param else str(first["msg"])
        if is_aws_path(request.url.path):
            return aws_response(400, "InvalidParameterValueException", message)
        return JSONResponse(status_code=400, content=InvalidRequest(message, param=param).body())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if is_aws_path(request.url.path):
            return aws_response(exc.status_code, "ResourceNotFoundException", str(exc.detail))
        err = OpenRFTError(str(exc.detail), code="not_found" if exc.status_code == 404 else None)
        return JSONResponse(status_code=exc.status_code, content=err.body())

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_aws_path(request.url.path):
            return aws_response(500, "ServiceException", "internal error")
        error = {"message": "internal server error", "type": "server_error", "param": None, "code": None}
        return JSONResponse(status_code=500, content={"error": error})
