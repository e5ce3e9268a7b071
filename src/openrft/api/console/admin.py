"""Console pages for the admin key: projects (list, create, archive) and each project's keys.

- `/admin`: every project, archived ones included; create one, archive one (its keys are revoked).
- `/admin/projects/{project_id}`: the project's live API keys (service accounts and, for the default
  project, the bootstrap admin key); create a key (its secret is shown once, on this page, then never
  again), revoke one.

The pages render from the organization service; their scripts (admin.js) change things through the
`/v1/organization` API, which needs the admin principal: the session cookie of an admin sign-in carries
it. A project key gets the 403 refusal page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import get_ctx
from openrft.api.organization import service
from openrft.auth.keys import ADMIN_KEY_ID, DEFAULT_PROJECT_ID
from openrft.auth.sessions import Session
from openrft.context import AppContext
from openrft.errors import PermissionDenied

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 100  # the organization API's largest page


def admin_session(session: Session = Depends(signed_in)) -> Session:
    if not session.principal.is_admin:
        raise PermissionDenied(
            "The admin pages need the admin key (OPENRFT_ADMIN_KEY); you signed in with a project key, "
            f"which sees only its project ({session.principal.project_id})."
        )
    return session


@router.get("/admin", response_class=HTMLResponse)
def admin_page(
    request: Request, session: Session = Depends(admin_session), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    projects, after = [], None
    while True:
        page = service.list_projects(ctx, after=after, limit=PAGE, include_archived=True)
        projects += page.data
        if not page.has_more:
            break
        after = page.last_id
    projects.sort(key=lambda p: (p.status != "active", -p.created_at))
    return render(
        request, "admin.html", session, title="Admin: projects", projects=projects, default_project=DEFAULT_PROJECT_ID
    )


@router.get("/admin/projects/{project_id}", response_class=HTMLResponse)
def project_page(
    request: Request, project_id: str, session: Session = Depends(admin_session), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    project = service.get_project(ctx, project_id)
    keys, after = [], None
    while True:
        page = service.list_api_keys(ctx, project_id, after=after, limit=PAGE)
        keys += page.data
        if not page.has_more:
            break
        after = page.last_id
    return render(
        request,
        "admin_project.html",
        session,
        title=f"Admin: {project.name}",
        project=project,
        keys=keys,
        admin_key_id=ADMIN_KEY_ID,
    )
