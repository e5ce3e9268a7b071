"""Routes of the inference API: /v1/chat/completions and /v1/completions (OpenAI shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from openrft.api.chat import service
from openrft.api.chat.schemas import ChatCompletionCreate, CompletionCreate
from openrft.api.deps import AppContext, get_ctx, get_principal
from openrft.auth.keys import Principal
from openrft.inference.engine import get_engine

router = APIRouter(tags=["chat"])


async def _respond(request: Request, prep: service.Prepared, *, stream: bool, include_usage: bool) -> Any:
    engine = get_engine()
    if stream:
        events = service.stream(engine, prep, request.is_disconnected, include_usage=include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    return JSONResponse(await service.complete(engine, prep, request.is_disconnected))


@router.post("/chat/completions")
async def create_chat_completion(
    body: ChatCompletionCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Any:
    prep = await run_in_threadpool(service.prepare_chat, ctx, get_engine(), principal.project_id, body)
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _respond(request, prep, stream=body.stream, include_usage=usage)


@router.post("/completions")
async def create_completion(
    body: CompletionCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Any:
    prep = await run_in_threadpool(service.prepare_text, ctx, get_engine(), principal.project_id, body)
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _respond(request, prep, stream=body.stream, include_usage=usage)
