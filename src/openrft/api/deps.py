"""Request-scoped dependencies: the app's shared objects and the authenticated caller.

`get_principal` takes its credentials through two FastAPI security schemes, so every route that needs a
caller documents them in the OpenAPI document: `Bearer` (an openrft API key, what the openai client
sends) and `SigV4` (AWS Signature Version 4 with an openrft key, what boto3 sends). Either works on
every path, with temporary credentials from STS too (`ASIA...` key ids with `X-Amz-Security-Token`, or
the session token as a Bearer secret). Once the caller is known, `get_principal` authorizes the route's
one action on its resource (openrft.api.authz): every route that names a caller is decided. The
console's pages call the same routes with its session cookie instead, plus the session's CSRF token in
`X-CSRF-Token` (openrft.auth.sessions): same principal, same authorization. OpenAI's `OpenAI-Project`
header names the project to act in: a project key's own, or any for the admin key.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from openrft.api import authz
from openrft.auth import sigv4, sts
from openrft.auth.keys import Principal, act_in_project, authenticate_bearer, record_use, secret_for_key_id
from openrft.auth.sessions import Session, check_csrf, read_session
from openrft.auth.sigv4 import ALGORITHM
from openrft.context import AppContext
from openrft.errors import AuthenticationFailed, PermissionDenied

SESSION_COOKIE = "openrft_session"
CSRF_HEADER = "X-CSRF-Token"
PROJECT_HEADER = "OpenAI-Project"


def console_url(request: Request) -> str:
    """The base URL the caller reached us on: the console's pages (a run's report_url) hang off it."""
    return str(request.base_url).rstrip("/")


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


class SigV4Header(APIKeyHeader):
    """The `Authorization` header when it carries an AWS Signature Version 4 (None otherwise)."""

    def __init__(self) -> None:
        super().__init__(name="Authorization", scheme_name="SigV4", auto_error=False)
        self.model = APIKey.model_validate(
            {
                "type": "apiKey",
                "in": APIKeyIn.header,
                "name": "Authorization",
                "description": "AWS Signature Version 4 (service `lambda`): the access key id is an openrft key "
                "id (`admin` for OPENRFT_ADMIN_KEY), the secret access key is the key's secret.",
                "x-amazon-apigateway-authtype": "awsSigv4",
            }
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        header = request.headers.get("authorization", "")
        return header if header.partition(" ")[0] == ALGORITHM else None


bearer_scheme = HTTPBearer(
    scheme_name="Bearer", description="An openrft API key: `Authorization: Bearer sk-...`.", auto_error=False
)
sigv4_scheme = SigV4Header()


async def get_principal(
    request: Request,
    ctx: AppContext = Depends(get_ctx),
    bearer: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    signature: str | None = Depends(sigv4_scheme),
) -> Principal:
    principal = await authenticate(request, ctx, bearer, signature)
    if project := request.headers.get(PROJECT_HEADER, "").strip():  # OpenAI(project=...) sends it
        principal = await run_in_threadpool(act_in_project, ctx.store, principal, project)
    rule = authz.rule_of(request)
    body = await authz.body_json(request) if isinstance(rule, authz.Rule) and rule.needs_body else None
    await run_in_threadpool(authz.authorize, ctx, request, principal, body)  # the route's action, or 401/403/429
    return principal


async def authenticate(
    request: Request, ctx: AppContext, bearer: HTTPAuthorizationCredentials | None, signature: str | None
) -> Principal:
    if bearer is not None and bearer.credentials.strip():
        secret = bearer.credentials.strip()
        # The key lookup is blocking database I/O: keep it off the event loop.
        if sts.is_session_token(secret):  # a role session's token (a function calling back with the openai SDK)
            return await run_in_threadpool(sts.principal_for_session_token, ctx.store, secret)
        return await run_in_threadpool(authenticate_bearer, ctx.store, secret)
    if signature is not None:
        return await verify_sigv4(request, ctx)
    if token := request.cookies.get(SESSION_COOKIE):
        session = await console_session(request, ctx, token)
        check_csrf(session, request.headers.get(CSRF_HEADER))
        return session.principal
    raise AuthenticationFailed(
        "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
    )


async def console_session(request: Request, ctx: AppContext, token: str) -> Session:
    """The console session behind a cookie (SessionExpired when it is over), kept on the request."""
    session: Session = await run_in_threadpool(read_session, ctx.store, token)
    request.state.console_session = session
    return session


async def verify_sigv4(request: Request, ctx: AppContext) -> Principal:
    """The HTTP side of SigV4: the request as signed, the key lookup off the event loop, the use recorded."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.raw:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    signed = sigv4.SignedRequest(
        method=request.method,
        raw_path=raw_path.decode("latin-1").split("?", 1)[0],
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=await request.body(),
    )

    def lookup(key_id: str, security_token: str | None = None) -> tuple[Principal, str]:
        if sts.is_session_key(key_id):  # temporary credentials: X-Amz-Security-Token must be the session's
            return sts.secret_for_access_key(ctx.store, ctx.cipher, key_id, security_token)
        if security_token is not None:  # a long-term key never comes with a session token
            raise AuthenticationFailed("The security token included in the request is invalid.")
        return secret_for_key_id(ctx.store, ctx.cipher, ctx.settings, key_id)

    # In a worker thread: the key lookup is blocking database I/O.
    principal = await run_in_threadpool(sigv4.verify, signed, lookup)
    if principal.role_arn is None:  # a role session has no key row to mark
        await run_in_threadpool(record_use, ctx.store, principal)
    return principal


def require_admin(principal: Principal = Depends(get_principal)) -> Principal:
    if not principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin key (OPENRFT_ADMIN_KEY).")
    return principal
