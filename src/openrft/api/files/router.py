"""Routes of the Files API (`/v1/files`): upload, list, retrieve, content, delete."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from openrft.api.deps import get_ctx, get_principal
from openrft.api.files import service
from openrft.api.files.schemas import FileCreate, FileDeleted, FileList, FileObject
from openrft.api.files.upload import read_upload
from openrft.api.openapi import multipart_body, openai_errors
from openrft.auth.keys import Principal
from openrft.context import AppContext

router = APIRouter(tags=["files"])


@router.post(
    "/files", response_model=FileObject, responses=openai_errors(413), openapi_extra=multipart_body(FileCreate)
)
async def create_file(
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> FileObject:
    upload = await read_upload(request, max_file_bytes=ctx.settings.max_file_bytes)
    try:
        return await run_in_threadpool(service.create_file, ctx, principal, upload)
    finally:
        upload.close()


@router.get("/files", response_model=FileList)
def list_files(
    purpose: str | None = None,
    after: str | None = None,
    limit: int = Query(default=service.MAX_LIST_LIMIT),
    order: Literal["asc", "desc"] = "desc",
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> FileList:
    return service.list_files(ctx, principal, purpose=purpose, after=after, limit=limit, order=order)


@router.get("/files/{file_id}", response_model=FileObject, responses=openai_errors(404))
def retrieve_file(
    file_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> FileObject:
    return service.get_file(ctx, principal, file_id)


@router.get(
    "/files/{file_id}/content",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **openai_errors(404)},
)
def file_content(
    file_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> FileResponse:
    path, filename = service.content_path(ctx, principal, file_id)
    return FileResponse(path, media_type="application/octet-stream", filename=filename)


@router.delete("/files/{file_id}", response_model=FileDeleted, responses=openai_errors(404))
def delete_file(
    file_id: str, principal: Principal = Depends(get_principal), ctx: AppContext = Depends(get_ctx)
) -> FileDeleted:
    return service.delete_file(ctx, principal, file_id)
