"""A synchronous chat completion for code inside openrft (model graders judging with a served model).

Same validation, templating and engine as POST /v1/chat/completions, without HTTP: `body` is that
endpoint's JSON and the result is a ChatCompletion dict. Call it from a thread with no running event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from openrft.api.chat import service
from openrft.api.chat.schemas import ChatCompletionCreate
from openrft.api.errors import InvalidRequest
from openrft.inference.engine import get_engine


async def _never_disconnected() -> bool:
    return False


def chat_completion(ctx: service.StoreContext, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """ChatCompletion dict for `body` (stream is ignored); raises the API's domain errors."""
    try:
        request = ChatCompletionCreate.model_validate({**body, "stream": False})
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidRequest(f"{param}: {first['msg']}", param=param) from None
    engine = get_engine()
    prep = service.prepare_chat(ctx, engine, project_id, request)
    return asyncio.run(service.complete(engine, prep, _never_disconnected))
