"""Outbound calls the server makes on a tenant's behalf, and the one way to make them.

A tenant names URLs the server will call (an `https://` lambda grader, a judge's `openrft.api_base`)
and secrets it will send (a judge's `api_key_env`). Unchecked, that lets any project key make the
server POST to its own loopback API, to the host's other services or the cloud metadata address, and
send the server's environment (the admin key included) wherever it likes. This module is the policy
and the client that enforces it; nothing else in openrft opens an outbound connection for a tenant.

Policy (operator settings, read once per process):

* ``OPENRFT_OUTBOUND_PUBLIC`` (default true): globally routable addresses may be called.
* ``OPENRFT_OUTBOUND_ALLOW``: what may be called beyond that, a JSON list of hostnames
  (``judge.internal``, ``*.corp.example``), IP addresses or CIDR blocks (``10.1.2.0/24``), each with an
  optional port (``127.0.0.1:9000``). Loopback, link-local (the metadata address 169.254.169.254),
  private, shared, multicast and reserved ranges are refused unless listed.
* ``OPENRFT_OUTBOUND_SECRETS``: the only secrets a grader may name, a JSON object of environment
  variable -> the URL prefixes it may be sent to, e.g. ``{"JUDGE_API_KEY": ["https://api.openai.com/v1"]}``.
  ``OPENRFT_*`` variables can never be listed. A name not listed is refused with the same message
  whether or not the variable exists, so no answer tells a tenant what the server's environment holds.
* ``OPENRFT_OUTBOUND_AWS_ACCOUNTS``: AWS account ids whose Lambda functions a grader may invoke with
  the server's own AWS credentials (default none).

Enforcement: `check_url` at validation time gives a clear 400 early; `client()` enforces the same
policy on every request it sends, redirects included, after DNS resolution: every address a name
resolves to must be allowed, and the connection goes to the address that was checked (the URL is
pinned to it, with the original Host header and TLS server name), so a name that resolves differently
a moment later (DNS rebinding) cannot redirect the call. Environment proxies are not used.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 5
HOSTNAME_RE = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
SETTING_ALLOW = "OPENRFT_OUTBOUND_ALLOW"
SETTING_PUBLIC = "OPENRFT_OUTBOUND_PUBLIC"
SETTING_SECRETS = "OPENRFT_OUTBOUND_SECRETS"
SETTING_AWS = "OPENRFT_OUTBOUND_AWS_ACCOUNTS"


class EgressDenied(Exception):
    """An outbound call or secret the operator's policy does not allow; the message names the setting."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AllowEntry:
    """One `OPENRFT_OUTBOUND_ALLOW` entry: a hostname pattern or a network, and an optional port."""

    host: str | None = None  # "judge.internal" or "*.corp.example" (lowercase)
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        raw = text.strip().lower()
        if not raw:
            raise ValueError("an empty entry")
        host, port = raw, None
        if raw.startswith("["):  # [v6]:port or [v6]
            close = raw.find("]")
            host, rest = raw[1:close], raw[close + 1 :]
            port = int(rest[1:]) if rest.startswith(":") else None
        elif raw.count(":") == 1:
            host, port_text = raw.split(":")
            port = int(port_text)
        try:
            return cls(network=ipaddress.ip_network(host, strict=False), port=port)
        except ValueError:
            pass
        if not HOSTNAME_RE.fullmatch(host):
            raise ValueError(f"{text!r} is not a hostname, IP address or CIDR block")
        return cls(host=host, port=port)

    def matches_host(self, host: str, port: int) -> bool:
        if self.host is None or (self.port is not None and self.port != port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    def matches_address(self, address: IPAddress, port: int) -> bool:
        if self.network is None or (self.port is not None and self.port != port):
            return False
        return address.version == self.network.version and address in self.network


def _canonical(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _kind(address: IPAddress) -> str:
    """Why an address is not public, in words (loopback, link-local, private, ...)."""
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return "non-public"


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def under_prefix(url: str, prefix: str) -> bool:
    """`url` is `prefix` or below it: same scheme, host and port, and the path starts at a segment boundary."""
    a, b = urlsplit(url), urlsplit(prefix)
    if (a.scheme, a.hostname) != (b.scheme, b.hostname) or _port(a.scheme, a.port) != _port(b.scheme, b.port):
        return False
    base = b.path.rstrip("/")
    return a.path == base or a.path.startswith(base + "/") or not base


@dataclass(frozen=True)
class EgressPolicy:
    """Where the server may send a tenant's calls, and which secrets it may send there."""

    allow: tuple[AllowEntry, ...] = ()
    public: bool = True
    secrets: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (variable, URL prefixes it may go to)
    aws_accounts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Any) -> EgressPolicy:
        return cls.build(
            allow=settings.outbound_allow,
            public=settings.outbound_public,
            secrets=settings.outbound_secrets,
            aws_accounts=settings.outbound_aws_accounts,
        )

    @classmethod
    def build(cls, *, allow: Iterable[str] = (), public: bool = True, secrets: dict[str, list[str]] | None = None,
              aws_accounts: Iterable[str] = ()) -> EgressPolicy:  # fmt: skip
        """A policy from plain values; a malformed entry raises ValueError naming the setting."""
        entries = []
        for text in allow:
            try:
                entries.append(AllowEntry.parse(text))
            except ValueError as exc:
                raise ValueError(f"{SETTING_ALLOW}: {exc}") from None
        for name, prefixes in (secrets or {}).items():
            if name.upper().startswith("OPENRFT_"):
                raise ValueError(f"{SETTING_SECRETS}: {name} cannot be sent outbound (OPENRFT_* variables never are)")
            for prefix in prefixes:
                if urlsplit(prefix).scheme not in ("http", "https") or not urlsplit(prefix).hostname:
                    raise ValueError(f"{SETTING_SECRETS}: {name}: {prefix!r} is not an http(s) URL prefix")
        return cls(
            allow=tuple(entries),
            public=public,
            secrets=tuple((name, tuple(prefixes)) for name, prefixes in (secrets or {}).items()),
            aws_accounts=frozenset(aws_accounts),
        )

    # ---- addresses ---------------------------------------------------------------------------------

    def check_address(self, address: IPAddress, port: int, *, host: str) -> None:
        address = _canonical(address)
        if any(entry.matches_address(address, port) for entry in self.allow):
            return
        if self.public and address.is_global and not address.is_multicast:
            return
        shown = f"{address}" if host == str(address) else f"{address} (resolved from {host!r})"
        if address.is_global and not address.is_multicast:
            raise EgressDenied(
                f"outbound calls to {shown} are refused: public addresses are reachable only when {SETTING_PUBLIC} "
                f"is true or they are listed in {SETTING_ALLOW}"
            )
        raise EgressDenied(
            f"outbound calls to {shown} are refused: {_kind(address)} addresses are reachable only when the "
            f"operator lists them in {SETTING_ALLOW}"
        )

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` stands for, each checked; raises EgressDenied for any refused one."""
        host = host.lower().rstrip(".")
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = _lookup(host, port)
            if any(entry.matches_host(host, port) for entry in self.allow):
                return addresses  # the operator trusts this name wherever it points
        for address in addresses:
            self.check_address(address, port, host=host)
        return addresses

    def check_url(self, url: str) -> None:
        """A URL the server may call: http(s), a host, and (after DNS resolution) allowed addresses only."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EgressDenied(f"{url!r} is not an http(s) URL")
        if parts.username or parts.password:
            raise EgressDenied("URLs with credentials in them are not allowed; send secrets by name")
        try:
            port = _port(parts.scheme, parts.port)
        except ValueError:
            raise EgressDenied(f"{url!r} has an invalid port") from None
        self.resolve(parts.hostname, port)

    # ---- secrets and accounts ---------------------------------------------------------------------

    def secret(self, name: str, url: str) -> str:
        """The value of secret `name` for a call to `url`, if the operator allows that pairing."""
        prefixes = dict(self.secrets).get(name)
        if prefixes is None:
            raise EgressDenied(
                f"{name!r} is not one of the secrets the operator allows for outbound calls ({SETTING_SECRETS})"
            )
        if not any(under_prefix(url, prefix) for prefix in prefixes):
            raise EgressDenied(
                f"secret {name!r} may not be sent to {url} (its URL prefixes are set in {SETTING_SECRETS})"
            )
        value = os.environ.get(name)
        if not value:
            raise EgressDenied(f"secret {name!r} is allowed by {SETTING_SECRETS} but not set on the server")
        return value

    def check_aws_account(self, account: str) -> None:
        if account not in self.aws_accounts:
            raise EgressDenied(
                f"reward functions in AWS account {account} are not allowed: the operator lists the accounts the "
                f"server's AWS credentials may invoke in {SETTING_AWS}"
            )

    # ---- the client ------------------------------------------------------------------------------

    def client(self, *, timeout_s: float) -> httpx.Client:
        """An httpx client whose every request (redirects included) is checked and pinned by this policy."""
        return httpx.Client(
            transport=_GuardedTransport(self),
            timeout=timeout_s,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
        )


def _lookup(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressDenied(f"cannot resolve host {host!r}: {exc}") from None
    seen: dict[str, IPAddress] = {}
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        seen.setdefault(str(address), address)
    return list(seen.values())


class _GuardedTransport(httpx.BaseTransport):
    """Checks and pins each request: resolve its host, check every address, connect to the first one."""

    def __init__(self, policy: EgressPolicy):
        self.policy = policy
        self.inner = httpx.HTTPTransport(trust_env=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise EgressDenied(f"{url} is not an http(s) URL")
        port = _port(url.scheme, url.port)
        addresses = self.policy.resolve(url.host, port)
        pinned = str(addresses[0])
        if pinned != url.host:
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": url.host}
            request.url = url.copy_with(host=pinned)  # the Host header keeps the name
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
