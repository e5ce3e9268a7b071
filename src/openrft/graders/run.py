"""Grading entry points: `grade_batch` (the trainer, a whole step) and `run_response` (the run API).

Both dispatch on the grader's `type` through GRADERS (one `grade_many(grader, envs, ctx)` per kind) and
never raise for a bad sample: a sample that fails scores 0 and carries its error family, counted in the
metrics fragments that the trainer writes into OpenAI-shaped metrics events (api-spec 4.9).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from openrft.graders import lambda_grader, model_graders, multi, python_grader, string_check, text_similarity
from openrft.graders import schemas as s
from openrft.graders.context import GradingContext, Outcome, Sample, TokenUsage
from openrft.graders.errors import ERROR_FAMILIES
from openrft.graders.validate import parse_grader

__all__ = ["BatchResult", "GradingContext", "Sample", "grade_batch", "run_response"]

GRADERS: dict[str, Callable[[Any, list[dict[str, Any]], GradingContext], list[Outcome]]] = {
    "string_check": string_check.grade_many,
    "text_similarity": text_similarity.grade_many,
    "python": python_grader.grade_many,
    "score_model": model_graders.grade_many,
    "label_model": model_graders.grade_many,
    "lambda": lambda_grader.grade_many,
}
MAX_ERROR_DETAILS = 20


def grade_outcomes(grader: s.AnyGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    if not envs:
        return []
    if isinstance(grader, s.MultiGrader):
        return multi.grade_many(grader, envs, ctx, grade_outcomes)
    return GRADERS[grader.type](grader, envs, ctx)


@lru_cache(maxsize=64)
def _parsed(grader_json: str) -> s.AnyGrader:
    return parse_grader(json.loads(grader_json))


def typed(grader: dict[str, Any] | s.AnyGrader) -> s.AnyGrader:
    if isinstance(grader, dict):
        return _parsed(json.dumps(grader, sort_keys=True))
    return grader


def build_env(sample: Sample, item: dict[str, Any], messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One sample's template namespaces (+ the prompt `messages`, which only the lambda grader reads)."""
    return {"sample": sample.namespace(), "item": item, "messages": messages, "json_expected": sample.json_expected}


@dataclass
class GraderInfo:
    name: str
    type: str
    model: str | None = None


@dataclass
class BatchResult:
    """A step's grading: rewards aligned with the samples, plus what the metrics events need."""

    grader: GraderInfo
    rewards: list[float]  # 0.0 where errors[i] is set
    scores: dict[str, list[float]]  # grader name (top + multi's sub-graders) -> score per sample
    errors: list[str | None]  # error family per sample
    error_counts: dict[str, int]
    error_details: list[str]  # "[grader] family: details" of the first failing samples
    outcomes: list[Outcome] = field(repr=False, default_factory=list)
    sub_graders: list[GraderInfo] = field(default_factory=list)
    extra_metrics: dict[str, float] = field(default_factory=dict)  # e.g. lambda metrics_list means
    metric_types: dict[str, str] = field(default_factory=dict)  # metrics_list name -> "Reward" | "Metric"
    audit: list[dict[str, Any]] = field(default_factory=list)  # e.g. lambda function version/CodeSha256

    def _per_grader(self) -> list[tuple[GraderInfo, list[Outcome]]]:
        rows = [(self.grader, self.outcomes)]
        rows += [(info, [o.sub[info.name] for o in self.outcomes]) for info in self.sub_graders]
        return rows

    def metrics(self, split: str = "train") -> dict[str, Any]:
        """OpenAI metrics-event fragments for `split` ("train" or "valid"), from api-spec 4.9."""
        p = split
        n = max(1, len(self.outcomes))
        scores, errors, usage, timing = [], [], [], []
        per_model: dict[str, TokenUsage] = {}
        for info, outs in self._per_grader():
            head = {"name": info.name, "type": info.type}
            scores.append(head | {f"{p}_reward_mean": sum(o.score for o in outs) / n})
            counts = Counter(o.error for o in outs if o.error)
            err: dict[str, Any] = dict(head)
            for family in ERROR_FAMILIES:
                err[f"{p}_{family}_mean"] = counts[family] / n
                err[f"{p}_{family}_count"] = float(counts[family])
            errors.append(err)
            timing.append(head | {f"{p}_execution_latency_mean": sum(o.latency_s for o in outs) / n})
            if info.model is not None and info.type in ("score_model", "label_model"):
                total = TokenUsage()
                for o in outs:
                    total.add(o.usage.get(info.model, TokenUsage()))
                per_model.setdefault(info.model, TokenUsage()).add(total)
                usage.append(head | {"model": info.model} | _usage_stats(p, total, n))
        prefix = "eval" if split == "valid" else split
        return {
            "scores": {f"{p}_reward_mean": sum(self.rewards) / n, "graders": scores},
            "errors": {"graders": errors},
            "usage": {"graders": usage},
            "timing": {"graders": timing},
            "model_graders_token_usage": {
                model: {f"{prefix}_{k}": v for k, v in u.as_dict().items() if k != "total_tokens"}
                for model, u in per_model.items()
            },
        }


def _usage_stats(p: str, total: TokenUsage, n: int) -> dict[str, float]:
    return {
        f"{p}_prompt_tokens_mean": total.prompt_tokens / n,
        f"{p}_prompt_tokens_count": float(total.prompt_tokens),
        f"{p}_completion_tokens_mean": total.completion_tokens / n,
        f"{p}_completion_tokens_count": float(total.completion_tokens),
    }


def _info(name: str, grader: s.AnyGrader) -> GraderInfo:
    return GraderInfo(name=name, type=grader.type, model=getattr(grader, "model", None))


def grade_batch(
    grader: dict[str, Any] | s.AnyGrader,
    samples: list[Sample],
    items: list[dict[str, Any]],
    *,
    ctx: GradingContext,
    split: str = "train",
    messages: list[list[dict[str, Any]]] | None = None,
) -> BatchResult:
    """Grade a whole step: samples[i] against items[i] (`messages[i]` = its prompt, for lambda graders).

    The grader is validated (cached) first; an invalid one raises GraderValidationError. `split` only
    labels the metrics fragments (`metrics(split)` can relabel them).
    """
    if len(samples) != len(items) or (messages is not None and len(messages) != len(samples)):
        raise ValueError("samples, items (and messages) must have the same length")
    model = typed(grader)
    ctx.authorize(model.model_dump(by_alias=True, exclude_none=True))  # a job's identity: AccessDenied if revoked
    envs = [
        build_env(smp, itm, messages[i] if messages else None)
        for i, (smp, itm) in enumerate(zip(samples, items, strict=True))
    ]
    outcomes = grade_outcomes(model, envs, ctx)
    subs = [_info(k, g) for k, g in model.graders.items()] if isinstance(model, s.MultiGrader) else []
    top = _info(model.name, model)
    scores = {top.name: [o.score for o in outcomes]}
    scores.update({info.name: [o.sub[info.name].score for o in outcomes] for info in subs})
    failing = [o for o in outcomes if o.error][:MAX_ERROR_DETAILS]
    extra: dict[str, list[float]] = {}
    types: dict[str, str] = {}
    for o in outcomes:
        for k, v in o.extra_metrics.items():
            extra.setdefault(k, []).append(v)
        for part in (o, *o.sub.values()):  # a multi grader's lambda sub-graders declare theirs
            types.update(part.metric_types)
    audits = [o.audit for o in outcomes if o.audit]
    return BatchResult(
        grader=top,
        rewards=[0.0 if o.error else o.score for o in outcomes],
        scores=scores,
        errors=[o.error for o in outcomes],
        error_counts=dict(Counter(o.error for o in outcomes if o.error)),
        error_details=[f"[{model.name}] {o.error}: {(o.details or '')[:2000]}" for o in failing],
        outcomes=outcomes,
        sub_graders=subs,
        extra_metrics={k: sum(v) / len(v) for k, v in extra.items()},
        metric_types=types,
        audit=[dict(a) for a in {json.dumps(a, sort_keys=True): a for a in audits}.values()],
    )


def _error_flags(outcome: Outcome) -> dict[str, Any]:
    flags: dict[str, Any] = {family: outcome.error == family for family in ERROR_FAMILIES}
    flags["model_grader_server_error_details"] = (
        outcome.details if outcome.error == "model_grader_server_error" else None
    )
    flags["python_grader_runtime_error_details"] = (
        outcome.details if outcome.error == "python_grader_runtime_error" else None
    )
    flags["python_grader_server_error_type"] = (
        (outcome.details or "").split(":", 1)[0] or None if outcome.error == "python_grader_server_error" else None
    )
    return flags


def run_response(grader: dict[str, Any], sample: Sample, item: Any, *, ctx: GradingContext) -> dict[str, Any]:
    """One sample through one grader, as OpenAI's GraderRunResponse."""
    start = time.perf_counter()
    result = grade_batch(grader, [sample], [item], ctx=ctx)
    elapsed = time.perf_counter() - start
    outcome = result.outcomes[0]
    usage = {model: u.as_dict() for model, u in outcome.usage.items()}
    sub_rewards = {name: o.score for name, o in outcome.sub.items()}
    models = sorted({info.model for info in [result.grader, *result.sub_graders] if info.model})
    metadata: dict[str, Any] = {
        "errors": _error_flags(outcome),
        "execution_time": elapsed,
        "name": result.grader.name,
        "sampled_model_name": models[0] if models else None,
        "scores": dict(sub_rewards),
        "token_usage": sum(u["total_tokens"] for u in usage.values()) if usage else None,
        "type": result.grader.type,
    }
    metadata["errors"]["error_details"] = outcome.details if outcome.error else None  # openrft extra: why
    return {
        "reward": result.rewards[0],
        "metadata": metadata,
        "sub_rewards": sub_rewards,
        "model_grader_token_usage_per_model": usage,
    }
