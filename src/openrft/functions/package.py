"""What a function is made of, checked before anything is stored: its configuration and its zip.

Limits follow AWS Lambda's (Timeout 1-900 s, MemorySize 128-10240 MB, 50 MB zipped code for direct
upload, 250 MB unzipped, 4 KB of environment variables). A zip must open, keep every entry inside its
root, and hold the handler's module. Its unzipped size is what inflating it really yields, streamed
with a cap (``functions/unzip.py``): sizes in its headers are never trusted, so a zip that declares a
1.2 GB entry as 100 bytes is refused here, in a few chunks of memory, instead of inflating on its first
invocation. Failures are AWS's InvalidParameterValueException (400) or RequestTooLargeException (413).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

from openrft.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    RequestTooLarge,
    ResourceConflict,
    ResourceNotFound,
)
from openrft.functions import unzip

RUNTIMES = ("python3.11", "python3.12")
MAX_ZIP_BYTES = 50 * 1024 * 1024  # AWS: 50 MB zipped for direct upload
MAX_UNZIPPED_BYTES = unzip.MAX_UNZIPPED_BYTES  # AWS: 250 MB unzipped
MAX_ENV_BYTES = 4096
ENV_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")


# Every error the registry raises (a caller that resolves a function name catches these).
REGISTRY_ERRORS = (ResourceNotFound, InvalidParameterValue, ResourceConflict, PreconditionFailed, RequestTooLarge)


def not_found(message: str) -> ResourceNotFound:
    return ResourceNotFound(message)


def invalid(message: str) -> InvalidParameterValue:
    return InvalidParameterValue(message)


def conflict(message: str) -> ResourceConflict:
    return ResourceConflict(message)


def precondition_failed() -> PreconditionFailed:
    return PreconditionFailed(
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )


@dataclass
class FunctionSpec:
    """The configuration of a function version (AWS names in comments)."""

    runtime: str  # Runtime
    handler: str  # Handler: "module.function"
    timeout_s: int = 3  # Timeout
    memory_mb: int = 128  # MemorySize
    environment: dict[str, str] = field(default_factory=dict)  # Environment.Variables
    description: str = ""  # Description
    role: str | None = None  # Role: an openrft role of the project is the execution role (functions.execution_env)


def validate_spec(spec: FunctionSpec) -> None:
    if spec.runtime not in RUNTIMES:
        raise invalid(
            f"Value {spec.runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
            f"set: [{', '.join(RUNTIMES)}] or be a valid ARN"
        )
    if not re.fullmatch(r"[^\s]{1,128}", spec.handler) or "." not in spec.handler:
        raise invalid(f"Value {spec.handler!r} at 'handler' must be 'module.function' without spaces")
    if not 1 <= spec.timeout_s <= 900:
        raise invalid(f"Value {spec.timeout_s} at 'timeout' failed to satisfy constraint: between 1 and 900")
    if not 128 <= spec.memory_mb <= 10240:
        raise invalid(f"Value {spec.memory_mb} at 'memorySize' failed to satisfy constraint: between 128 and 10240")
    for key, value in spec.environment.items():
        if not ENV_KEY_RE.match(key) or not isinstance(value, str):
            raise invalid(f"Environment variable {key!r} must match [a-zA-Z][a-zA-Z0-9_]* with a string value")
    if sum(len(k) + len(v) for k, v in spec.environment.items()) > MAX_ENV_BYTES:
        raise invalid(f"Environment variables exceed the {MAX_ENV_BYTES}-byte limit")
    if len(spec.description) > 256:
        raise invalid("Value at 'description' failed to satisfy constraint: length at most 256")


def code_sha256(zip_bytes: bytes) -> str:
    """`CodeSha256` as AWS reports it: base64 of the raw sha256 digest."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def validate_zip(zip_bytes: bytes, handler: str) -> None:
    """A readable zip, no path escaping its root, within AWS's size limits (inflated), holding the handler module."""
    if len(zip_bytes) > MAX_ZIP_BYTES:
        raise RequestTooLarge(f"Zipped code must be at most {MAX_ZIP_BYTES} bytes")
    try:
        names = {name.replace("\\", "/") for name in unzip.check_zip(zip_bytes, MAX_UNZIPPED_BYTES)}
    except unzip.Refused as exc:
        if exc.kind == "corrupt":
            raise invalid(
                f"Could not unzip uploaded file. Please check your file, then try to upload again. ({exc})"
            ) from exc
        raise invalid(str(exc)) from exc
    module = handler.rsplit(".", 1)[0]
    path = module.replace(".", "/")
    if f"{path}.py" not in names and f"{path}/__init__.py" not in names and f"{module}.py" not in names:
        raise invalid(
            f"Handler {handler!r} names module {module!r}, but the zip has no {path}.py "
            f"(it holds: {', '.join(sorted(names)[:10]) or 'nothing'})"
        )
