"""`lambda`: openrft's grader for Bedrock-contract reward functions (a thin adapter).

`{"type": "lambda", "lambda": {"function": "NAME[:VERSION|:ALIAS] | arn:aws:lambda:... | https://..."}}`
Each sample becomes a Bedrock reward event (the prompt messages + the sampled assistant turn + the
dataset fields) and openrft.functions.reward calls the function in batches. Its per-sample failure
reasons map onto OpenAI's error families: a timeout is an `unresponsive_reward_error`, an exception in
the function a `python_grader_runtime_error`, an invocation that could not be made a
`python_grader_server_error`, a malformed response (wrong count, missing id, bad score) an `other_error`.
The function's `metrics_list` (each entry's value and type) and the version/CodeSha256 used are kept for
the job's metrics, its reward-hacking monitor and its audit.
"""

from __future__ import annotations

from typing import Any

from openrft.graders.context import GradingContext, Outcome
from openrft.graders.errors import GraderValidationError
from openrft.graders.schemas import LambdaGrader

FAMILY = {
    "timeout": "unresponsive_reward_error",
    "function_error": "python_grader_runtime_error",
    "invocation_failed": "python_grader_server_error",
}


def _assistant_turn(sample: dict[str, Any]) -> dict[str, Any]:
    """The sampled answer as the event's last message: its text, and its tool calls (OpenAI's shape) if any."""
    turn: dict[str, Any] = {"role": "assistant", "content": sample["output_text"]}
    if sample.get("output_tools"):
        turn["tool_calls"] = sample["output_tools"]
    return turn


def grade_many(grader: LambdaGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    try:
        from openrft.functions.package import REGISTRY_ERRORS
        from openrft.functions.reward import build_reward_event, call_reward_function
    except ImportError as exc:
        details = f"reward functions are not available in this installation: {exc}"
        return [Outcome(error="python_grader_server_error", details=details) for _ in envs]

    events = [
        build_reward_event([*(env.get("messages") or []), _assistant_turn(env["sample"])], env["item"], f"sample-{i}")
        for i, env in enumerate(envs)
    ]
    ref = grader.lambda_.function
    try:
        result = call_reward_function(ctx, ctx.project_id, ref, events)
    except REGISTRY_ERRORS as exc:  # e.g. the function does not exist (any more) in this project
        raise GraderValidationError(f"reward function {ref!r}: {exc.message}", param="grader.lambda.function") from None
    except RuntimeError as exc:  # e.g. an AWS ARN without boto3 installed
        return [Outcome(error="python_grader_server_error", details=str(exc)) for _ in envs]
    latency = result.duration_s / max(1, len(envs))
    out = []
    for reward, error, reason, metrics, types in zip(
        result.rewards, result.errors, result.details, result.metrics, result.metric_types, strict=True
    ):
        family = None if error is None else FAMILY.get(error, "other_error")
        outcome = Outcome(score=0.0 if family else float(reward), error=family, latency_s=latency, audit=result.audit)
        outcome.details = None if error is None else f"[{error}] {reason or ''}".strip()
        outcome.extra_metrics = dict(metrics)
        outcome.metric_types = dict(types)
        out.append(outcome)
    return out
