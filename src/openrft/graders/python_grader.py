"""`python`: the user's `grade(sample, item) -> float`, run out of process in openrft's sandbox.

The source (checked at validation: under 256 kB, compiles, defines grade with two arguments) becomes a
one-file bundle `grader.py`, keyed by its hash so warm sandbox workers are reused across steps. One
sandbox call grades the whole batch (`kind="python_grader"`, payload `[[sample, item], ...]`); the
sandbox (openrft.functions.sandbox, shared with Lambda reward functions) enforces no network, the
memory limit and the wall-time limit (per call: `GradingContext.python_timeout_s`, OpenAI's 2 minutes
by default). A grade that raises, returns a non-number, NaN or an infinity, or a batch that times out
or exhausts memory is a `python_grader_runtime_error` for the samples concerned, traceback kept; a
sandbox that cannot start is a `python_grader_server_error`.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from openrft.graders.context import GradingContext, Outcome
from openrft.graders.schemas import PythonGrader


def _all_failed(n: int, family: str, details: str, latency_s: float = 0.0) -> list[Outcome]:
    return [Outcome(error=family, details=details, latency_s=latency_s) for _ in range(n)]


def _one(entry: Any, latency_s: float) -> Outcome:
    if not isinstance(entry, dict) or not entry.get("ok"):
        entry = entry if isinstance(entry, dict) else {"error": f"malformed sandbox result {entry!r}"}
        details = "\n".join(str(x) for x in (entry.get("error"), entry.get("traceback")) if x)
        return Outcome(error="python_grader_runtime_error", details=details or "grade failed", latency_s=latency_s)
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        details = f"grade must return a finite number, got {value!r}"
        return Outcome(error="python_grader_runtime_error", details=details, latency_s=latency_s)
    return Outcome(score=float(value), latency_s=latency_s)


def grade_many(grader: PythonGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    try:
        from openrft.functions.sandbox import get_pool
        from openrft.functions.sandbox_types import CodeBundle, Limits
    except ImportError as exc:
        return _all_failed(len(envs), "python_grader_server_error", f"sandbox runtime not available: {exc}")
    pool = ctx.sandbox
    if pool is None:
        if ctx.settings is None:
            return _all_failed(len(envs), "python_grader_server_error", "no sandbox configured")
        pool = ctx.sandbox = get_pool(ctx.settings)
    sha = hashlib.sha256(grader.source.encode("utf-8")).hexdigest()
    bundle = CodeBundle(key=f"python-grader/{sha}", files={"grader.py": grader.source.encode("utf-8")})
    limits = Limits(timeout_s=ctx.python_timeout_s, memory_mb=ctx.python_memory_mb)
    payload = [[env["sample"], env["item"]] for env in envs]
    start = time.perf_counter()
    try:
        result = pool.invoke(bundle, entry="grader.grade", payload=payload, limits=limits, kind="python_grader")
    except Exception as exc:  # SandboxUnavailable and the like: the host's problem, not the grader's
        return _all_failed(len(envs), "python_grader_server_error", f"{type(exc).__name__}: {exc}")
    latency = (time.perf_counter() - start) / max(1, len(envs))
    if not result.ok:
        err = result.error or {}
        trace = err.get("stackTrace")
        trace = "\n".join(trace) if isinstance(trace, list) else (trace or "")
        details = f"{err.get('errorType', 'Error')}: {err.get('errorMessage', '')}\n{trace}".strip()
        return _all_failed(len(envs), "python_grader_runtime_error", details, latency)
    values = result.value if isinstance(result.value, list) else []
    if len(values) != len(envs):
        return _all_failed(len(envs), "python_grader_server_error", f"sandbox returned {len(values)} results")
    return [_one(entry, latency) for entry in values]
