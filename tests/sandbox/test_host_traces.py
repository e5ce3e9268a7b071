"""Issue 11, finding 5: what the sandbox leaves on the host for other local users to read.

Unpacked code sat in world-traversable folders (files 0644 under a 0711 root), stayed there after a
kill -9 of the server, and its paths were on bwrap's command line, which every local user sees in ps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from openrft.functions.limits import Cgroup
from openrft.functions.sandbox import SandboxPool
from openrft.settings import Settings
from tests.sandbox.conftest import LIMITS, bundle


def all_command_lines() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                raw = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            out[int(name)] = raw.replace(b"\0", b" ").decode(errors="replace")
    return out


def test_folders_private_and_on_no_command_line(each_mode_pool: SandboxPool) -> None:
    pool = each_mode_pool
    source = """
    import os
    def handler(event, context):
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass
        return fds
    """
    code = bundle(source)
    result = pool.invoke(code, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert result.ok, result.error
    assert not any("openrft-sandbox-args" in target for target in result.value.values()), result.value
    worker = next(w for w in pool._workers if w.wkey[0] == code.key)
    assert worker.proc is not None and worker.proc.poll() is None  # warm: its processes are running
    root = pool._root
    assert root.name.startswith(f"openrft-sandbox-{os.getpid()}-")  # the owner, for the sweep after a crash
    assert root.stat().st_mode & 0o777 == 0o700
    for path in [worker.workdir, *worker.workdir.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
    secrets = [str(root), str(worker.spec.code_dir), worker.name]
    leaks = {pid: line for pid, line in all_command_lines().items() if any(s in line for s in secrets)}
    assert leaks == {}, leaks


CRASHING_SERVER = """
import json, sys, time
from pathlib import Path
from openrft.functions.sandbox import CodeBundle, Limits, SandboxPool
from openrft.settings import Settings
pool = SandboxPool(Settings(home=Path(sys.argv[1])), mode=sys.argv[2])
code = CodeBundle(key="crash", files={"lambda_function.py": b"def handler(event, context):\\n    return 1\\n"})
result = pool.invoke(code, entry="lambda_function.handler", payload=None, limits=Limits(timeout_s=10, memory_mb=128),
                     kind="lambda")
worker = pool._workers[0]
cgroups = [str(d) for d in worker.cgroup.dirs] if worker.cgroup else []
print(json.dumps({"ok": result.ok, "root": str(pool._root), "code": str(worker.spec.code_dir), "cgroups": cgroups}))
sys.stdout.flush()
time.sleep(120)
"""


def test_folders_of_a_killed_server_swept_at_the_next_start(each_mode_pool: SandboxPool, tmp_path: Path) -> None:
    live_root = each_mode_pool._root  # a pool whose process runs: the sweep must leave it alone
    server = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CRASHING_SERVER), str(tmp_path),
                               each_mode_pool.mode], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        left = json.loads(server.stdout.readline())
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    assert left["ok"]
    assert (Path(left["code"]) / "lambda_function.py").exists()  # what a crash leaves behind
    time.sleep(0.2)  # the worker dies with its server (--die-with-parent, or EOF on its pipe)
    fresh = SandboxPool(Settings(home=tmp_path), mode=each_mode_pool.mode)
    try:
        assert not Path(left["root"]).exists()
        assert all(not Path(d).exists() for d in left["cgroups"]), left["cgroups"]
        assert live_root.exists()
    finally:
        fresh.close()
    if Cgroup.supported():
        assert left["cgroups"]  # the cgroup half of the sweep was exercised
