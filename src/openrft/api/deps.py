"""Request-scoped dependencies: the app's shared objects and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from openrft.api.errors import AuthenticationFailed, PermissionDenied
from openrft.auth.keys import KeyCipher, Principal, authenticate_bearer
from openrft.auth.sigv4 import verify_request
from openrft.settings import Settings
from openrft.store.blobs import BlobStore
from openrft.store.db import Store


@dataclass
class AppContext:
    """Everything a service needs, built once in `create_app` and kept on `app.state.ctx`."""

    settings: Settings
    store: Store
    blobs: BlobStore
    cipher: KeyCipher


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_principal(request: Request, ctx: AppContext = Depends(get_ctx)) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        # The key lookup is blocking database I/O: keep it off the event loop.
        return await run_in_threadpool(authenticate_bearer, ctx.store, credentials.strip())
    if scheme == "AWS4-HMAC-SHA256":
        return await verify_request(request, ctx)
    raise AuthenticationFailed(
        "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
    )


def require_admin(principal: Principal = Depends(get_principal)) -> Principal:
    if not principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin key (OPENRFT_ADMIN_KEY).")
    return principal
