"""Console pages: reward functions (the Lambda API's functions of the project).

- `/functions`: the functions, with runtime, latest published version, its CodeSha256 and when $LATEST
  last changed.
- `/functions/{name}?version=V`: its versions and aliases with their CodeSha256, the code of one version
  (the files of its zip, shown as text, read-only), a form to invoke it on a sample event (functions.js
  calls the Lambda Invoke route with the session), and the preflight: base-model samples of a training
  file scored by the function (POST /v1/preflights, an eval run), its reward histogram and the share of
  prompts without learning signal.

The pages read the registry the Lambda routes read, scoped to the signed-in project: another project's
function is the registry's ResourceNotFound, a 404 refusal page.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from openrft.api.console.pages import ConsoleRoute, render, signed_in
from openrft.api.deps import get_ctx
from openrft.api.files import service as files_service
from openrft.api.models import service as models_service
from openrft.auth.sessions import Session
from openrft.context import AppContext
from openrft.functions import registry
from openrft.functions.reward import build_reward_event

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

MAX_SHOWN_BYTES = 256 * 1024  # a file bigger than this is named, not shown
MAX_FILES = 200
SAMPLE_PROMPT = [{"role": "user", "content": "What is 2 + 2? Answer with a number."}]
SAMPLE_ITEM = {"reference_answer": "4"}


def latest_published(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest numbered version, or $LATEST when none is published."""
    published = [v for v in versions if v["version"] != registry.LATEST]
    return published[-1] if published else versions[0]


@router.get("/functions", response_class=HTMLResponse)
def functions_page(
    request: Request, session: Session = Depends(signed_in), ctx: AppContext = Depends(get_ctx)
) -> HTMLResponse:
    project_id = session.principal.project_id
    rows = []
    for latest in registry.list_latest(ctx.store, project_id):
        versions = registry.list_versions(ctx.store, project_id, latest["function_name"])
        newest = latest_published(versions)
        rows.append({"latest": latest, "newest": newest, "versions": len(versions) - 1})
    return render(request, "functions.html", session, title="Reward functions", functions=rows)


def code_files(zip_bytes: bytes) -> list[dict[str, Any]]:
    """The files of a deployment package: name, size, and the text (None for binary or oversized files)."""
    out: list[dict[str, Any]] = []
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        for info in archive.infolist()[:MAX_FILES]:
            if info.is_dir():
                continue
            text, why = None, None
            if info.file_size > MAX_SHOWN_BYTES:
                why = f"not shown: {info.file_size} bytes, over {MAX_SHOWN_BYTES // 1024} KB"
            else:
                try:
                    text = archive.read(info).decode("utf-8")
                except UnicodeDecodeError:
                    why = "not shown: a binary file"
            out.append({"name": info.filename, "size": info.file_size, "text": text, "why": why})
    return sorted(out, key=lambda f: (f["text"] is None, f["name"]))


def sample_event() -> str:
    """A Bedrock reward event of one rollout, the shape a training step sends (openrft.functions.reward)."""
    return json.dumps([build_reward_event(SAMPLE_PROMPT, SAMPLE_ITEM, "sample-1", "4")], indent=2)


@router.get("/functions/{name}", response_class=HTMLResponse)
def function_page(
    name: str,
    request: Request,
    version: str | None = Query(default=None),
    session: Session = Depends(signed_in),
    ctx: AppContext = Depends(get_ctx),
) -> HTMLResponse:
    project_id = session.principal.project_id
    versions = registry.list_versions(ctx.store, project_id, name)  # ResourceNotFound: the 404 page
    aliases = registry.list_aliases(ctx.store, project_id, name)
    by_version = {v["version"]: v for v in versions}
    shown = by_version.get(version or "") or latest_published(versions)
    code = code_files(registry.read_code(ctx.blobs, shown))
    files = files_service.list_files(ctx, session.principal, purpose="fine-tune", after=None, limit=100, order="desc")
    models = [m.id for m in models_service.list_models(ctx, project_id).data]
    default_ref = f"{name}:{aliases[0]['name']}" if aliases else f"{name}:{latest_published(versions)['version']}"
    return render(
        request,
        "function.html",
        session,
        title=f"Reward function {name}",
        name=name,
        versions=versions,
        aliases=aliases,
        by_version=by_version,
        shown=shown,
        asked=version,
        code=code,
        event=sample_event(),
        training_files=files.data,
        models=models,
        default_ref=default_ref,
    )
