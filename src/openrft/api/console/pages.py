"""What every console page shares: the templates, the signed-in session, the refusal pages, the headers.

- `signed_in` is the dependency of every page: the session behind the cookie, or a redirect to the
  sign-in page saying why (none, expired, signed out, key revoked).
- `ConsoleRoute` renders the domain errors a page meets (another project's job is a NotFound, an admin
  page for a project key a PermissionDenied) as an HTML refusal page with the API's status.
- `security_headers` sets, on every console answer, the headers that block clickjacking (no framing),
  script injection (a strict Content-Security-Policy: scripts and styles from our own files only) and
  caching of pages that carry a tenant's data.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from openrft import __version__
from openrft.api import authz
from openrft.api.deps import SESSION_COOKIE, get_ctx
from openrft.api.errors import wire_of
from openrft.auth.keys import act_in_project
from openrft.auth.sessions import Session, SessionExpired, check_csrf, read_session
from openrft.context import AppContext
from openrft.errors import NotFound, OpenRFTError, PermissionDenied
from openrft.store import schema

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["version"] = __version__

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """No usable session: the page answers with a redirect to the sign-in form."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


PROJECT_COOKIE = "openrft_project"  # the project an admin's console acts in (the header's switcher)


def signed_in(request: Request, ctx: AppContext = Depends(get_ctx)) -> Session:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired("Sign in with an API key to use the console.")
    try:
        session = read_session(ctx.store, token)
    except SessionExpired as exc:
        raise SignInRequired(exc.message) from None
    session = in_chosen_project(ctx, session, request.cookies.get(PROJECT_COOKIE))
    authz.authorize(ctx, request, session.principal, None)  # the page's read action, as the API would decide it
    return session


def in_chosen_project(ctx: AppContext, session: Session, project_id: str | None) -> Session:
    """An admin's session acting in the project it chose; a gone project (or a project key) keeps its own."""
    if not project_id or not session.principal.is_admin:
        return session
    try:
        return replace(session, principal=act_in_project(ctx.store, session.principal, project_id))
    except NotFound:
        return session


def live_projects(ctx: AppContext) -> list[tuple[str, str]]:
    """(id, name) of every live project, for the admin's project switcher."""
    p = schema.projects.c
    with ctx.store.begin() as conn:
        rows = conn.execute(sa.select(p.id, p.name).where(p.archived_at.is_(None)).order_by(p.created_at, p.id))
        return [(row.id, row.name) for row in rows]


def check_form_csrf(session: Session, form_value: Any) -> None:
    """A page's own form posts carry the session's CSRF token in a hidden `csrf` field."""
    check_csrf(session, form_value if isinstance(form_value, str) else None)


def check_origin(request: Request) -> None:
    """A form post from another site is refused before anything else (login CSRF included)."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != own:
        raise PermissionDenied(f"This form was posted from {origin}, not from the console ({own}).")


def render(
    request: Request, template: str, session: Session | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page: the template with the signed-in principal, the CSRF token its scripts send, and the path."""
    values: dict[str, Any] = {
        "session": session,
        "principal": session.principal if session else None,
        "path": request.url.path,
    }
    if session is not None and session.principal.is_admin:
        values["switch_projects"] = live_projects(request.app.state.ctx)  # the header's project switcher
    return templates.TemplateResponse(request, template, values | context, status_code=status_code)


def refusal(request: Request, exc: OpenRFTError, session: Session | None) -> HTMLResponse:
    """The page for a domain error: the API's status, its message, and a way back."""
    status = wire_of(exc).openai_status
    titles = {401: "Sign-in needed", 403: "Not allowed", 404: "Not found"}
    return render(
        request,
        "refusal.html",
        session,
        status_code=status,
        title=titles.get(status, "Request refused"),
        message=exc.message,
        code=exc.code,
    )


def sign_in_redirect(request: Request, reason: str) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/signin?next={quote(target, safe='')}&reason={quote(reason, safe='')}", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class ConsoleRoute(APIRoute):
    """A console page: domain errors become refusal pages, a missing session a redirect to sign-in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as exc:
                response = sign_in_redirect(request, exc.reason)
            except OpenRFTError as exc:  # NotFound for another project's resource, PermissionDenied, ...
                session = await _session_or_none(request)
                response = refusal(request, exc, session)
            response.headers.update(SECURITY_HEADERS)
            return response

        return page


async def _session_or_none(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    ctx = request.app.state.ctx
    try:
        session = await run_in_threadpool(read_session, ctx.store, token)
    except OpenRFTError:
        return None
    return await run_in_threadpool(in_chosen_project, ctx, session, request.cookies.get(PROJECT_COOKIE))
