"""`score_model` and `label_model`: an LLM judge reads templated messages and returns a score or a label.

Where the judge runs:
- default: `model` is a model openrft serves (a base model id or an `ft:` id), generated in-process by
  the inference engine when that engine exposes chat generation; otherwise each sample gets a
  `model_grader_server_error` "model serving not available".
- the `openrft` extras block (documented in schemas.py): `{"api_base": URL, "api_key" | "api_key_env"}`
  sends the calls to any OpenAI-compatible `POST {api_base}/chat/completions`.

Every judge call is bounded: at most `sampling_params.max_completions_tokens` tokens (default
DEFAULT_JUDGE_MAX_TOKENS, 256, or what a served judge's context leaves), and a deadline of
`openrft.timeout_s` (default 60 s) for the whole call, retries included; a judge out of time is a
`model_grader_server_error` naming the deadline, and a local judge's generation is cancelled then.

Calls for a batch run concurrently (at most `ctx.max_concurrency` at once), are retried with
exponential backoff on 408/409/429/5xx and connection errors (honouring Retry-After, capped), and are
cached by a hash of everything sent, within one GradingContext (a job), so an identical prompt is
judged once. The judge is asked for OpenAI's structured output ({"steps": [...], "result": x}) unless
`structured_output` is false; its reply is read robustly (judge_parse.py). score_model clips the score
to `range` (default [0, 1]); label_model scores 1.0 when the label is in `passing_labels`, else 0.0.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from openrft.egress import EgressDenied, EgressPolicy
from openrft.errors import OpenRFTError
from openrft.graders import schemas as s
from openrft.graders.context import GradingContext, Outcome, TokenUsage
from openrft.graders.errors import GradeError
from openrft.graders.judge_parse import parse_label, parse_score
from openrft.graders.templates import render

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 8.0
DEFAULT_JUDGE_MAX_TOKENS = 256  # a verdict, even with its reasoning steps, is short; sampling_params may raise it
JudgeGrader = s.ScoreModelGrader | s.LabelModelGrader


def _part(part: Any, env: dict[str, Any]) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": render(part, env)}
    if isinstance(part, s.InputText | s.OutputText):
        return {"type": "text", "text": render(part.text, env)}
    if isinstance(part, s.InputImage):
        return {"type": "image_url", "image_url": {"url": render(part.image_url, env), "detail": part.detail or "auto"}}
    return {"type": "input_audio", "input_audio": part.input_audio.model_dump()}


def render_messages(grader: JudgeGrader, env: dict[str, Any]) -> list[dict[str, Any]]:
    """The grader's input messages as chat-completions messages, templates filled for one sample."""
    messages: list[dict[str, Any]] = []
    for message in grader.input:
        content = message.content
        if isinstance(content, str):
            messages.append({"role": message.role, "content": render(content, env)})
        else:
            parts = content if isinstance(content, list) else [content]
            messages.append({"role": message.role, "content": [_part(p, env) for p in parts]})
    return messages


def _response_format(grader: JudgeGrader) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "number"}
    if isinstance(grader, s.LabelModelGrader):
        result = {"type": "string", "enum": grader.labels}
    step = {"type": "object", "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}},
            "required": ["description", "conclusion"], "additionalProperties": False}  # fmt: skip
    schema = {"type": "object", "properties": {"steps": {"type": "array", "items": step}, "result": result},
              "required": ["steps", "result"], "additionalProperties": False}  # fmt: skip
    return {"type": "json_schema", "json_schema": {"name": "grade", "strict": True, "schema": schema}}


def request_body(grader: JudgeGrader, messages: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": grader.model, "messages": messages}
    params = grader.sampling_params
    if params is not None:
        if params.max_completions_tokens is not None:
            body["max_completion_tokens"] = params.max_completions_tokens
        for key in ("temperature", "top_p", "seed", "reasoning_effort"):
            if getattr(params, key) is not None:
                body[key] = getattr(params, key)
    if grader.openrft is None or grader.openrft.structured_output:
        body["response_format"] = _response_format(grader)
    return body


def _retry_after(response: httpx.Response | None, attempt: int) -> float:
    header = response.headers.get("retry-after") if response is not None else None
    try:
        wait = float(header) if header else 0.25 * 2**attempt
    except ValueError:
        wait = 0.25 * 2**attempt
    return min(max(wait, 0.0), MAX_BACKOFF_S)


def _out_of_time(extras: s.JudgeExtras, where: str) -> GradeError:
    return GradeError(
        "model_grader_server_error",
        f"judge {where} did not answer within its {extras.timeout_s:g} s deadline (openrft.timeout_s)",
    )


def call_remote(extras: s.JudgeExtras, body: dict[str, Any], egress: EgressPolicy) -> dict[str, Any]:
    """POST one chat completion to an OpenAI-compatible endpoint, retrying transient failures.

    Every attempt, and the waits between them, fit in `extras.timeout_s`. The call goes through the
    operator's egress policy (openrft.egress): the address is checked after DNS resolution and on every
    redirect, and `api_key_env` resolves only to a secret the operator allows for this URL."""
    assert extras.api_base is not None
    url = extras.api_base.rstrip("/") + "/chat/completions"
    try:
        key = egress.secret(extras.api_key_env, url) if extras.api_key_env else extras.api_key
    except EgressDenied as exc:
        raise GradeError("model_grader_server_error", exc.message) from None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"max_completion_tokens": DEFAULT_JUDGE_MAX_TOKENS, **body}
    deadline = time.monotonic() + extras.timeout_s
    problem = ""
    with egress.client(timeout_s=extras.timeout_s) as client:
        for attempt in range(extras.max_retries + 1):
            response = None
            try:
                response = client.post(url, json=body, headers=headers, timeout=max(0.01, deadline - time.monotonic()))
                if response.status_code == 200:
                    return dict(response.json())
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUS:
                    break
            except EgressDenied as exc:
                raise GradeError("model_grader_server_error", f"judge at {url}: {exc.message}") from None
            except httpx.TimeoutException:
                raise _out_of_time(extras, f"at {url}") from None
            except (httpx.HTTPError, json.JSONDecodeError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            wait = _retry_after(response, attempt)
            if attempt < extras.max_retries:
                if time.monotonic() + wait >= deadline:
                    raise _out_of_time(extras, f"at {url}") from None
                time.sleep(wait)
    raise GradeError("model_grader_server_error", f"judge at {url} failed: {problem}")


def call_local(ctx: GradingContext, body: dict[str, Any], extras: s.JudgeExtras) -> dict[str, Any]:
    """Generate with a model openrft serves, through the inference engine's chat entry point."""
    if ctx.store is None or ctx.settings is None:
        raise GradeError(
            "model_grader_server_error",
            f"model serving not available for judge model {body['model']!r} here: give the grader an "
            "openrft.api_base (any OpenAI-compatible endpoint)",
        )
    try:
        from openrft.inference.chat import DeadlineExceeded, chat_completion
    except ImportError as exc:
        raise GradeError("model_grader_server_error", f"model serving not available: {exc}") from None
    try:
        reply = chat_completion(
            ctx, ctx.project_id, body, deadline_s=extras.timeout_s, default_max_tokens=DEFAULT_JUDGE_MAX_TOKENS
        )
        return dict(reply)
    except DeadlineExceeded:
        raise _out_of_time(extras, f"model {body['model']!r}") from None
    except OpenRFTError as exc:  # unknown model, prompt too long, ...: this sample's server error
        raise GradeError("model_grader_server_error", f"judge model {body['model']!r}: {exc.message}") from None
    except Exception as exc:  # the engine failing must cost samples, not the step
        raise GradeError("model_grader_server_error", f"{type(exc).__name__}: {exc}") from None


def judge(grader: JudgeGrader, messages: list[dict[str, Any]], ctx: GradingContext) -> tuple[dict[str, Any], bool]:
    """One judge call (cached by input hash): returns (chat completion, served from cache)."""
    body = request_body(grader, messages)
    where = grader.openrft.api_base if grader.openrft and grader.openrft.api_base else "local"
    key = hashlib.sha256(json.dumps([where, body], sort_keys=True, default=str).encode()).hexdigest()
    with ctx.lock:
        cached = ctx.judge_cache.get(key)
    if cached is not None:
        return cached, True
    extras = grader.openrft or s.JudgeExtras()
    reply = call_remote(extras, body, ctx.egress) if extras.api_base else call_local(ctx, body, extras)
    with ctx.lock:
        ctx.judge_cache[key] = reply
    return reply, False


def _usage(reply: dict[str, Any]) -> TokenUsage:
    usage = reply.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return TokenUsage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )


def score_reply(grader: JudgeGrader, reply: dict[str, Any]) -> float:
    try:
        choice = reply["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise GradeError("model_grader_server_error", f"malformed chat completion: {str(reply)[:300]}") from None
    if message.get("refusal") or choice.get("finish_reason") == "content_filter":
        raise GradeError("model_grader_refusal_error", str(message.get("refusal") or "content filtered")[:300])
    text = message.get("content")
    if not isinstance(text, str) or not text.strip():
        raise GradeError("model_grader_parse_error", "the judge returned no text")
    if isinstance(grader, s.LabelModelGrader):
        return 1.0 if parse_label(text, grader.labels) in grader.passing_labels else 0.0
    low, high = grader.range or [0.0, 1.0]
    return parse_score(text, low, high)


def _grade_one(grader: JudgeGrader, env: dict[str, Any], ctx: GradingContext) -> Outcome:
    start = time.perf_counter()
    outcome = Outcome(model=grader.model)
    try:
        reply, cached = judge(grader, render_messages(grader, env), ctx)
        if not cached:
            outcome.usage[grader.model] = _usage(reply)
        outcome.score = score_reply(grader, reply)
    except GradeError as exc:
        outcome.score, outcome.error, outcome.details = 0.0, exc.family, exc.details
    outcome.latency_s = time.perf_counter() - start
    return outcome


def grade_many(grader: JudgeGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    if len(envs) <= 1:
        return [_grade_one(grader, env, ctx) for env in envs]
    with ThreadPoolExecutor(max_workers=max(1, min(ctx.max_concurrency, len(envs)))) as pool:
        return list(pool.map(lambda env: _grade_one(grader, env, ctx), envs))
