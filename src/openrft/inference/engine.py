"""The one seam between the HTTP API and whatever generates tokens.

The API turns a request into token ids and `SamplingParams`, calls `Engine.submit`, and receives
`Delta` events (text released so far, with logprobs) and one final `Finished` event through a callback.
The HF-transformers engine (`hf_engine.py`) implements it on a GPU or the CPU; a vLLM engine for GPUs can sit
behind the same four methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from openrft.inference.registry import ResolvedModel


@dataclass(frozen=True)
class SamplingParams:
    """How one sequence is sampled (OpenAI names; `seed` makes a sequence reproducible)."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    json_mode: bool = False  # constrain the output to one JSON value (response_format json_object)
    json_prefix: str = ""  # with json_mode: literal text before the JSON value (a tool call's opening tag) ...
    json_suffix: str = ""  # ... and after it; then the sequence must end


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()  # (token, logprob), best first


@dataclass(frozen=True)
class Delta:
    """Text released since the previous event (stop sequences are held back until ruled out)."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class Finished:
    finish_reason: str  # stop | length | cancelled | error
    prompt_tokens: int
    completion_tokens: int
    error: str | None = None


Event = Delta | Finished
EventSink = Callable[[Event], None]


@dataclass
class SequenceHandle:
    """Returned by `submit`; `cancel()` frees the sequence's batch slot at the next decoding step."""

    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()


class Engine(Protocol):
    def tokenizer(self, model: ResolvedModel) -> Any:
        """A Hugging Face tokenizer (chat template, encode/decode) of the model."""

    def context_length(self, model: ResolvedModel) -> int:
        """Most tokens (prompt + completion) one sequence may hold."""

    def prepare(self, model: ResolvedModel, params: SamplingParams) -> None:
        """Load what a sequence will need (weights, JSON tables) ahead of `submit`; may block for seconds."""

    def submit(
        self,
        model: ResolvedModel,
        prompt_ids: list[int],
        params: SamplingParams,
        sink: EventSink,
        *,
        json_schema: dict[str, Any] | None = None,
    ) -> SequenceHandle:
        """Queue one sequence; `sink` is called from the engine's thread with each event, ending in Finished.

        With `params.json_mode`, the output is constrained to JSON (matching `json_schema` when given),
        between `params.json_prefix` and `params.json_suffix`.
        """

    def forget(self, model: ResolvedModel) -> None:
        """Drop a deleted model's adapter from memory (no-op when not loaded)."""


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine (one shared copy of each base model, whatever the number of apps)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from openrft.inference.hf_engine import HFEngine  # torch is imported only when serving
            from openrft.settings import get_settings

            _engine = HFEngine(dtype=get_settings().inference_dtype)
        return _engine


def reset_engine() -> None:
    """Close the process-wide engine, if one was made; the next `get_engine` makes a fresh one (tests)."""
    global _engine
    with _engine_lock:
        engine, _engine = _engine, None
    close = getattr(engine, "close", None)
    if close is not None:
        close()
