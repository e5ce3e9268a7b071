"""Limits on JSON request bodies, checked before any route parses them.

FastAPI parses a JSON body with `json.loads`, which accepts NaN/Infinity and gives up on deep nesting
with a RecursionError (a generic "error parsing the body" at best, and a value that crashes code that
walks it later). This ASGI middleware reads each JSON body once, checks it with `openrft.safejson`
(at most `safejson.MAX_DEPTH` levels, finite numbers) and within `MAX_JSON_BODY_BYTES`, and answers a
400 (413 for size) in the surface's error shape; a body that passes is replayed to the route unchanged.
Malformed JSON is left to the route's own parsing, which names the position at fault.
"""

from __future__ import annotations

import json

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrft import safejson
from openrft.api.errors import error_response
from openrft.errors import InvalidRequestContent, RequestTooLarge

MAX_JSON_BODY_BYTES = 32 << 20  # the largest JSON request (Lambda's sync payload limit is 6 MB)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = value.split(b";")[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


def _refusal(path: str, status: int, message: str) -> JSONResponse:
    # OpenAI's codes on /v1 (file_too_large, invalid_json), AWS's error names on the Lambda surface.
    if status == 413:
        return error_response(path, RequestTooLarge(message, code="file_too_large"))
    return error_response(path, InvalidRequestContent(message, code="invalid_json"))


class JSONBodyLimits:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BODY_BYTES:
                limit = f"a JSON request body must be at most {MAX_JSON_BODY_BYTES} bytes"
                await _refusal(scope["path"], 413, limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = _problem(body)
        if problem is not None:
            await _refusal(scope["path"], 400, f"request body: {problem}")(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _problem(body: bytes) -> str | None:
    if not body.strip():
        return None
    try:
        safejson.loads(body)
    except safejson.JSONLimitError as exc:
        return str(exc)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # the route reports malformed JSON with its position
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return dict(await receive())  # after the body: wait for the disconnect as usual

    return replay
