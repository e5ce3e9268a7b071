"""Fixtures for the sandbox tests: one pool per module, bundles from source text, host process checks."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openrft.functions.limits import landlock_abi, seccomp_available
from openrft.functions.sandbox import CodeBundle, InvocationResult, Limits, SandboxPool, detect_mode
from openrft.settings import Settings

LIMITS = Limits(timeout_s=10, memory_mb=256, max_processes=32, max_output_bytes=1 << 20)

# Every mode this host supports: the detected one, and the fallback wherever its layers exist.
MODES: list[str] = [m for m in ("bubblewrap", "rlimits") if m == detect_mode()[0]]
if landlock_abi() >= 4 and seccomp_available() and "rlimits" not in MODES:
    MODES.append("rlimits")
NO_MODE = [pytest.param("none", marks=pytest.mark.skip(reason="no sandbox here"))]


def bundle(source: str, *, name: str = "lambda_function.py", extra: dict[str, bytes] | None = None) -> CodeBundle:
    files = {name: textwrap.dedent(source).encode(), **(extra or {})}
    return CodeBundle(key=f"test/{uuid.uuid4().hex}", files=files)


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (to prove nothing the code started survives)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(int(name))
    return found


def err(result: InvocationResult) -> dict[str, Any]:
    """The error of a failed call."""
    assert result.error is not None, result
    return result.error


def assert_healthy(pool: SandboxPool) -> None:
    """A normal call still works after an attack."""
    ok = bundle("def handler(event, context):\n    return {'echo': event}\n")
    result = pool.invoke(ok, entry="lambda_function.handler", payload=[1, 2], limits=LIMITS, kind="lambda")
    assert result.ok, result.error
    assert result.value == {"echo": [1, 2]}


def make_pool(tmp_path_factory: pytest.TempPathFactory, mode: str | None = None) -> Iterator[SandboxPool]:
    home = tmp_path_factory.mktemp("openrft-home")
    pool = SandboxPool(Settings(home=home), mode=mode)
    yield pool
    pool.close()


@pytest.fixture(scope="module", params=MODES or NO_MODE)
def each_mode_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    """A pool per supported mode (tests using it run once per mode)."""
    yield from make_pool(tmp_path_factory, mode=request.param)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    if detect_mode()[0] == "unavailable":
        pytest.skip(f"no sandbox on this host: {detect_mode()[1]}")
    yield from make_pool(tmp_path_factory)
