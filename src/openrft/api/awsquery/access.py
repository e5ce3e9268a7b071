"""The one place the query endpoint asks for a decision: `openrft.api.authz.check`.

`check` runs the request's whole decision (scopes, rate limit, policies) and records it in the audit
trail. Until the app's authz module is present (it is the lead's, landing alongside this package), the
decision falls back to the policy evaluation alone (`openrft.auth.authorize.require`), so IAM and STS
calls are never left unauthorized.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from openrft.auth import authorize
from openrft.auth.keys import Principal
from openrft.auth.policy import Policy
from openrft.context import AppContext

_authz: Any
try:  # LEAD: openrft.api.authz (check, RequestInfo); remove the fallback once it is committed
    _authz = importlib.import_module("openrft.api.authz")
except ImportError:  # pragma: no cover - transitional
    _authz = None


@dataclass
class CallerInfo:
    """Who asked from where: what the audit record and the condition keys need."""

    request_id: str
    source_ip: str | None
    user_agent: str | None
    secure: bool
    native: Any = field(default=None, repr=False)  # authz.RequestInfo, when present

    @classmethod
    def of(cls, request: Request) -> CallerInfo:
        native = _authz.RequestInfo.of(request) if _authz is not None else None
        return cls(
            request_id=getattr(request.state, "request_id", None) or f"req_{uuid.uuid4().hex}",
            source_ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            secure=request.url.scheme == "https",
            native=native,
        )

    def keys(self) -> dict[str, list[str]]:
        if self.native is not None:
            return dict(self.native.keys())
        base = {"aws:SecureTransport": ["true" if self.secure else "false"]}
        if self.source_ip:
            base["aws:SourceIp"] = [self.source_ip]
        return base


def check(
    ctx: AppContext,
    principal: Principal,
    info: CallerInfo,
    action: str,
    resource: str,
    *,
    keys: Mapping[str, Sequence[str]] | None = None,
    resource_policies: Sequence[Policy] = (),
) -> None:
    """Decide `action` on `resource` for the caller; raises AccessDenied (or MissingScopes, RateLimited)."""
    if _authz is not None:
        _authz.check(ctx, principal, info.native, action, resource, keys=keys, resource_policies=resource_policies)
        return
    merged = {**info.keys(), **{k: list(v) for k, v in (keys or {}).items()}}
    with ctx.store.begin() as conn:
        authorize.require(conn, principal, action, resource, keys=merged, resource_policies=resource_policies)
