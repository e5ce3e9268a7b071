"""Every request gets an id: `x-request-id` on the response (the openai SDK reads it as `_request_id`,
AWS's clients as `x-amzn-RequestId`), kept on `request.state.request_id` so that the audit trail and
error logs name the request they belong to. A rate-limited key's `x-ratelimit-*` headers, which the
authorization step leaves in the request's state, are added to its answer here as well. A client's own
`X-Request-Id` is kept when it is a sane token, so a caller can correlate its logs with ours.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(16)


class RequestId:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["x-amzn-RequestId"] = request_id
                for name, value in scope["state"].get("ratelimit_headers", {}).items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_id)
