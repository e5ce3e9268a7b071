"""openrft.egress: the operator's outbound policy, its DNS checks, pinning and secrets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from openrft.egress import EgressDenied, EgressPolicy, under_prefix
from openrft.settings import Settings


def denied(policy: EgressPolicy, url: str) -> str:
    with pytest.raises(EgressDenied) as info:
        policy.check_url(url)
    return info.value.message


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names resolved from a table (other names: the real resolver)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def lookup(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return table


def test_default_policy_refuses_every_non_public_range() -> None:
    policy = EgressPolicy()
    for url, kind in [
        ("http://127.0.0.1:8000/v1", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://0x7f.1/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://169.254.169.254/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://192.168.1.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://224.0.0.1/", "multicast"),
    ]:
        assert f"{kind} addresses are reachable only when" in denied(policy, url), url
    policy.check_url("https://93.184.215.14/v1")  # public: allowed by default
    assert "not an http(s) URL" in denied(policy, "file:///etc/passwd")
    assert "credentials" in denied(policy, "https://user:pw@93.184.215.14/")


def test_allow_entries_hosts_networks_and_ports(fake_dns: dict[str, list[str]]) -> None:
    fake_dns.update({"judge.corp.example": ["10.1.2.3"], "evil.example": ["10.1.2.3"]})
    policy = EgressPolicy.build(allow=["127.0.0.1:9000", "10.9.0.0/16", "*.corp.example", "[::1]:7000"])
    policy.check_url("http://127.0.0.1:9000/x")
    assert "loopback" in denied(policy, "http://127.0.0.1:9001/x")  # another port
    policy.check_url("http://10.9.200.1/")
    assert "private" in denied(policy, "http://10.10.0.1/")
    policy.check_url("https://judge.corp.example/v1")  # a listed name, wherever it points
    assert "resolved from 'evil.example'" in denied(policy, "https://evil.example/v1")
    policy.check_url("http://[::1]:7000/")
    public_off = EgressPolicy.build(public=False)
    assert "OPENRFT_OUTBOUND_PUBLIC" in denied(public_off, "https://93.184.215.14/")
    with pytest.raises(ValueError, match="OPENRFT_OUTBOUND_ALLOW"):
        EgressPolicy.build(allow=["not a host!"])


def test_a_name_with_any_refused_address_is_refused(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["mixed.example"] = ["93.184.215.14", "127.0.0.1"]
    assert "127.0.0.1 (resolved from 'mixed.example')" in denied(EgressPolicy(), "http://mixed.example/")


class _Echo(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_POST(self) -> None:
        _Echo.hosts.append(str(self.headers.get("host")))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Echo.hosts = []
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_the_client_connects_to_the_address_it_checked(fake_dns: dict[str, list[str]], echo: int) -> None:
    """Resolved once, checked, then pinned: a second lookup (DNS rebinding) is never made."""
    fake_dns["judge.test"] = ["127.0.0.1"]
    policy = EgressPolicy.build(allow=[f"127.0.0.1:{echo}"])
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def counting(host: str, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        return real(host, *args, **kwargs)

    with policy.client(timeout_s=5) as client:
        socket.getaddrinfo = counting  # type: ignore[assignment]
        try:
            response = client.post(f"http://judge.test:{echo}/v1", json={})
        finally:
            socket.getaddrinfo = real  # type: ignore[assignment]
    assert response.status_code == 200
    assert _Echo.hosts == [f"judge.test:{echo}"]  # the name travels in the Host header
    assert looked_up.count("judge.test") == 1  # resolved once, for the check; the connection used its answer
    with policy.client(timeout_s=5) as client, pytest.raises(EgressDenied):
        client.post(f"http://127.0.0.1:{echo + 1 if echo < 65535 else echo - 1}/")


def test_secrets_only_listed_only_to_their_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-judge")
    policy = EgressPolicy.build(secrets={"JUDGE_KEY": ["https://api.example.com/v1"], "UNSET_KEY": ["https://x.io"]})
    assert policy.secret("JUDGE_KEY", "https://api.example.com/v1/chat/completions") == "sk-judge"
    for url in ("https://api.example.com/v10/chat", "http://api.example.com/v1", "https://api.example.com:444/v1",
                "https://evil.example/v1"):  # fmt: skip
        with pytest.raises(EgressDenied, match="may not be sent to"):
            policy.secret("JUDGE_KEY", url)
    with pytest.raises(EgressDenied, match="not set on the server"):
        policy.secret("UNSET_KEY", "https://x.io/v1")
    messages = set()
    for name in ("PATH", "NO_SUCH_VARIABLE", "OPENRFT_ADMIN_KEY"):  # set or not: the same answer
        with pytest.raises(EgressDenied) as info:
            policy.secret(name, "https://api.example.com/v1")
        messages.add(info.value.message.replace(name, "X"))
    assert len(messages) == 1


def test_prefix_matching() -> None:
    assert under_prefix("https://a.io/v1/chat", "https://a.io/v1")
    assert under_prefix("https://a.io/v1", "https://a.io/v1/")
    assert under_prefix("https://a.io:443/x", "https://a.io")
    assert not under_prefix("https://a.io/v10", "https://a.io/v1")
    assert not under_prefix("https://a.io.evil.example/v1", "https://a.io")


def test_settings_refuse_openrft_secrets_and_bad_entries() -> None:
    with pytest.raises(ValidationError, match="OPENRFT_\\* variables never are"):
        Settings(outbound_secrets={"OPENRFT_ADMIN_KEY": ["https://x.io"]})
    with pytest.raises(ValidationError, match="not an http\\(s\\) URL prefix"):
        Settings(outbound_secrets={"K": ["x.io"]})
    with pytest.raises(ValidationError, match="OPENRFT_OUTBOUND_ALLOW"):
        Settings(outbound_allow=["10.0.0.0/33"])


def test_aws_accounts_are_opt_in() -> None:
    with pytest.raises(EgressDenied, match="OPENRFT_OUTBOUND_AWS_ACCOUNTS"):
        EgressPolicy().check_aws_account("123456789012")
    EgressPolicy.build(aws_accounts=["123456789012"]).check_aws_account("123456789012")
