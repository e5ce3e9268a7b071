"""The malicious corpus: one test per property of the sandbox's threat model (functions/sandbox.py).

Each runs under every mode this host supports and ends by checking the host still serves a normal call.
Network tests only ever target a listener the test itself opens on 127.0.0.1.
"""

from __future__ import annotations

import errno
import os
import platform
import random
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

import openrft
import openrft.functions.sandbox as sandbox_module
from openrft.functions import limits as limits_module
from openrft.functions.limits import seccomp_available
from openrft.functions.sandbox import InvocationResult, Limits, SandboxPool
from tests.sandbox.conftest import LIMITS, assert_healthy, bundle, err, host_processes_with


@pytest.fixture
def pool(each_mode_pool: SandboxPool) -> SandboxPool:
    return each_mode_pool


def call(pool: SandboxPool, source: str, payload: object = None, limits: Limits = LIMITS) -> InvocationResult:
    return pool.invoke(bundle(source), entry="lambda_function.handler", payload=payload, limits=limits,
                       kind="lambda")  # fmt: skip


def test_no_network(pool: SandboxPool) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    source = """
    import socket
    def handler(event, context):
        out = {}
        for kind, proto in (("tcp", socket.SOCK_STREAM), ("udp", socket.SOCK_DGRAM)):
            try:
                s = socket.socket(socket.AF_INET, proto)
                s.settimeout(2)
                s.connect(("127.0.0.1", event))
                s.send(b"stolen")
                out[kind] = "connected"
            except OSError as exc:
                out[kind] = type(exc).__name__
        return out
    """
    try:
        result = call(pool, source, port)
        assert result.ok, result.error
        assert result.value["tcp"] != "connected", result.value
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever reached the host's loopback listener
    finally:
        listener.close()
    assert_healthy(pool)


def test_no_host_files_store_or_other_code(pool: SandboxPool) -> None:
    secret_db = Path(pool.settings.home) / "openrft.db"
    secret_db.parent.mkdir(parents=True, exist_ok=True)
    secret_db.write_text("SECRET-STORE")
    other = bundle("TOKEN = 'OTHER-FUNCTION-SECRET'\ndef handler(event, context):\n    return TOKEN\n")
    warm = pool.invoke(other, entry="lambda_function.handler", payload={}, limits=LIMITS, kind="lambda")
    assert warm.value == "OTHER-FUNCTION-SECRET"
    other_code = next(w.spec.code_dir / "lambda_function.py" for w in pool._workers if w.wkey[0] == other.key)
    targets = ["/etc/shadow", "/etc/passwd", "/root/.bash_history", str(secret_db), str(other_code),
               str(Path(openrft.__file__)), str(Path(sandbox_module.__file__)), "/proc/1/environ"]  # fmt: skip
    source = """
    def handler(event, context):
        out = {}
        for path in event:
            try:
                with open(path, "rb") as fh:
                    out[path] = fh.read(200).decode(errors="replace")
            except OSError as exc:
                out[path] = "DENIED " + type(exc).__name__
        return out
    """
    result = call(pool, source, targets)
    assert result.ok, result.error
    for path in targets[:-1]:
        assert result.value[path].startswith("DENIED"), (path, result.value[path])
    assert "SECRET" not in str(result.value)
    assert "ADMIN" not in result.value["/proc/1/environ"]
    assert_healthy(pool)


def test_infinite_loop_stopped_at_timeout(pool: SandboxPool) -> None:
    started = time.monotonic()
    result = call(pool, "def handler(event, context):\n    while True:\n        pass\n",
                  limits=replace(LIMITS, timeout_s=1.0))  # fmt: skip
    assert not result.ok
    assert err(result)["errorType"] == "Sandbox.Timedout"
    assert "timed out after 1.00 seconds" in err(result)["errorMessage"]
    assert time.monotonic() - started < 5
    assert_healthy(pool)


def test_memory_bomb_stopped(pool: SandboxPool) -> None:
    source = """
    def handler(event, context):
        hoard = []
        while True:
            hoard.append(bytearray(32 << 20))
    """
    result = call(pool, source, limits=replace(LIMITS, memory_mb=256, timeout_s=20))
    assert not result.ok
    assert err(result)["errorType"] in ("MemoryError", "Runtime.OutOfMemory"), result.error
    assert_healthy(pool)


def test_fork_bomb_contained(pool: SandboxPool) -> None:
    marker = f"{random.randint(10**6, 10**7)}.5"
    source = f"""
    import os
    def handler(event, context):
        made = 0
        for _ in range(500):
            try:
                if os.fork() == 0:
                    os.execv("/usr/bin/sleep", ["sleep", "{marker}"])
                made += 1
            except OSError:
                break
        return made
    """
    result = call(pool, source, limits=replace(LIMITS, max_processes=16))
    assert result.ok, result.error
    assert result.value < 16
    time.sleep(0.2)
    assert host_processes_with(marker) == []
    assert_healthy(pool)


def test_process_left_running_after_return_is_killed(pool: SandboxPool) -> None:
    marker = f"{random.randint(10**6, 10**7)}.25"
    source = f"""
    import os
    N = 0
    def handler(event, context):
        global N
        N += 1
        if N == 1 and os.fork() == 0:          # a daemon: setsid + double fork, outliving the call
            os.setsid()
            if os.fork() == 0:
                os.execv("/usr/bin/sleep", ["sleep", "{marker}"])
            os._exit(0)
        return N
    """
    source_bundle = bundle(source)
    first = pool.invoke(source_bundle, entry="lambda_function.handler", payload={}, limits=LIMITS, kind="lambda")
    assert first.ok and first.value == 1, first.error
    time.sleep(0.2)
    assert host_processes_with(marker) == []
    second = pool.invoke(source_bundle, entry="lambda_function.handler", payload={}, limits=LIMITS, kind="lambda")
    assert second.ok and second.value == 2  # the worker stayed warm
    assert second.worker_pid == first.worker_pid
    assert_healthy(pool)


def test_huge_output_capped(pool: SandboxPool) -> None:
    flood = """
    import sys
    def handler(event, context):
        while True:
            sys.stdout.write("x" * 65536)
    """
    started = time.monotonic()
    result = call(pool, flood, limits=replace(LIMITS, max_output_bytes=1 << 20, timeout_s=20))
    assert not result.ok
    assert err(result)["errorType"] in ("Sandbox.OutputLimitExceeded", "OSError"), result.error
    assert len(result.log_tail) <= 4096
    assert time.monotonic() - started < 10
    big = call(pool, "def handler(event, context):\n    return 'y' * (3 << 20)\n")
    assert not big.ok and err(big)["errorType"] == "Function.ResponseSizeTooLarge"
    assert_healthy(pool)


def test_non_json_and_non_numeric_returns(pool: SandboxPool) -> None:
    result = call(pool, "def handler(event, context):\n    return {1, 2}\n")
    assert not result.ok and err(result)["errorType"] == "Runtime.MarshalError"
    grader = bundle("def grade(sample, item):\n    return item['v']\n", name="grader.py")
    values = ["very good", None, True, [1], float("nan"), float("inf"), 1e308, 3]
    pairs = [[{}, {"v": v}] for v in values]
    graded = pool.invoke(grader, entry="grader.grade", payload=pairs, limits=LIMITS, kind="python_grader")
    assert graded.ok, graded.error
    verdicts = [(r["ok"], r["error_type"]) for r in graded.value]
    assert verdicts[:6] == [(False, "invalid_return")] * 6
    assert [r["value"] for r in graded.value[6:]] == [1e308, 3.0]
    assert_healthy(pool)


def test_writes_outside_tmp_fail(pool: SandboxPool) -> None:
    source = """
    import os, tempfile
    def handler(event, context):
        out = {}
        for path in ("/usr/pwned", "/pwned", os.environ["LAMBDA_TASK_ROOT"] + "/pwned", event):
            try:
                with open(path, "w") as fh:
                    fh.write("x")
                out[path] = "WROTE"
            except OSError as exc:
                out[path] = type(exc).__name__
        with open(os.path.join(tempfile.gettempdir(), "ok.txt"), "w") as fh:
            fh.write("scratch is writable")
        return out
    """
    host_target = str(Path(pool.settings.home) / "pwned")
    result = call(pool, source, host_target)
    assert result.ok, result.error
    assert "WROTE" not in result.value.values(), result.value
    assert not Path(host_target).exists()
    assert_healthy(pool)


def test_crashes_reported(pool: SandboxPool) -> None:
    exited = call(pool, "import os\ndef handler(event, context):\n    os._exit(3)\n")
    assert not exited.ok and err(exited)["errorType"] == "Runtime.ExitError"
    segv = call(pool, "import os, signal\ndef handler(event, context):\n    os.kill(os.getpid(), signal.SIGSEGV)\n")
    assert not segv.ok and err(segv)["errorType"] == "Runtime.ExitError"
    sys_exit = call(pool, "import sys\ndef handler(event, context):\n    sys.exit(3)\n")
    assert not sys_exit.ok and err(sys_exit)["errorType"] == "SystemExit"
    assert_healthy(pool)


def test_environment_is_clean(pool: SandboxPool) -> None:
    os.environ.setdefault("OPENRFT_ADMIN_KEY", "sk-should-not-leak")
    result = call(pool, "import os\ndef handler(event, context):\n    return dict(os.environ)\n")
    assert result.ok
    assert not any(k.startswith("OPENRFT") for k in result.value), result.value


def test_daemon_started_before_a_timeout_is_killed(pool: SandboxPool) -> None:
    marker = f"{random.randint(10**6, 10**7)}.75"
    source = f"""
    import os, time
    def handler(event, context):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/usr/bin/sleep", ["sleep", "{marker}"])
            os._exit(0)
        time.sleep(60)
    """
    result = call(pool, source, limits=replace(LIMITS, timeout_s=1.0))
    assert not result.ok and err(result)["errorType"] == "Sandbox.Timedout"
    time.sleep(0.3)
    assert host_processes_with(marker) == []
    assert_healthy(pool)


def test_disk_filling_stopped(pool: SandboxPool) -> None:
    source = """
    import os, tempfile
    def handler(event, context):
        out = {}
        chunk = b"z" * (1 << 20)
        try:  # one huge file: RLIMIT_FSIZE
            with open(os.path.join(tempfile.gettempdir(), "big"), "wb") as fh:
                for _ in range(64):
                    fh.write(chunk)
                    fh.flush()
            out["big"] = "WROTE"
        except OSError as exc:
            out["big"] = type(exc).__name__
        os.remove(os.path.join(tempfile.gettempdir(), "big"))
        if event:  # many files: the private /tmp's size
            try:
                for i in range(64):
                    with open(os.path.join(tempfile.gettempdir(), f"f{i}"), "wb") as fh:
                        fh.write(chunk * 2)
                out["many"] = "WROTE"
            except OSError as exc:
                out["many"] = type(exc).__name__
        return out
    """
    private_tmp = pool.mode == "bubblewrap"  # the fallback's scratch dir is on the host's disk (documented)
    result = call(pool, source, private_tmp, limits=replace(LIMITS, tmp_mb=16, max_output_bytes=1 << 20))
    assert result.ok, result.error
    assert result.value["big"] != "WROTE", result.value
    if private_tmp:
        assert result.value["many"] != "WROTE", result.value
    assert_healthy(pool)


@pytest.mark.skipif(not seccomp_available() or platform.machine() != "x86_64", reason="x86_64 + pyseccomp")
def test_kernel_attack_surface_denied(pool: SandboxPool) -> None:
    source = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    CALLS = {"io_uring_setup": (425, 8, 0), "keyctl": (250, 0, 0), "bpf": (321, 0, 0),
             "unshare_newuser": (272, 0x10000000, 0), "ptrace_traceme": (101, 0, 0)}
    def handler(event, context):
        out = {}
        for name, (nr, a, b) in CALLS.items():
            rc = libc.syscall(nr, a, b, 0, 0)
            out[name] = "ALLOWED" if rc >= 0 else os.strerror(ctypes.get_errno())
        return out
    """
    result = call(pool, source)
    assert result.ok, result.error
    assert set(result.value.values()) == {os.strerror(errno.EPERM)}, result.value  # the filter, not a bad arg
    assert_healthy(pool)


def test_threads_left_running_replace_the_worker(pool: SandboxPool) -> None:
    source = """
    import threading, time
    def spin():
        while True:
            time.sleep(0.01)
    def handler(event, context):
        threading.Thread(target=spin, daemon=True).start()
        return "started"
    """
    code = bundle(source)
    first = pool.invoke(code, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert first.ok and first.value == "started"
    second = pool.invoke(code, entry="lambda_function.handler", payload=None, limits=LIMITS, kind="lambda")
    assert second.ok and second.cold_start and second.worker_pid != first.worker_pid
    assert_healthy(pool)


def test_dev_shm_bounded_and_not_seen_by_another_function(pool: SandboxPool) -> None:
    """Issue 11, finding 6: /dev/shm took writes past the /tmp cap and kept them across calls."""
    marker = f"shm-{random.randint(10**6, 10**7)}"
    source = """
    import os
    def handler(event, context):
        try:
            out = {"listing": sorted(os.listdir("/dev/shm"))}
        except OSError as exc:  # the fallback: Landlock keeps the host's /dev/shm out of reach
            out = {"listing": type(exc).__name__}
        if event is None:
            return out
        written = 0
        try:
            for i in range(16):  # 32 MiB in files of 2 MiB (each under the file-size limit): twice the cap
                with open(f"/dev/shm/{event}-{i}", "wb") as fh:
                    fh.write(b"s" * (2 << 20))
                written += 2
            out["result"] = "WROTE"
        except OSError as exc:
            out["result"] = type(exc).__name__
        out["written_mib"] = written
        return out
    """
    small = replace(LIMITS, tmp_mb=16)
    filler = call(pool, source, marker, limits=small)
    assert filler.ok, filler.error
    assert filler.value["result"] != "WROTE", filler.value
    assert filler.value["written_mib"] <= 16, filler.value
    other = call(pool, source, None, limits=small)  # another function: a new bundle, a new worker
    assert other.ok, other.error
    assert marker not in str(other.value["listing"]), other.value
    assert not any(marker in name for name in os.listdir("/dev/shm"))  # nothing reached the host's /dev/shm
    assert_healthy(pool)


THREADS = """
import threading
from concurrent.futures import ThreadPoolExecutor
def handler(event, context):
    barrier = threading.Barrier(64, timeout=10)
    with ThreadPoolExecutor(max_workers=64) as executor:  # all 64 alive at once
        pool_result = sum(executor.map(lambda i: barrier.wait() * 0 + 1, range(64)))
    stop, threads = threading.Event(), []
    try:
        while len(threads) < event:
            thread = threading.Thread(target=stop.wait)
            thread.start()
            threads.append(thread)
    except RuntimeError:
        pass
    stop.set()
    for thread in threads:
        thread.join()
    return {"pool": pool_result, "started": len(threads)}
"""


def test_thread_pool_handler_at_the_smallest_memory_size(pool: SandboxPool) -> None:
    """Issue 11, finding 6: at MemorySize 128 only 3-5 threads could start (RLIMIT_AS counted their stacks)."""
    result = call(pool, THREADS, 2000, limits=Limits(timeout_s=30, memory_mb=128))
    assert result.ok, result.error
    assert result.value["pool"] == 64
    assert 1000 <= result.value["started"] <= 1024, result.value  # AWS: 1,024 processes/threads
    assert_healthy(pool)


def test_memory_and_threads_without_a_cgroup(pool: SandboxPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no cgroup applies (an ordinary user), RLIMIT_DATA binds memory and still leaves room for threads."""
    monkeypatch.setattr(limits_module.Cgroup, "create", classmethod(lambda cls, name, limits: None))
    smallest = Limits(timeout_s=30, memory_mb=128)
    threads = call(pool, THREADS, 1000, limits=smallest)
    assert threads.ok, threads.error
    assert threads.value == {"pool": 64, "started": 1000}
    bomb = "def handler(event, context):\n    hoard = []\n    while True:\n        hoard.append(bytearray(32 << 20))\n"
    result = call(pool, bomb, limits=smallest)
    assert not result.ok and err(result)["errorType"] == "MemoryError", result.error
    assert_healthy(pool)
