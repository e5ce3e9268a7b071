"""Every mutating call lands in the audit trail, in the same transaction as the change it made.

This middleware marks each request that may change something (any method but GET, HEAD, OPTIONS)
with an unarmed `openrft.auth.audit.PendingEvent`; the authorization step (openrft.api.authz.check)
arms it with who did what to which resource once the call is allowed. The first transaction the
handler then commits with a write carries the event (openrft.auth.audit's commit hook), so the record
and the change commit or roll back together. A mutating call that wrote nothing (refused later by a
service's own check, a dry run, a failure) is recorded when the answer is sent, with its status.

Decisions themselves (allowed or denied, with the deciding statement) are recorded by `authz.check`
as they are made; this module records what the allowed calls did.
"""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrft.auth import audit
from openrft.context import AppContext

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# OpenAI's own audit log types for the organization's objects; the rest read "<service>.<action>".
OPENAI_TYPES = {
    "organization:CreateProject": "project.created",
    "organization:UpdateProject": "project.updated",
    "organization:ArchiveProject": "project.archived",
    "organization:CreateServiceAccount": "service_account.created",
    "organization:DeleteServiceAccount": "service_account.deleted",
    "organization:DeleteApiKey": "api_key.deleted",
}
_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def mutation_type(action: str) -> str:
    """`lambda:InvokeFunction` -> `lambda.invoke_function`; OpenAI's names for its own objects."""
    if action in OPENAI_TYPES:
        return OPENAI_TYPES[action]
    service, _, name = action.partition(":")
    return f"{service}.{_WORD.sub('_', name).lower()}"


def is_mutation(action: str) -> bool:
    """Reads are Get/List/Describe/Export...; everything else changes or runs something."""
    name = action.partition(":")[2]
    return not name.startswith(("Get", "List", "Describe", "Export", "Validate"))


def arm(pending: audit.PendingEvent | None, event: audit.AuditEvent) -> None:
    """Give a request's waiting mark its event (the first allowed mutation of the request wins)."""
    if pending is not None and pending.event is None and event.action and is_mutation(event.action):
        pending.event = replace(event, type=mutation_type(event.action), outcome="succeeded")


class AuditMutations:
    def __init__(self, app: ASGIApp, ctx: AppContext):
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with audit.on_next_write(None) as pending:
            scope.setdefault("state", {})["audit_pending"] = pending
            try:
                await self.app(scope, receive, send_status)
            finally:
                if pending.event is not None and not pending.recorded:
                    outcome: audit.Outcome = "succeeded" if status < 400 else "failed"
                    details = {**(pending.event.details or {}), "status": status}
                    audit.record_now(self.ctx.store, replace(pending.event, outcome=outcome, details=details))
