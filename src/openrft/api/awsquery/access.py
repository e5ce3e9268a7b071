"""The one place the query endpoint asks for a decision: `openrft.api.authz.check`.

`check` runs the request's whole decision (scopes, rate limit, policies) and records it in the audit
trail; `CallerInfo` is who asked from where (`authz.RequestInfo`), what the audit record and the
condition keys need.
"""

from __future__ import annotations

from openrft.api.authz import RequestInfo as CallerInfo
from openrft.api.authz import check

__all__ = ["CallerInfo", "check"]
