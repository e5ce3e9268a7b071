"""The chat service without HTTP: the in-process entry point, and cancelling when the client goes away."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openrft.auth.keys import ensure_bootstrap
from openrft.errors import InvalidRequest, NotFound
from openrft.inference import completions as service
from openrft.inference.chat import chat_completion
from openrft.inference.engine import SequenceHandle, get_engine
from openrft.inference.registry import add_base_model
from openrft.inference.schemas import ChatCompletionCreate
from openrft.settings import Settings
from openrft.store.db import Store
from tests.inference.tiny import tiny_dirs_fixture  # noqa: F401


@dataclass
class Ctx:
    store: Store
    settings: Settings


@pytest.fixture
def ctx(settings: Settings, tiny_dirs: tuple[Path, Path]) -> Ctx:
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store.from_settings(settings)
    ensure_bootstrap(store, settings)
    add_base_model(store, settings, "tiny", tiny_dirs[0])
    return Ctx(store, settings)


def test_in_process_chat_completion(ctx: Ctx) -> None:
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0}
    out = chat_completion(ctx, "proj_default", body)
    assert out["object"] == "chat.completion" and out["usage"]["completion_tokens"] == 4
    assert out["choices"][0]["finish_reason"] == "length"
    with pytest.raises(NotFound):
        chat_completion(ctx, "proj_default", {**body, "model": "nope"})
    with pytest.raises(InvalidRequest) as err:
        chat_completion(ctx, "proj_default", {**body, "temperature": 9})
    assert err.value.param == "temperature"


class RecordingEngine:
    """The real engine, remembering the handles it gave out."""

    def __init__(self) -> None:
        self.engine = get_engine()
        self.handles: list[SequenceHandle] = []

    def submit(self, *args: Any, **kwargs: Any) -> SequenceHandle:
        handle = self.engine.submit(*args, **kwargs)
        self.handles.append(handle)
        return handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def test_closing_the_stream_cancels_generation(ctx: Ctx) -> None:
    engine = RecordingEngine()
    body = ChatCompletionCreate.model_validate(
        {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 60, "n": 2, "stream": True}
    )
    prep = service.prepare_chat(ctx, engine, "proj_default", body)

    async def read_one_then_leave() -> None:
        async def connected() -> bool:
            return False

        chunks = service.stream(engine, prep, connected, include_usage=False)
        for _ in range(3):  # two opening role chunks (n=2), then the first generated text
            await chunks.__anext__()
        assert len(engine.handles) == 2 and not any(h.cancelled.is_set() for h in engine.handles)
        await chunks.aclose()  # what Starlette does when the client disconnects

    asyncio.run(read_one_then_leave())
    assert len(engine.handles) == 2 and all(h.cancelled.is_set() for h in engine.handles)


def test_disconnected_client_cancels_a_blocking_request(ctx: Ctx) -> None:
    engine = RecordingEngine()
    body = ChatCompletionCreate.model_validate(
        {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 60}
    )
    prep = service.prepare_chat(ctx, engine, "proj_default", body)

    async def gone() -> bool:
        return True

    async def run() -> None:
        events = service._events(engine, prep, gone)
        async for _ in events:
            pass

    asyncio.run(run())
    assert engine.handles and all(h.cancelled.is_set() for h in engine.handles)
