"""Wire shapes of the audit log list, as OpenAI's Audit Logs API has them (openai.types.admin.organization).

An item is `{"id", "type", "effective_at", "project": {"id", "name"}, "actor": {...}, "<type>": {...}}`:
the object named after the event's type holds `id` (the resource's id) and the event's details. What
OpenAI's shape has no place for sits in the `openrft` block: the action and resource (an ARN), the
outcome, the authorization decision, source address, user agent, request id, and the row's place in
the hash chain (`seq`, `prev_hash`, `hash`: openrft.auth.audit) so a reader can check it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AuditLogProject(BaseModel):
    id: str
    name: str | None = None


class AuditLogActorUser(BaseModel):
    id: str
    email: str | None = None


class AuditLogActorServiceAccount(BaseModel):
    id: str


class AuditLogActorApiKey(BaseModel):
    id: str  # the key id (a role session's temporary access key id), never the secret
    type: Literal["user", "service_account"]
    user: AuditLogActorUser | None = None
    service_account: AuditLogActorServiceAccount | None = None


class AuditLogActor(BaseModel):
    type: Literal["api_key", "session"]
    api_key: AuditLogActorApiKey | None = None


class AuditLogExtension(BaseModel):
    """openrft's extension block: what the record holds beyond OpenAI's shape."""

    principal: str | None = Field(default=None, description="The actor's ARN (a key, the root, an assumed role).")
    action: str | None = Field(default=None, description="The action authorized or performed, e.g. files:CreateFile.")
    resource: str | None = Field(default=None, description="The resource's ARN (or id) the action was on.")
    outcome: Literal["allowed", "denied", "succeeded", "failed"]
    decision: dict[str, Any] | None = Field(
        default=None, description="The authorization decision: effect, deciding policy and statement Sid."
    )
    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    seq: int = Field(description="The row's place in the hash chain.")
    prev_hash: str
    hash: str = Field(description="sha256(prev_hash + canonical JSON of the row's fields).")


class AuditLog(BaseModel):
    """One event; the object named after `type` (e.g. `"project.created": {...}`) rides as an extra field."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    effective_at: int
    project: AuditLogProject | None = None
    actor: AuditLogActor | None = None
    # -- openrft extras -----------------------------------------------------------------------------
    openrft: AuditLogExtension


class AuditLogPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditLog]
    first_id: str | None
    last_id: str | None
    has_more: bool
