"""The sandbox's public value types (see ``sandbox.py`` for the runtime and its threat model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["lambda", "python_grader"]


@dataclass(frozen=True)
class Limits:
    timeout_s: float  # wall time of one call, enforced by the parent
    memory_mb: int  # the worker's memory cgroup (when root), else each process's RLIMIT_DATA (limits.py)
    max_processes: int = 1024  # processes + threads in the sandbox (AWS Lambda: 1,024)
    max_output_bytes: int = 6_291_456  # response and log size (AWS's 6 MB sync payload)
    tmp_mb: int = 64  # size of the private /tmp, of /dev/shm, and of the largest file


@dataclass(frozen=True)
class CodeBundle:
    """The code of one function version: files (path -> bytes) or a zip, cached under ``key``."""

    key: str  # e.g. project/function/version/sha256; a worker serves only this key
    files: dict[str, bytes] | None = None
    zip_bytes: bytes | None = None


@dataclass
class InvocationResult:
    ok: bool
    value: Any = None  # the handler's JSON value (lambda) or per-pair results (python_grader)
    error: dict[str, Any] | None = None  # {errorType, errorMessage, stackTrace} as AWS formats it
    log_tail: str = ""  # last 4 KB of what the code printed
    duration_s: float = 0.0
    cold_start: bool = False
    worker_pid: int | None = None  # host pid of the worker (same across warm calls)
    extra: dict[str, Any] = field(default_factory=dict)


class SandboxUnavailable(RuntimeError):
    """No isolation layer works on this host: user code is refused rather than run unconfined."""
