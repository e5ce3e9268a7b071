"""`POST /`: the AWS query protocol, where boto3's `iam` and `sts` clients send every call.

The body is a form (`Action=GetRole&Version=2010-05-08&RoleName=r`); the service is the one the
SigV4 credential scope names (`.../us-east-1/iam/aws4_request`), or, for a Bearer caller, the one
whose model has the action. The caller is authenticated as on every route (`get_principal`: SigV4,
with `ASIA...` session credentials too, or Bearer); each operation then authorizes itself
(operations.run_operation). Replies and errors are XML as botocore's query parser reads them; an
error raised anywhere on the way, authentication included, is answered in that shape by `QueryRoute`.

`GET /` is the console's; this route takes POST only, so the two never meet.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from openrft.api.awsquery import iam_ops, sts_ops
from openrft.api.awsquery.access import CallerInfo
from openrft.api.awsquery.errors import query_error
from openrft.api.awsquery.operations import OpCall, Operation, run_operation
from openrft.api.awsquery.protocol import SERVICES, error_xml, operation_model, parse_params, response_xml
from openrft.api.deps import get_ctx, get_principal
from openrft.auth.keys import Principal
from openrft.auth.sigv4 import ALGORITHM, parse_authorization
from openrft.context import AppContext
from openrft.errors import InvalidRequest, OpenRFTError, ServerFault

log = logging.getLogger(__name__)

XML = "text/xml"
OPERATIONS: dict[str, dict[str, Operation]] = {"iam": iam_ops.OPERATIONS, "sts": sts_ops.OPERATIONS}
MAX_FORM_BYTES = 1 << 20  # the largest query request (policy documents are at most 20 KB)


def _request_id(request: Request) -> str:
    request_id: str | None = getattr(request.state, "request_id", None)
    if request_id is None:  # set once per request, so the reply and an error name the same id
        request_id = request.state.request_id = f"req_{uuid.uuid4().hex}"
    return request_id


def service_of(request: Request, action: str | None) -> str:
    """The service the request is for: the SigV4 scope's, else the one that has the action."""
    header = request.headers.get("authorization", "")
    if header.partition(" ")[0] == ALGORITHM:
        try:
            service = parse_authorization(header).service
        except OpenRFTError:
            service = ""
        if service in SERVICES:
            return service
    for service, ops in OPERATIONS.items():
        if action in ops:
            return service
    return "iam"


def xml_error(request: Request, exc: OpenRFTError) -> Response:
    service = getattr(request.state, "aws_service", None) or service_of(request, None)
    status, code, sender = query_error(service, exc)
    body = error_xml(service, code, exc.message, _request_id(request), sender=sender)
    headers = getattr(exc, "headers", None)
    return Response(body, status_code=status, media_type=XML, headers=headers)


class QueryRoute(APIRoute):
    """Answers every error of its route in the query protocol's XML, authentication errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenRFTError as exc:
                return xml_error(request, exc)
            except Exception:
                log.exception("unhandled error on the query endpoint")
                return xml_error(request, ServerFault("internal error"))

        return answer


router = APIRouter(route_class=QueryRoute)


async def query_form(request: Request) -> dict[str, str]:
    """The form, read before authentication so that errors name the service it was for."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest(f"A query request must be at most {MAX_FORM_BYTES} bytes.", code="ValidationError")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not UTF-8 form data.", code="ValidationError") from None
    form = dict(pairs)
    request.state.aws_service = service_of(request, form.get("Action"))
    return form


@router.post("/", include_in_schema=False)
async def query(
    request: Request,
    form: dict[str, str] = Depends(query_form),
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    action = form.get("Action", "")
    service: str = request.state.aws_service
    operation = operation_model(service, action)
    op = OPERATIONS[service].get(action)
    version = operation.metadata["apiVersion"] if operation is not None else ""
    if operation is None or op is None or form.get("Version", version) != version:
        raise InvalidRequest(
            f"Could not find operation {action} for version {form.get('Version', 'NO_VERSION_SPECIFIED')}",
            code="InvalidAction",
        )
    params = parse_params(operation, form)
    call = OpCall(ctx=ctx, principal=principal, params=params, info=CallerInfo.of(request))
    result = await run_in_threadpool(run_operation, op, call)
    return Response(response_xml(service, operation, result, _request_id(request)), media_type=XML)
