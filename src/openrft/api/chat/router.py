"""Routes of the inference API: /v1/chat/completions and /v1/completions (OpenAI shapes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from openrft.api.chat import service
from openrft.api.deps import get_ctx, get_principal
from openrft.api.openapi import openai_errors
from openrft.auth.keys import Principal
from openrft.auth.ratelimit import limiter_for
from openrft.context import AppContext
from openrft.inference.completions import Prepared
from openrft.inference.schemas import ChatCompletion, ChatCompletionCreate, Completion, CompletionCreate

router = APIRouter(tags=["chat"])


def _streamed(chunk: str) -> dict[int | str, dict[str, Any]]:
    """`responses=`: the 200 of `stream: true` (server-sent events) and the errors of a generation route."""
    event = {
        "type": "object",
        "description": f"One server-sent event: `data:` is a {chunk} as JSON; the last one is `data: [DONE]`.",
        "properties": {"data": {"type": "string", "contentMediaType": "application/json"}},
        "required": ["data"],
    }
    stream = {"description": "The answer; with `stream: true`, server-sent events."}
    return {200: stream | {"content": {"text/event-stream": {"schema": event}}}, **openai_errors(404)}


async def _respond(
    request: Request, prep: Prepared, principal: Principal, ctx: AppContext, *, stream: bool, include_usage: bool
) -> Any:
    """The answer, its tokens charged to the key's tokens-per-minute allowance (when it has one)."""
    limiter = limiter_for(ctx.store)
    result = await service.answer(prep, request.is_disconnected, stream=stream, include_usage=include_usage)
    if isinstance(result, dict):
        limiter.charge(principal, int((result.get("usage") or {}).get("total_tokens", 0)))
        return result
    prompt_tokens = sum(len(p) for p in prep.prompts)

    async def charged(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        sent = 0  # a streamed chunk carries about one token of each choice
        try:
            async for chunk in chunks:
                sent += 1
                yield chunk
        finally:
            limiter.charge(principal, prompt_tokens + sent)

    return StreamingResponse(charged(result), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/chat/completions", response_model=ChatCompletion, responses=_streamed("ChatCompletionChunk"))
async def create_chat_completion(
    body: ChatCompletionCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Any:
    prep = await run_in_threadpool(service.prepare, ctx, principal, body)
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _respond(request, prep, principal, ctx, stream=body.stream, include_usage=usage)


@router.post("/completions", response_model=Completion, responses=_streamed("Completion"))
async def create_completion(
    body: CompletionCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Any:
    prep = await run_in_threadpool(service.prepare, ctx, principal, body)
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _respond(request, prep, principal, ctx, stream=body.stream, include_usage=usage)
