"""The reward contract of Amazon Bedrock RFT: build the event, call the function, read the scores.

Event (reference/api-spec.md section 3.2): a JSON list, one object per sampled completion:
    {"id": "<unique>", "messages": [...prompt..., {"role": "assistant", "content": <sample>}],
     <every dataset field but messages/id at top level>, "metadata": {<every dataset field but messages>}}
Bedrock's own docs disagree on top level vs `metadata`, so both are sent.

Response (3.3): a JSON list of {"id", "aggregate_reward_score": number, "metrics_list": [{name, value,
type}]} (each entry's value and its type, "Reward" or "Metric", are kept), optionally wrapped as
{"statusCode": 200, "body": "<json>"}. Anything else is an error of the
samples it concerns: they score 0 and carry a reason, so a broken reward shows up in the job's error
metrics instead of silently training on garbage.

Targets: an openrft function of the project (NAME[:QUALIFIER] or its ARN) runs in the sandbox; an ARN of
another account goes to real AWS Lambda through boto3 (extra `openrft[aws]`), for the accounts the
operator lists in `OPENRFT_OUTBOUND_AWS_ACCOUNTS`; an `https://` URL gets the event as a JSON POST,
through the operator's egress policy (openrft.egress). A refused target fails its samples with the
policy's reason. A local function's every invocation gets its environment from execution_env.py (this
server's endpoint through the sandbox's relay; with an openrft execution role, fresh temporary
credentials of it); a role that no longer trusts Lambda fails that batch's samples with the reason.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from openrft import safejson
from openrft.egress import EgressDenied, EgressPolicy
from openrft.functions.arn import is_aws_arn
from openrft.store.blobs import BlobStore

DEFAULT_BATCH_SIZE = 64
HTTP_TIMEOUT_S = 300.0

# Error families (BatchResult.errors of the graders count these).
E_INVALID_RESPONSE = "invalid_response"
E_WRONG_COUNT = "wrong_count"
E_MISSING_ID = "missing_id"
E_DUPLICATE_ID = "duplicate_id"
E_INVALID_SCORE = "invalid_score"
E_NON_FINITE = "non_finite_score"
E_FUNCTION_ERROR = "function_error"
E_TIMEOUT = "timeout"
E_INVOCATION = "invocation_failed"


@dataclass
class ParsedRewards:
    """Per-sample outcome of one response, aligned with the ids sent."""

    rewards: list[float]
    errors: list[str | None]  # error family or None
    details: list[str | None]  # human reason or None
    metrics: list[dict[str, float]]  # metrics_list of each sample, by name
    metric_types: list[dict[str, str]]  # each metrics_list entry's `type` ("Reward" | "Metric"), when it has one


@dataclass
class RewardCallResult:
    rewards: list[float]  # 0.0 where errors[i] is set
    errors: list[str | None]
    details: list[str | None]
    metrics: list[dict[str, float]]
    metric_types: list[dict[str, str]]  # metrics_list name -> its declared type, per sample
    metric_means: dict[str, float]  # mean of each metrics_list name over the samples that reported it
    audit: dict[str, Any]  # {function_name, version, code_sha256, arn}
    duration_s: float = 0.0
    logs: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(e is not None for e in self.errors)


def build_reward_event(
    sample_messages: list[dict[str, Any]], item: dict[str, Any], sample_id: str, completion: str | None = None
) -> dict[str, Any]:
    """One rollout object. `sample_messages` already ends with the sampled assistant turn, unless
    `completion` is given, in which case it is appended as that turn."""
    messages = [dict(m) for m in sample_messages]
    if completion is not None:
        messages.append({"role": "assistant", "content": completion})
    fields = {k: v for k, v in item.items() if k not in ("messages", "tools")}
    event: dict[str, Any] = {"id": str(sample_id)}
    event["messages"] = messages
    event.update({k: v for k, v in fields.items() if k not in ("id", "messages", "metadata")})
    event["metadata"] = fields
    return event


def _failed(n: int, family: str, detail: str) -> ParsedRewards:
    return ParsedRewards([0.0] * n, [family] * n, [detail] * n, [{} for _ in range(n)], [{} for _ in range(n)])


def _unwrap(raw: Any) -> Any:
    """bytes/str JSON -> object; {"statusCode", "body"} -> body; raises ValueError with the reason."""
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            raw = safejson.loads(raw, finite=False)  # a NaN score is that sample's error (E_NON_FINITE)
        except json.JSONDecodeError as exc:
            raise ValueError(f"response is not JSON: {exc}") from exc
        except safejson.JSONLimitError as exc:
            raise ValueError(f"response refused: {exc}") from exc
    if isinstance(raw, dict) and "statusCode" in raw and "body" in raw:
        if raw["statusCode"] != 200:
            raise ValueError(f"wrapped response has statusCode {raw['statusCode']}")
        return _unwrap(raw["body"])
    return raw


def _score(entry: dict[str, Any]) -> tuple[float | None, str | None, str | None]:
    value = entry.get("aggregate_reward_score")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, E_INVALID_SCORE, f"aggregate_reward_score must be a number, got {value!r:.80}"
    if not math.isfinite(value):
        return None, E_NON_FINITE, f"aggregate_reward_score must be finite, got {value}"
    return float(value), None, None


def _metrics(entry: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """metrics_list -> ({name: value}, {name: type}); malformed entries are skipped (the score is what trains).

    The type ("Reward": a part of the reward, "Metric": a measure beside it) is kept where the entry
    declares one as a string: the reward-hacking monitor tells components from harm measures by it.
    """
    out: dict[str, float] = {}
    types: dict[str, str] = {}
    items = entry.get("metrics_list")
    if not isinstance(items, list):
        return out, types
    for metric in items:
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            continue
        value = metric.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[metric["name"]] = float(value)
            if isinstance(metric.get("type"), str):
                types[metric["name"]] = metric["type"][:64]
    return out, types


def parse_reward_response(raw: Any, ids: list[str]) -> ParsedRewards:
    """Match a function's response to the ids sent; every problem becomes a per-sample error."""
    n = len(ids)
    try:
        body = _unwrap(raw)
    except ValueError as exc:
        return _failed(n, E_INVALID_RESPONSE, str(exc))
    if isinstance(body, dict) and "errorMessage" in body:
        kind = body.get("errorType", "Error")
        return _failed(n, E_FUNCTION_ERROR, f"function raised {kind}: {str(body['errorMessage'])[:500]}")
    if not isinstance(body, list):
        return _failed(n, E_INVALID_RESPONSE, f"response must be a JSON list, got {type(body).__name__}")
    if len(body) != n:
        return _failed(n, E_WRONG_COUNT, f"function returned {len(body)} results for {n} samples")
    by_id: dict[str, dict[str, Any]] = {}
    duplicates: set[str] = set()
    for entry in body:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str | int) and not isinstance(entry.get("id"), bool):
            key = str(entry["id"])
            if key in by_id:
                duplicates.add(key)
            by_id[key] = entry
    out = ParsedRewards([0.0] * n, [None] * n, [None] * n, [{} for _ in range(n)], [{} for _ in range(n)])
    for i, sample_id in enumerate(ids):
        entry = by_id.get(sample_id)
        if sample_id in duplicates:
            out.errors[i], out.details[i] = (
                E_DUPLICATE_ID,
                f"id {sample_id!r} appears more than once in the response",
            )
        elif entry is None:
            out.errors[i], out.details[i] = E_MISSING_ID, f"no result with id {sample_id!r} in the response"
        else:
            score, family, detail = _score(entry)
            if score is None:
                out.errors[i], out.details[i] = family, detail
            else:
                out.rewards[i] = score
                out.metrics[i], out.metric_types[i] = _metrics(entry)
    return out


def metric_means(metrics: list[dict[str, float]]) -> dict[str, float]:
    totals: dict[str, list[float]] = defaultdict(list)
    for sample in metrics:
        for name, value in sample.items():
            totals[name].append(value)
    return {name: sum(values) / len(values) for name, values in totals.items()}


# ---- targets ---------------------------------------------------------------------------------------


def _is_timeout(error: dict[str, Any] | None) -> bool:
    """The sandbox's wall-time kill (AWS names it Sandbox.Timedout), not an exception of the code."""
    return (error or {}).get("errorType") == "Sandbox.Timedout"


def _call_local(
    ctx: Any, project_id: str, ref: str, batches: list[list[dict[str, Any]]]
) -> tuple[list[ParsedRewards], dict[str, Any], list[str]]:
    from openrft.errors import AccessDenied
    from openrft.functions.execution_env import invocation_context
    from openrft.functions.registry import resolve_function  # store-backed; not for URL targets
    from openrft.functions.sandbox import get_pool

    blobs = getattr(ctx, "blobs", None) or BlobStore(ctx.settings.blobs_dir)
    fn = resolve_function(ctx.store, project_id, ref, blobs)
    pool = getattr(ctx, "sandbox", None) or get_pool(ctx.settings)
    parsed, logs = [], []
    for batch in batches:
        ids = [e["id"] for e in batch]
        try:  # each call gets its own credentials of the function's execution role (execution_env.py)
            context = invocation_context(ctx, fn, str(uuid.uuid4()), api_url=getattr(pool, "api_url", None))
        except AccessDenied as exc:  # the role does not trust Lambda (any more)
            parsed.append(_failed(len(ids), E_INVOCATION, f"{exc.code}: {exc.message}"))
            continue
        result = pool.invoke(
            fn.bundle, entry=fn.handler, payload=batch, limits=fn.limits, kind="lambda", context=context
        )
        logs.append(result.log_tail)
        if result.ok:
            parsed.append(parse_reward_response(result.value, ids))
        elif _is_timeout(result.error):
            parsed.append(_failed(len(ids), E_TIMEOUT, f"function timed out after {fn.timeout_s} s"))
        else:
            err = result.error or {}
            detail = f"function raised {err.get('errorType', 'Error')}: {str(err.get('errorMessage', ''))[:500]}"
            parsed.append(_failed(len(ids), E_FUNCTION_ERROR, detail))
    return parsed, fn.audit(), logs


def _call_http(
    url: str, batches: list[list[dict[str, Any]]], egress: EgressPolicy
) -> tuple[list[ParsedRewards], dict[str, Any], list[str]]:
    """POST each batch to an HTTP reward endpoint, through the operator's egress policy."""
    parsed = []
    with egress.client(timeout_s=HTTP_TIMEOUT_S) as client:
        for batch in batches:
            ids = [e["id"] for e in batch]
            try:
                response = client.post(url, json=batch)
            except EgressDenied as exc:
                parsed.append(_failed(len(ids), E_INVOCATION, exc.message))
                continue
            except httpx.TimeoutException:
                parsed.append(_failed(len(ids), E_TIMEOUT, f"{url} did not answer within {HTTP_TIMEOUT_S} s"))
                continue
            except httpx.HTTPError as exc:
                parsed.append(_failed(len(ids), E_INVOCATION, f"POST {url} failed: {exc}"))
                continue
            if response.status_code != 200:
                detail = f"POST {url} returned HTTP {response.status_code}: {response.text[:300]}"
                parsed.append(_failed(len(ids), E_INVOCATION, detail))
            else:
                parsed.append(parse_reward_response(response.content, ids))
    return parsed, {"function_name": url, "version": None, "code_sha256": None, "arn": None}, []


def _call_aws(
    arn: str, batches: list[list[dict[str, Any]]], egress: EgressPolicy
) -> tuple[list[ParsedRewards], dict[str, Any], list[str]]:
    """Invoke a function on AWS Lambda with the server's AWS credentials, for accounts the operator allows."""
    try:
        egress.check_aws_account(arn.split(":")[4])
    except EgressDenied as exc:
        audit = {"function_name": arn.split(":")[6], "version": None, "code_sha256": None, "arn": arn}
        return [_failed(len(b), E_INVOCATION, exc.message) for b in batches], audit, []
    try:
        import boto3  # optional extra
    except ImportError as exc:
        raise RuntimeError(
            f"reward function {arn} is on AWS Lambda, which needs boto3: pip install 'openrft[aws]'"
        ) from exc
    import botocore.config

    region = arn.split(":")[3]
    # A Lambda may run 15 minutes; botocore's default 60 s read timeout would cut it (and retry it).
    config = botocore.config.Config(read_timeout=910, connect_timeout=10, retries={"max_attempts": 3})
    client = boto3.client("lambda", region_name=region, config=config)
    parsed, version = [], None
    for batch in batches:
        ids = [e["id"] for e in batch]
        try:
            response = client.invoke(FunctionName=arn, InvocationType="RequestResponse", Payload=json.dumps(batch))
        except Exception as exc:  # botocore raises many kinds; each is this batch's error
            parsed.append(_failed(len(ids), E_INVOCATION, f"AWS Lambda invoke failed: {exc}"))
            continue
        version = response.get("ExecutedVersion", version)
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            detail = f"function error ({response['FunctionError']}): {payload[:500].decode(errors='replace')}"
            parsed.append(_failed(len(ids), E_TIMEOUT if b"timed out" in payload else E_FUNCTION_ERROR, detail))
        else:
            parsed.append(parse_reward_response(payload, ids))
    sha = None
    try:
        sha = client.get_function_configuration(FunctionName=arn).get("CodeSha256")
    except Exception:  # the audit is best effort: the caller may lack lambda:GetFunctionConfiguration
        sha = None
    return (
        parsed,
        {"function_name": arn.split(":")[6], "version": version, "code_sha256": sha, "arn": arn},
        [],
    )


def call_reward_function(
    ctx: Any, project_id: str, ref: str, events: list[dict[str, Any]], *, batch_size: int = DEFAULT_BATCH_SIZE
) -> RewardCallResult:
    """Score `events` (from build_reward_event) with the function `ref` in batches of `batch_size`.

    `ctx` is anything with `store`, `settings`, `blobs` (and optionally `sandbox`): the API's
    AppContext or the graders' GradingContext. Resolution errors (unknown function) raise the
    registry's errors (`package.REGISTRY_ERRORS`); everything that goes wrong while scoring is a
    per-sample error in the result.
    """
    started = time.monotonic()
    batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]
    egress = ctx.settings.egress if getattr(ctx, "settings", None) is not None else EgressPolicy()
    if ref.startswith(("https://", "http://")):
        parsed, audit, logs = _call_http(ref, batches, egress)
    elif is_aws_arn(ref, project_id):
        parsed, audit, logs = _call_aws(ref, batches, egress)
    else:
        parsed, audit, logs = _call_local(ctx, project_id, ref, batches)
    rewards = [r for p in parsed for r in p.rewards]
    errors = [e for p in parsed for e in p.errors]
    details = [d for p in parsed for d in p.details]
    metrics = [m for p in parsed for m in p.metrics]
    metric_types = [t for p in parsed for t in p.metric_types]
    return RewardCallResult(
        rewards=rewards,
        errors=errors,
        details=details,
        metrics=metrics,
        metric_types=metric_types,
        metric_means=metric_means(metrics),
        audit=audit,
        duration_s=time.monotonic() - started,
        logs=logs,
    )
