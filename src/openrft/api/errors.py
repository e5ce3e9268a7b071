"""The one mapping of domain errors (`openrft.errors`) to answers on the wire, by surface.

On the OpenAI surface an error is OpenAI's body `{"error": {"message", "type", "param", "code"}}`; on the
Lambda surface (paths under /2015-03-31/) it is AWS's restJson1 shape, `{"Type": "User", "message"}`
with the error's name in the `x-amzn-ErrorType` header (what botocore parses). `WIRE` says, per
domain class, the status and error type on each surface; an exception takes the row of the nearest
class in its MRO. `answer` is that mapping as a pure function; the handlers only wrap it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openrft import errors as e

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wire:
    openai_status: int
    openai_type: str
    aws_status: int
    aws_type: str


_CLIENT = "invalid_request_error"
_SERVER = "server_error"
_IPVE = "InvalidParameterValueException"

WIRE: dict[type[e.OpenRFTError], Wire] = {
    e.OpenRFTError: Wire(400, _CLIENT, 400, _IPVE),
    e.InvalidRequest: Wire(400, _CLIENT, 400, _IPVE),
    e.InvalidRequestContent: Wire(400, _CLIENT, 400, "InvalidRequestContentException"),
    e.IncompleteSignature: Wire(400, _CLIENT, 400, "IncompleteSignatureException"),
    e.AuthenticationFailed: Wire(401, _CLIENT, 401, "UnrecognizedClientException"),
    e.PermissionDenied: Wire(403, _CLIENT, 403, "AccessDeniedException"),
    e.InvalidSignature: Wire(403, _CLIENT, 403, "InvalidSignatureException"),
    e.AccessDenied: Wire(403, _CLIENT, 403, "AccessDeniedException"),
    e.MissingScopes: Wire(401, _CLIENT, 403, "AccessDeniedException"),
    e.RateLimited: Wire(429, "requests", 429, "TooManyRequestsException"),
    e.MalformedPolicy: Wire(400, _CLIENT, 400, "MalformedPolicyDocument"),
    e.ExpiredToken: Wire(401, _CLIENT, 403, "ExpiredTokenException"),
    e.NoSuchEntity: Wire(404, _CLIENT, 404, "NoSuchEntity"),
    e.EntityAlreadyExists: Wire(409, _CLIENT, 409, "EntityAlreadyExists"),
    e.DeleteConflict: Wire(409, _CLIENT, 409, "DeleteConflict"),
    e.UnrecognizedClient: Wire(403, _CLIENT, 403, "UnrecognizedClientException"),
    e.NotFound: Wire(404, _CLIENT, 404, _IPVE),
    e.ResourceNotFound: Wire(404, _CLIENT, 404, "ResourceNotFoundException"),
    e.Conflict: Wire(409, _CLIENT, 409, _IPVE),
    e.ResourceConflict: Wire(409, _CLIENT, 409, "ResourceConflictException"),
    e.PreconditionFailed: Wire(412, _CLIENT, 412, "PreconditionFailedException"),
    e.PayloadTooLarge: Wire(413, _CLIENT, 413, _IPVE),
    e.RequestTooLarge: Wire(413, _CLIENT, 413, "RequestTooLargeException"),
    e.Unavailable: Wire(503, _SERVER, 503, _IPVE),
    e.ServerFault: Wire(500, _SERVER, 500, "ServiceException"),
}


def wire_of(exc: e.OpenRFTError) -> Wire:
    """The table's row for `exc`: that of the nearest class in its MRO."""
    for cls in type(exc).__mro__:
        if cls in WIRE:
            return WIRE[cls]
    raise AssertionError("OpenRFTError has a row")  # pragma: no cover


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def openai_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def aws_answer(status: int, error_type: str, message: str) -> Answer:
    return Answer(status, {"Type": "User", "message": message}, {"x-amzn-ErrorType": error_type})


def answer(exc: e.OpenRFTError, *, aws: bool) -> Answer:
    """What `exc` looks like on the wire: on the Lambda surface (`aws`) or on OpenAI's."""
    row = wire_of(exc)
    extra = exc.headers if isinstance(exc, e.RateLimited) else {}  # x-ratelimit-*, retry-after
    if aws:
        reply = aws_answer(row.aws_status, row.aws_type, exc.message)
        return Answer(reply.status, reply.body, {**reply.headers, **extra})
    return Answer(row.openai_status, openai_body(exc.message, row.openai_type, exc.param, exc.code), extra)


def is_aws_path(path: str) -> bool:
    return path.startswith("/2015-03-31/")


def response(a: Answer) -> JSONResponse:
    return JSONResponse(status_code=a.status, content=a.body, headers=a.headers or None)


def error_response(path: str, exc: e.OpenRFTError) -> JSONResponse:
    """`exc` answered in the shape of the surface that `path` belongs to."""
    return response(answer(exc, aws=is_aws_path(path)))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.OpenRFTError)
    async def _openrft(request: Request, exc: e.OpenRFTError) -> JSONResponse:
        return error_response(request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request.url.path, e.invalid_from(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The router's own answers (no such route, method not allowed), not a domain error.
        if is_aws_path(request.url.path):
            return response(aws_answer(exc.status_code, "ResourceNotFoundException", str(exc.detail)))
        code = "not_found" if exc.status_code == 404 else None
        return response(Answer(exc.status_code, openai_body(str(exc.detail), _CLIENT, None, code), {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_aws_path(request.url.path):
            return response(aws_answer(500, "ServiceException", "internal error"))
        return response(Answer(500, openai_body("internal server error", _SERVER, None, None), {}))
