"""A synchronous chat completion for code inside openrft (model graders judging with a served model).

Same validation, templating and engine as POST /v1/chat/completions, without HTTP: `body` is that
endpoint's JSON and the result is a ChatCompletion dict. Call it from a thread with no running event loop.
With `deadline_s`, generation that has not finished by then is cancelled (its batch slots freed) and
`DeadlineExceeded` is raised.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import ValidationError

from openrft.errors import invalid_from
from openrft.inference import completions as service
from openrft.inference.engine import get_engine
from openrft.inference.schemas import ChatCompletionCreate


async def _never_disconnected() -> bool:
    return False


class DeadlineExceeded(TimeoutError):
    """The completion did not finish within its deadline; its sequences were cancelled."""

    def __init__(self, deadline_s: float):
        super().__init__(f"no answer within the {deadline_s:g} s deadline")
        self.deadline_s = deadline_s


def chat_completion(
    ctx: service.StoreContext,
    project_id: str,
    body: dict[str, Any],
    *,
    deadline_s: float | None = None,
    default_max_tokens: int = service.DEFAULT_MAX_TOKENS,
) -> dict[str, Any]:
    """ChatCompletion dict for `body` (stream is ignored); raises the API's domain errors.

    `default_max_tokens` is the completion budget when `body` sets none (capped by what the context leaves).
    """
    try:
        request = ChatCompletionCreate.model_validate({**body, "stream": False})
    except ValidationError as exc:
        raise invalid_from(exc.errors()) from None
    engine = get_engine()
    prep = service.prepare_chat(ctx, engine, project_id, request, default_max_tokens=default_max_tokens)
    started = time.monotonic()
    try:
        # wait_for cancels the generation on time-out; _events' finally then cancels each sequence.
        answer = asyncio.run(asyncio.wait_for(service.complete(engine, prep, _never_disconnected), deadline_s))
    except TimeoutError:
        assert deadline_s is not None
        raise DeadlineExceeded(deadline_s) from None
    # A starved event loop can fire wait_for's timer after the answer is in (it then returns the answer):
    # an answer past its deadline is still a miss.
    if deadline_s is not None and time.monotonic() - started > deadline_s:
        raise DeadlineExceeded(deadline_s)
    return answer
