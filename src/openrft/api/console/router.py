"""Console routes: sign-in and sign-out, and the pages (each page group adds its routes here)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from openrft.api.console import admin, evals, files, functions, jobs, models, reviews
from openrft.api.console.pages import (
    PROJECT_COOKIE,
    ConsoleRoute,
    check_form_csrf,
    check_origin,
    render,
    signed_in,
)
from openrft.api.deps import SESSION_COOKIE, get_ctx
from openrft.auth.keys import act_in_project
from openrft.auth.sessions import Session, close_session, open_session
from openrft.context import AppContext
from openrft.errors import AuthenticationFailed, PermissionDenied

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
for area in (jobs, models, evals, files, admin, reviews, functions):
    router.include_router(area.router)


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect to another host is refused."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target  # browsers read a backslash as a slash
        or any(ord(ch) < 32 for ch in target)
        or urlsplit(target).netloc
    ):
        return "/jobs"
    return target


@router.get("/")
def home(session: Session = Depends(signed_in)) -> RedirectResponse:
    return RedirectResponse("/jobs", 303)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str | None = None, reason: str | None = None) -> HTMLResponse:
    return render(request, "signin.html", None, next=safe_next(next), reason=reason, error=None)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/jobs",
    ctx: AppContext = Depends(get_ctx),
) -> Response:
    check_origin(request)
    target = safe_next(next)
    try:
        token, _ = await run_in_threadpool(
            open_session, ctx.store, api_key.strip(), ttl_s=ctx.settings.console_session_ttl_s
        )
    except AuthenticationFailed as exc:
        page = render(request, "signin.html", None, status_code=401, next=target, reason=None, error=exc.message)
        return page
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ctx.settings.console_session_ttl_s,
        path="/",
        httponly=True,  # scripts never see the token; they send the CSRF token instead
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def signout(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> RedirectResponse:
    check_origin(request)
    check_form_csrf(session, csrf)
    await run_in_threadpool(close_session, ctx.store, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/signin?reason=" + "You+signed+out.", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(PROJECT_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: Session = Depends(signed_in)) -> HTMLResponse:
    """Who is signed in: the key, its project, when the session ends."""
    return render(request, "account.html", session, title="Your session")


@router.post("/project")
async def choose_project(
    request: Request,
    project_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/jobs",
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> RedirectResponse:
    """The admin's project switcher: the console then shows (and acts in) that project."""
    check_origin(request)
    check_form_csrf(session, csrf)
    if not session.principal.is_admin:
        raise PermissionDenied("Only the admin key can switch projects; a project key sees its own project.")
    await run_in_threadpool(act_in_project, ctx.store, session.principal, project_id)  # NotFound for a gone one
    response = RedirectResponse(safe_next(next), 303)
    response.set_cookie(PROJECT_COOKIE, project_id, path="/", httponly=True, samesite="strict")
    return response
