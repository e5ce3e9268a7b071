"""The sandbox's one way out (functions/relay.py): this server's API, and nothing else.

A real server listens on a loopback port; each test runs under every mode this host supports. The code
reaches the API at 127.0.0.1:9001 (urllib, the openai SDK, boto3's endpoint variables); it cannot reach
another port of the host (a listener the test opens shows nothing arrived), a public address (no
route, at once: no packet leaves), the store's files under OPENRFT_HOME, or the server's secrets.
Network probes only ever target listeners the test opens, or addresses that fail before any packet is
sent (the sandbox has no route to them).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openrft.api.server import ThreadedServer, start_in_thread
from openrft.functions.execution_env import endpoint_env
from openrft.functions.relay import INSIDE_URL, Relay, Upstream
from openrft.functions.sandbox import InvocationResult, SandboxPool
from openrft.settings import Settings
from tests.sandbox.conftest import LIMITS, MODES, NO_MODE, assert_healthy, bundle

ADMIN_KEY = "sk-admin-relay-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadedServer, Settings]]:
    home = tmp_path_factory.mktemp("relay-home")
    started = start_in_thread(Settings(home=home, admin_key=ADMIN_KEY), embedded_worker=False)
    port = int(started.base_url.rsplit(":", 1)[1])
    yield started, Settings(home=home, admin_key=ADMIN_KEY, host="127.0.0.1", port=port)
    started.stop(timeout_s=10)


@pytest.fixture(scope="module", params=MODES or NO_MODE)
def pool(request: pytest.FixtureRequest, server: tuple[ThreadedServer, Settings]) -> Iterator[SandboxPool]:
    made = SandboxPool(server[1], mode=request.param)
    yield made
    made.close()


def call(pool: SandboxPool, source: str, payload: Any = None, env: dict[str, str] | None = None) -> InvocationResult:
    context = {"function_name": "probe", "environment": {**endpoint_env(pool.api_url), **(env or {})}}
    return pool.invoke(bundle(source), entry="lambda_function.handler", payload=payload, limits=LIMITS,
                       kind="lambda", context=context)  # fmt: skip


def value(result: InvocationResult) -> Any:
    assert result.ok, (result.error, result.log_tail)
    return result.value


def host_listener() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    return listener


def nothing_arrived(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_reaches_the_api_with_urllib_and_the_openai_sdk(pool: SandboxPool) -> None:
    source = """
    import json, os, urllib.request
    import openai
    def handler(event, context):
        req = urllib.request.Request(os.environ["OPENAI_BASE_URL"] + "/models",
                                     headers={"Authorization": "Bearer " + event})
        listed = json.loads(urllib.request.urlopen(req, timeout=10).read())
        sdk = openai.OpenAI(api_key=event, max_retries=0, timeout=10)  # OPENAI_BASE_URL from the environment
        return {"urllib": listed["object"], "sdk": [m.id for m in sdk.models.list()],
                "base": str(sdk.base_url), "aws": os.environ["AWS_ENDPOINT_URL"]}
    """
    got = value(call(pool, source, ADMIN_KEY))
    assert got["urllib"] == "list"
    assert got["sdk"], got  # the bundled base model at least
    assert got["base"] == "http://127.0.0.1:9001/v1/"
    assert got["aws"] == INSIDE_URL
    assert_healthy(pool)


def test_boto3_reaches_the_lambda_api_with_the_endpoint_variables(pool: SandboxPool) -> None:
    source = """
    import boto3
    def handler(event, context):  # endpoint and region from the environment, as a function on AWS has them
        lam = boto3.client("lambda", aws_access_key_id="admin", aws_secret_access_key=event)
        return {"functions": lam.list_functions()["Functions"], "endpoint": lam.meta.endpoint_url}
    """
    got = value(call(pool, source, ADMIN_KEY, env={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}))
    assert got == {"functions": [], "endpoint": INSIDE_URL}


def test_python_graders_have_no_relay(pool: SandboxPool) -> None:
    source = """
    import socket
    def grade(sample, item):
        try:
            socket.create_connection(("127.0.0.1", 9001), timeout=2).close()
            return 1.0
        except OSError:
            return 0.0
    """
    result = pool.invoke(bundle(source, name="grader.py"), entry="grader.grade", payload=[[{}, {}]], limits=LIMITS,
                         kind="python_grader")  # fmt: skip
    assert value(result) == [{"ok": True, "value": 0.0, "error": None, "error_type": None, "traceback": None}]


def test_wrong_key_through_the_relay_is_the_api_s_401(pool: SandboxPool) -> None:
    source = """
    import urllib.request, urllib.error
    def handler(event, context):
        req = urllib.request.Request("http://127.0.0.1:9001/v1/models", headers={"Authorization": "Bearer sk-nope"})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200
    """
    assert value(call(pool, source)) == 401  # the relay carries bytes; the API decides


def test_warm_worker_keeps_its_relay_and_a_dead_one_closes_it(pool: SandboxPool) -> None:
    code = bundle("""
    import urllib.request
    def handler(event, context):
        req = urllib.request.Request("http://127.0.0.1:9001/v1/models", headers={"Authorization": "Bearer " + event})
        return urllib.request.urlopen(req, timeout=10).status
    """)
    first = pool.invoke(code, entry="lambda_function.handler", payload=ADMIN_KEY, limits=LIMITS, kind="lambda")
    second = pool.invoke(code, entry="lambda_function.handler", payload=ADMIN_KEY, limits=LIMITS, kind="lambda")
    assert (value(first), value(second)) == (200, 200)
    assert second.worker_pid == first.worker_pid and not second.cold_start
    [worker] = [w for w in pool._workers if w.wkey[0] == code.key]
    assert pool.relay is not None
    assert worker.name in pool.relay._listeners or worker.name in dict(pool.relay._pending)
    worker.kill()
    deadline = time.monotonic() + 5
    while worker.name in pool.relay._listeners and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.name not in pool.relay._listeners
    assert pool.relay.connections(worker.name) == 0
    third = pool.invoke(code, entry="lambda_function.handler", payload=ADMIN_KEY, limits=LIMITS, kind="lambda")
    assert value(third) == 200 and third.cold_start


def test_no_other_port_of_the_host(pool: SandboxPool) -> None:
    listener = host_listener()
    port = listener.getsockname()[1]
    api_port = pool.relay.upstream.port if pool.relay else 0
    source = """
    import socket
    def handler(event, context):
        out = {}
        for host, port in event:
            try:
                socket.create_connection((host, port), timeout=2).close()
                out[f"{host}:{port}"] = "connected"
            except OSError as exc:
                out[f"{host}:{port}"] = type(exc).__name__
        return out
    """
    # the listener's port, and the API's own port directly (not through the relay): both the host's
    targets = [("127.0.0.1", port), ("127.0.0.1", api_port), ("::1", port), ("127.0.0.2", port)]
    try:
        got = value(call(pool, source, targets))
        assert "connected" not in got.values(), got
        assert nothing_arrived(listener)
    finally:
        listener.close()
    assert_healthy(pool)


def test_the_relay_goes_to_the_api_whatever_the_request_names(pool: SandboxPool) -> None:
    listener = host_listener()
    port = listener.getsockname()[1]
    source = """
    import socket
    def handler(event, context):
        answers = []
        for request in event:
            s = socket.create_connection(("127.0.0.1", 9001), timeout=5)
            s.sendall(request.encode())
            answers.append(s.recv(200).decode(errors="replace").split("\\r\\n")[0])
            s.close()
        return answers
    """
    requests = [
        f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        f"GET http://127.0.0.1:{port}/v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
    ]
    try:
        got = value(call(pool, source, requests))
        # uvicorn refuses the CONNECT; the API wants a key for /v1/models: both answered by the API
        assert got == ["HTTP/1.1 400 Bad Request", "HTTP/1.1 401 Unauthorized"], got
        assert nothing_arrived(listener)
    finally:
        listener.close()


def test_no_public_address_and_no_udp(pool: SandboxPool) -> None:
    source = """
    import socket, time
    def handler(event, context):
        out = {}
        for family, host, port in (("v4", "1.1.1.1", 443), ("v4", "8.8.8.8", 53), ("v6", "2606:4700:4700::1111", 443)):
            started = time.monotonic()
            try:
                socket.create_connection((host, port), timeout=5).close()
                out[f"tcp {host}"] = ["connected", 0]
            except OSError as exc:
                out[f"tcp {host}"] = [type(exc).__name__, time.monotonic() - started]
        started = time.monotonic()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"\\x12\\x34" + b"\\0" * 10, ("8.8.8.8", 53))
            out["udp 8.8.8.8"] = ["sent", 0]
        except OSError as exc:
            out["udp 8.8.8.8"] = [type(exc).__name__, time.monotonic() - started]
        return out
    """
    got = value(call(pool, source))
    for probe, (outcome, seconds) in got.items():
        assert outcome in ("OSError", "PermissionError"), (probe, outcome)  # ENETUNREACH (bwrap), EPERM (rlimits)
        assert seconds < 1.0, (probe, seconds)  # refused at once: no packet left
    assert_healthy(pool)


def test_no_store_files_under_openrft_home(pool: SandboxPool, server: tuple[ThreadedServer, Settings]) -> None:
    settings = server[1]
    targets = [settings.home / "openrft.db", settings.master_key_path, settings.home]
    assert all(p.exists() for p in targets), [p for p in targets if not p.exists()]
    source = """
    import os
    def handler(event, context):
        out = {}
        for path in event:
            try:
                if os.path.isdir(path):
                    out[path] = "LISTED " + ",".join(os.listdir(path))
                else:
                    with open(path, "rb") as fh:
                        out[path] = "READ %d bytes" % len(fh.read())
            except OSError as exc:
                out[path] = "DENIED " + type(exc).__name__
        return out
    """
    got = value(call(pool, source, [str(p) for p in targets]))
    assert all(v.startswith("DENIED") for v in got.values()), got


def test_no_server_secrets_in_env_or_proc(pool: SandboxPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENRFT_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("OPENRFT_DATABASE_URL", "postgresql://openrft:db-password-secret@db/openrft")
    source = """
    import os
    def handler(event, context):
        env = dict(os.environ)
        proc = {}
        for path in ["/proc/self/environ", "/proc/1/environ", *event]:
            try:
                with open(path, "rb") as fh:
                    proc[path] = fh.read().decode(errors="replace")
            except OSError as exc:
                proc[path] = "DENIED " + type(exc).__name__
        readable = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    readable.append(fh.read().decode(errors="replace"))
            except OSError:
                pass
        return {"env": env, "proc": proc, "all": readable}
    """
    server_pid = os.getpid()  # the server runs in this process (start_in_thread)
    got = value(call(pool, source, [f"/proc/{server_pid}/environ", f"/proc/{server_pid}/maps"]))
    text = str(got)
    for secret in (ADMIN_KEY, "db-password-secret", str(pool.settings.master_key_path)):
        assert secret not in text, secret
    assert not [k for k in got["env"] if k.startswith("OPENRFT_")], got["env"]
    for path in (f"/proc/{server_pid}/environ", f"/proc/{server_pid}/maps"):
        # bubblewrap: another pid namespace (no such process); rlimits: the server is non-dumpable
        assert got["proc"][path].startswith("DENIED"), (path, got["proc"][path][:200])


# ---------------------------------------------------------------- the relay alone


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Settings(home=Path("/tmp/x"), host="10.0.0.5", port=8123), Upstream("10.0.0.5", 8123, False)),
        (Settings(home=Path("/tmp/x"), public_url="https://rft.example.com"), Upstream("rft.example.com", 443, True)),
        (Settings(home=Path("/tmp/x"), public_url="http://rft.internal:81/base/"), Upstream("rft.internal", 81, False)),
        (Settings(home=Path("/tmp/x"), public_url="http://rft.internal"), Upstream("rft.internal", 80, False)),
    ],
)
def test_upstream_is_the_api_s_host_and_port(settings: Settings, expected: Upstream) -> None:
    assert Upstream.of(settings) == expected


def test_relay_pipes_both_ways_to_its_one_upstream_only(tmp_path: Path) -> None:
    upstream = host_listener()
    upstream.setblocking(True)
    upstream.settimeout(5)
    relay = Relay(Upstream("127.0.0.1", upstream.getsockname()[1]))
    try:
        relay.add_unix_listener("w1", tmp_path / "relay.sock")
        assert oct((tmp_path / "relay.sock").stat().st_mode & 0o777) == "0o600"
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        inner.settimeout(5)
        inner.connect(str(tmp_path / "relay.sock"))
        conn, _ = upstream.accept()
        conn.settimeout(5)
        inner.sendall(b"ping " * 20_000)  # 100,000 bytes: more than one 65,536-byte chunk
        received = b""
        while len(received) < 100_000:
            received += conn.recv(1 << 16)
        assert received == b"ping " * 20_000
        conn.sendall(b"pong")
        assert inner.recv(16) == b"pong"
        assert relay.connections("w1") == 1
        relay.remove("w1")  # the worker died: its connections are cut, its socket no longer answers
        assert inner.recv(16) == b""
        assert relay.connections("w1") == 0
        inner.close()
        conn.close()
    finally:
        relay.close()
        upstream.close()


def test_relay_refuses_past_its_connection_cap(tmp_path: Path) -> None:
    upstream = host_listener()
    upstream.setblocking(True)
    relay = Relay(Upstream("127.0.0.1", upstream.getsockname()[1]), max_connections=2)
    try:
        relay.add_unix_listener("w1", tmp_path / "relay.sock")
        clients = []
        for _ in range(3):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(5)
            c.connect(str(tmp_path / "relay.sock"))
            clients.append(c)
        assert clients[2].recv(16) == b""  # the third of a cap of 2: closed at once
        deadline = time.monotonic() + 5
        while relay.connections("w1") != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relay.connections("w1") == 2
        for c in clients:
            c.close()
    finally:
        relay.close()
        upstream.close()
