"""`openrft doctor`: what this host gives the service, starting with the sandbox for user reward code.

Prints the sandbox mode and why it was chosen, the isolation layers the kernel offers, which of OpenAI's
python-grader packages are importable inside, and runs a real call in the sandbox (cold and warm).
Exits 1 when user code cannot run safely here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _bwrap_version() -> str:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "not installed (apt-get install bubblewrap)"
    out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, check=False, timeout=10)
    return f"{out.stdout.strip() or out.stderr.strip()} at {bwrap}"


def _smoke_test() -> tuple[bool, str]:
    """One cold and one warm call of a handler that imports numpy, in a throwaway pool."""
    import tempfile

    from openrft.functions.sandbox import CodeBundle, Limits, SandboxPool
    from openrft.settings import Settings

    code = CodeBundle(
        key="doctor/smoke",
        files={"check.py": b"import numpy\ndef handler(event, context):\n    return float(numpy.sum(event))\n"},
    )
    limits = Limits(timeout_s=30, memory_mb=512)
    with tempfile.TemporaryDirectory() as home:
        pool = SandboxPool(Settings(home=Path(home)))
        try:
            times = []
            for _ in range(2):
                started = time.monotonic()
                result = pool.invoke(code, entry="check.handler", payload=[1, 2], limits=limits, kind="lambda")
                times.append(time.monotonic() - started)
                if not result.ok or result.value != 3.0:
                    return False, f"call failed: {result.error}"
        finally:
            pool.close()
    return True, f"numpy handler ran: cold {times[0] * 1000:.0f} ms, warm {times[1] * 1000:.1f} ms"


def doctor(
    smoke: Annotated[bool, typer.Option(help="Run a real call in the sandbox.")] = True,
) -> None:
    """Check this host: sandbox mode for user reward code, isolation layers, grader packages."""
    from openrft.functions.limits import Cgroup, landlock_abi, resolve_mode, seccomp_available
    from openrft.functions.sandbox import grader_packages
    from openrft.settings import get_settings

    mode, why = resolve_mode(get_settings().sandbox_mode)
    colour = {"bubblewrap": "green", "rlimits": "yellow"}.get(mode, "red")
    console.print(f"sandbox mode: [bold {colour}]{mode}[/]  ({why})")

    layers = Table("layer", "status", title="isolation layers")
    layers.add_row("bubblewrap", _bwrap_version())
    layers.add_row("running as", "root (limits via cgroups)" if os.geteuid() == 0 else f"uid {os.geteuid()}")
    layers.add_row("cgroups (pids+memory)", "yes" if Cgroup.supported() else "no")
    layers.add_row("Landlock ABI", str(landlock_abi() or "absent"))
    layers.add_row("seccomp (pyseccomp)", "yes" if seccomp_available() else "no")
    layers.add_row("OPENRFT_HOME", str(get_settings().home))
    console.print(layers)

    packages = Table("package", "version", title="python-grader packages importable in the sandbox")
    for module, version in grader_packages().items():
        packages.add_row(module, version or "[dim]not installed[/]")
    console.print(packages)

    if mode == "unavailable":
        console.print("[red]refusing to run user code: no sandbox available[/] (install bubblewrap, or allow "
                      "user namespaces, or provide Landlock + pyseccomp)")  # fmt: skip
        raise typer.Exit(1)
    if smoke:
        ok, detail = _smoke_test()
        console.print(f"sandbox call: {'[green]ok[/]' if ok else '[red]FAILED[/]'} {detail}")
        if not ok:
            raise typer.Exit(1)
