"""Route of the Responses API: POST /v1/responses (OpenAI's shape; responses.service does the work)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from openrft.api.deps import get_ctx, get_principal
from openrft.api.openapi import openai_errors
from openrft.api.responses import service
from openrft.api.responses.schemas import Response, ResponseCreate
from openrft.auth.keys import Principal
from openrft.auth.ratelimit import limiter_for
from openrft.context import AppContext

router = APIRouter(tags=["responses"])

_EVENT = {
    "type": "object",
    "description": "One server-sent event: `event:` is its type (response.created, response.output_text.delta, "
    "..., response.completed), `data:` the ResponseStreamEvent as JSON.",
    "properties": {"event": {"type": "string"}, "data": {"type": "string", "contentMediaType": "application/json"}},
    "required": ["event", "data"],
}
_STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The Response; with `stream: true`, server-sent events.",
        "content": {"text/event-stream": {"schema": _EVENT}},
    },
    **openai_errors(404),
}


@router.post("/responses", response_model=Response, responses=_STREAMED)
async def create_response(
    body: ResponseCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    ctx: AppContext = Depends(get_ctx),
) -> Any:
    prep = await run_in_threadpool(service.prepare, ctx, principal, body)
    limiter = limiter_for(ctx.store)
    if not body.stream:
        result = await service.complete(prep, request.is_disconnected)
        limiter.charge(principal, int(result["usage"]["total_tokens"]))
        return result
    events = service.stream(prep, request.is_disconnected, lambda tokens: limiter.charge(principal, tokens))
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
