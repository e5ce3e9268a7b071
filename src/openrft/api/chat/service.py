"""Chat service: a caller's completion request, run on the engine for the caller's project.

Validation, templating, generation and the OpenAI response bodies are `openrft.inference.completions`,
shared with model graders; this module binds them to the caller and to the request's connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.inference import completions
from openrft.inference.engine import get_engine
from openrft.inference.schemas import ChatCompletionCreate, CompletionCreate


def prepare(
    ctx: AppContext, principal: Principal, body: ChatCompletionCreate | CompletionCreate
) -> completions.Prepared:
    """Resolve, render and check `body` for the caller's project (blocking: run it in a worker thread)."""
    if isinstance(body, ChatCompletionCreate):
        return completions.prepare_chat(ctx, get_engine(), principal.project_id, body)
    return completions.prepare_text(ctx, get_engine(), principal.project_id, body)


async def answer(
    prep: completions.Prepared, disconnected: Callable[[], Awaitable[bool]], *, stream: bool, include_usage: bool
) -> dict[str, Any] | AsyncGenerator[str, None]:
    """The completion body, or with `stream` its server-sent events; a client gone cancels the generation."""
    if stream:
        return completions.stream(get_engine(), prep, disconnected, include_usage=include_usage)
    return await completions.complete(get_engine(), prep, disconnected)
