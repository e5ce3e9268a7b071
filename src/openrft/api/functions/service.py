"""Lambda API service: AWS response shapes over the function registry, and Invoke through the sandbox.

Invocation types: `RequestResponse` runs and returns the result; `DryRun` checks the function exists
and the caller may call it (204); `Event` (asynchronous on AWS) runs synchronously here and answers 202
with an empty body once done, so callers that fire and forget still work but wait for the run.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openrft import safejson
from openrft.context import AppContext
from openrft.errors import InvalidRequestContent, RequestTooLarge, ServerFault
from openrft.functions import registry
from openrft.functions.arn import account_id, function_arn
from openrft.functions.execution_env import invocation_context

log = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6_291_456  # AWS: 6 MB request and response for RequestResponse
LOG_TAIL_BYTES = 4096
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def function_config(project_id: str, row: dict[str, Any], *, qualified: bool | None = None) -> dict[str, Any]:
    """A version row -> FunctionConfiguration (botocore's lambda shape, AWS's field order)."""
    version = row["version"]
    name = row["function_name"]
    if qualified is None:
        qualified = version != registry.LATEST
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": function_arn(project_id, name, version if qualified else None),
        "Runtime": row["runtime"],
        "Role": row.get("role") or f"arn:aws:iam::{account_id(project_id)}:role/openrft-function",
        "Handler": row["handler"],
        "CodeSize": row["code_size"],
        "Description": row["description"],
        "Timeout": row["timeout_s"],
        "MemorySize": row["memory_mb"],
        "LastModified": row["last_modified"],
        "CodeSha256": row["code_sha256"],
        "Version": version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": row["revision_id"],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    if row["environment"]:
        config["Environment"] = {"Variables": dict(row["environment"])}
    return config


def alias_config(project_id: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "AliasArn": function_arn(project_id, row["function_name"], row["name"]),
        "Name": row["name"],
        "FunctionVersion": row["function_version"],
        "Description": row["description"],
        "RevisionId": row["revision_id"],
    }


def resolve_path(project_id: str, function_ref: str, qualifier: str | None) -> tuple[str, str | None]:
    """FunctionName from the path (maybe `name:qualifier`) + Qualifier query -> (name, qualifier)."""
    name, from_path = registry.split_ref(project_id, function_ref)
    if from_path and qualifier and from_path != qualifier:
        raise registry.invalid("The derived qualifier from the function name does not match the specified qualifier.")
    return name, from_path or qualifier


def paged(
    key: str,
    items: list[dict[str, Any]],
    marker: str | None,
    max_items: int | None,
    shape: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """A list response `{key: [shape(item)...], "NextMarker"?}`, AWS-style Marker/MaxItems paging."""
    page, next_marker = paginate(items, marker, max_items)
    out: dict[str, Any] = {key: [shape(item) for item in page]}
    if next_marker:
        out["NextMarker"] = next_marker
    return out


def paginate(
    items: list[dict[str, Any]], marker: str | None, max_items: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """AWS-style Marker/MaxItems paging; the marker is the index of the next item."""
    start = 0
    if marker:
        if not marker.isdigit():
            raise registry.invalid(f"Invalid Marker {marker!r}")
        start = int(marker)
    size = min(max_items or 50, 10_000)
    if size < 1:
        raise registry.invalid("MaxItems must be at least 1")
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


# ---- Invoke --------------------------------------------------------------------------------------


@dataclass
class InvokeOutcome:
    status_code: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _log_result(request_id: str, version: str, log_tail: str, duration_s: float, memory_mb: int) -> str:
    """AWS's START/END/REPORT framing around the function's output; base64 of the last 4 KB."""
    text = (
        f"START RequestId: {request_id} Version: {version}\n{log_tail}"
        f"{'' if not log_tail or log_tail.endswith(chr(10)) else chr(10)}"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_s * 1000:.2f} ms\t"
        f"Billed Duration: {max(1, round(duration_s * 1000))} ms\tMemory Size: {memory_mb} MB\t\n"
    )
    return base64.b64encode(text.encode()[-LOG_TAIL_BYTES:]).decode()


def _parse_payload(payload: bytes) -> Any:
    if len(payload) > MAX_SYNC_PAYLOAD:
        raise RequestTooLarge(f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation")
    if not payload.strip():
        return {}
    try:
        return safejson.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:  # malformed, nested too deeply, NaN
        raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from exc


def invoke(
    ctx: AppContext,
    project_id: str,
    function_ref: str,
    qualifier: str | None,
    payload: bytes,
    *,
    invocation_type: str,
    log_type: str | None,
) -> InvokeOutcome:
    if invocation_type not in INVOCATION_TYPES:
        raise registry.invalid(f"Invalid InvocationType {invocation_type!r}: one of {', '.join(INVOCATION_TYPES)}")
    name, qualifier = resolve_path(project_id, function_ref, qualifier)
    row = registry.get_version(ctx.store, project_id, name, qualifier)
    if invocation_type == "DryRun":
        return InvokeOutcome(204, b"", {"X-Amz-Executed-Version": row["version"]})
    event = _parse_payload(payload)
    fn = registry.resolved_from_row(project_id, row, qualifier, registry.read_code(ctx.blobs, row))
    request_id = str(uuid.uuid4())
    result = _run(ctx, fn, event, request_id)
    headers = {"X-Amz-Executed-Version": fn.version, "x-amzn-RequestId": request_id}
    if log_type == "Tail":
        headers["X-Amz-Log-Result"] = _log_result(
            request_id, fn.version, result.log_tail, result.duration_s, fn.memory_mb
        )
    if result.ok:
        body = json.dumps(result.value).encode()
    else:
        headers["X-Amz-Function-Error"] = "Unhandled"
        error = dict(result.error or {})
        body = json.dumps(
            {
                "errorMessage": error.get("errorMessage", "unknown error"),
                "errorType": error.get("errorType", "Runtime.Unknown"),
                "requestId": request_id,
                "stackTrace": error.get("stackTrace", []),
            }
        ).encode()
    if invocation_type == "Event":
        return InvokeOutcome(202, b"", {"x-amzn-RequestId": request_id})
    return InvokeOutcome(200, body, headers)


def _run(ctx: AppContext, fn: registry.ResolvedFunction, event: Any, request_id: str) -> Any:
    from openrft.functions.sandbox import SandboxUnavailable, get_pool  # runtime owned by its own module

    try:
        pool = getattr(ctx, "sandbox", None) or get_pool(ctx.settings)
        # The execution role's fresh credentials and this server's endpoint (AccessDenied: a role Lambda can't assume).
        context = invocation_context(ctx, fn, request_id, api_url=pool.api_url)
        return pool.invoke(fn.bundle, entry=fn.handler, payload=event, limits=fn.limits, kind="lambda", context=context)
    except SandboxUnavailable as exc:
        raise ServerFault(str(exc), code="ServiceException") from exc
