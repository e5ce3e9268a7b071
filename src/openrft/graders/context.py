"""What every grader kind shares: the sample, the per-job context, and one sample's outcome."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openrft import safejson
from openrft.egress import EgressPolicy
from openrft.graders.errors import GradeError


@dataclass
class Sample:
    """One completion to grade, as OpenAI's `sample` template namespace sees it."""

    output_text: str
    output_json: Any | None = None
    output_tools: list[Any] | None = None
    choices: list[Any] | None = None
    json_expected: bool = False  # the job set a JSON response_format: unparseable text is a sample_parse_error

    @classmethod
    def from_completion(
        cls,
        text: str,
        *,
        response_format: dict[str, Any] | None = None,
        tool_calls: list[Any] | None = None,
        tools: list[Any] | None = None,
    ) -> Sample:
        """A sampled completion; with a json_object/json_schema response_format its text is parsed as JSON.

        With the row's `tools`, the raw text is parsed as the server parses a reply
        (inference.toolcalls): `output_tools` are its calls in OpenAI's shape and `output_text` the rest
        of the reply, as OpenAI's graders see a tool-calling sample. `tool_calls` gives calls already parsed.
        """
        if tools and tool_calls is None:
            from openrft.inference.toolcalls import parse_tool_calls

            reply = parse_tool_calls(text, tools)
            text, tool_calls = reply.content or "", reply.calls or None
        expected = (response_format or {}).get("type") in ("json_object", "json_schema")
        output_json = None
        if expected:
            try:
                output_json = safejson.loads(text)
            except ValueError:  # malformed, too deep, NaN: not the JSON the job asked for
                output_json = None
        return cls(output_text=text, output_json=output_json, output_tools=tool_calls, json_expected=expected)

    def namespace(self) -> dict[str, Any]:
        tools = self.output_tools or []
        choices = self.choices
        if choices is None:
            message = {"role": "assistant", "content": self.output_text, "tool_calls": tools or None}
            choices = [{"index": 0, "message": message, "finish_reason": "stop"}]
        return {
            "output_text": self.output_text,
            "output_json": self.output_json,
            "output_tools": tools,
            "choices": choices,
            "output_audio": None,
        }


@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: TokenUsage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
        }


@dataclass
class GradingContext:
    """Per-job (or per-request) state: where functions and models live, and the judge-call cache.

    `sandbox` is helper D1's SandboxPool (created on first use when None and `settings` is set);
    `judge_cache` maps a hash of a judge call's inputs to its reply, so a repeated prompt costs once.
    """

    project_id: str
    settings: Any = None  # openrft.settings.Settings
    store: Any = None  # openrft.store.db.Store
    blobs: Any = None  # openrft.store.blobs.BlobStore
    sandbox: Any = None  # openrft.functions.sandbox.SandboxPool
    max_concurrency: int = 8
    python_timeout_s: float = 120.0
    python_memory_mb: int = 2048
    judge_cache: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    identity: dict[str, Any] | None = None  # a job's identity: its grader calls are authorized as it

    def authorize(self, grader: dict[str, Any]) -> None:
        """AccessDenied unless the job's identity may make the calls `grader` makes (no identity: no check)."""
        if self.identity is None or self.store is None:
            return
        from openrft.auth import identity

        with self.store.begin() as conn:
            acting = identity.principal_for(conn, self.project_id, self.identity)
            identity.require_calls(conn, acting, list(identity.grader_calls(self.project_id, grader)))

    @property
    def egress(self) -> EgressPolicy:
        """The operator's outbound-call policy (the default one when no settings are given)."""
        return self.settings.egress if self.settings is not None else EgressPolicy()


@dataclass
class Outcome:
    """One sample's result under one grader. `error` is an error family; `score` is then 0."""

    score: float = 0.0
    error: str | None = None
    details: str | None = None
    latency_s: float = 0.0
    model: str | None = None  # the judge of model graders
    usage: dict[str, TokenUsage] = field(default_factory=dict)  # per judge model
    sub: dict[str, Outcome] = field(default_factory=dict)  # multi: each sub-grader's outcome
    audit: dict[str, Any] | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)  # a lambda's metrics_list, by name
    metric_types: dict[str, str] = field(default_factory=dict)  # ... and each entry's type: "Reward" | "Metric"

    @classmethod
    def failed(cls, exc: GradeError, latency_s: float = 0.0) -> Outcome:
        return cls(error=exc.family, details=exc.details, latency_s=latency_s)


def per_sample(fn: Callable[[dict[str, Any]], float], envs: list[dict[str, Any]]) -> list[Outcome]:
    """Run an in-process scoring function on each sample's env, timing it and containing its errors."""
    out = []
    for env in envs:
        start = time.perf_counter()
        try:
            out.append(Outcome(score=fn(env), latency_s=time.perf_counter() - start))
        except GradeError as exc:
            out.append(Outcome.failed(exc, time.perf_counter() - start))
        except Exception:  # a grader bug must cost one sample, not the step
            details = traceback.format_exc(limit=5)
            out.append(Outcome(error="other_error", details=details, latency_s=time.perf_counter() - start))
    return out
