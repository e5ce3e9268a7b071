"""Wire shapes of the organization API, as OpenAI's Administration API has them.

Projects (`organization.project`), service accounts whose creation returns the key secret once
(`organization.project.service_account` with `api_key.value`), and project API keys
(`organization.project.api_key`, secret redacted).

openrft's extension (OpenAI sets these in its dashboard, not through the API): a service account's key
is created restricted, `permissions` all|read_only|restricted with a level per resource, the models it
may call, its requests and tokens per minute, its expiry and its identity policies; the service account
and API key objects show them in a block after OpenAI's fields (`KeyRestrictions`).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, StringConstraints

from openrft.auth.keys import FULL_ACCESS_POLICY_ARN
from openrft.auth.scopes import LEVELS, MODES

T = TypeVar("T")
Permissions = Literal["all", "read_only", "restricted"]
ModelPattern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
PolicyArn = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
# Bounds that keep every value an SQLite integer and a sane limit: a year 9999 expiry, a billion a minute.
MAX_EPOCH_S = 253_402_300_799
MAX_PER_MINUTE = 1_000_000_000
MAX_TTL_S = 100 * 365 * 86_400

_LEVELS_HELP = "; ".join(f"{r}: {'|'.join(['none', *levels])}" for r, levels in LEVELS.items())


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)


class Project(BaseModel):
    object: Literal["organization.project"] = "organization.project"
    id: str
    name: str
    created_at: int
    archived_at: int | None = None
    status: Literal["active", "archived"] = "active"


class ProjectUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=256)


class ServiceAccountCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    # -- openrft extras: the key's restrictions -------------------------------------------------------
    permissions: Permissions = Field(
        default="all",
        description=f"openrft's extension: {' | '.join(MODES)}. all: every scope; read_only: api.all.read; "
        "restricted: the scopes of `resources`.",
    )
    resources: dict[str, str] | None = Field(
        default=None,
        description=f"openrft's extension, with permissions restricted: a level per resource ({_LEVELS_HELP}); "
        "a resource left out is none.",
    )
    allowed_models: list[ModelPattern] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="openrft's extension: the models the key may call, fnmatch patterns ('ft:*'); omitted: any.",
    )
    rpm_limit: int | None = Field(
        default=None, ge=1, le=MAX_PER_MINUTE, description="openrft's extension: requests per minute."
    )
    tpm_limit: int | None = Field(
        default=None, ge=1, le=MAX_PER_MINUTE, description="openrft's extension: tokens per minute (usage)."
    )
    expires_at: int | None = Field(
        default=None, ge=0, le=MAX_EPOCH_S, description="openrft's extension: Unix time the key stops working."
    )
    expires_in_s: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TTL_S,
        description="openrft's extension: seconds from now the key stops working (instead of expires_at).",
    )
    policy_arns: list[PolicyArn] = Field(
        default_factory=lambda: [FULL_ACCESS_POLICY_ARN],
        max_length=20,
        description="openrft's extension: identity policies attached to the service account (AWS managed or "
        "customer managed ARNs); by default OpenRFTFullAccess, anything in the project its scopes allow.",
    )


class KeyRestrictions(BaseModel):
    """openrft's extension block, after OpenAI's fields: what the key may do (openrft.auth.scopes)."""

    permissions: Permissions = Field(default="all", description="openrft's extension: all | read_only | restricted.")
    scopes: list[str] | None = Field(
        default=None, description="openrft's extension: the key's scopes; null with permissions all (every scope)."
    )
    resources: dict[str, str] | None = Field(
        default=None, description="openrft's extension: the levels a restricted key was created with."
    )
    allowed_models: list[str] | None = Field(
        default=None, description="openrft's extension: model patterns the key may call; null: any."
    )
    rpm_limit: int | None = Field(default=None, description="openrft's extension: requests per minute; null: none.")
    tpm_limit: int | None = Field(default=None, description="openrft's extension: tokens per minute; null: none.")
    expires_at: int | None = Field(default=None, description="openrft's extension: Unix expiry; null: never.")
    policy_arns: list[str] = Field(
        default_factory=list, description="openrft's extension: identity policies attached to the key's account."
    )


class ServiceAccountApiKey(BaseModel):
    object: Literal["organization.project.service_account.api_key"] = "organization.project.service_account.api_key"
    value: str  # the secret: shown here once, never again
    name: str
    created_at: int
    id: str


class OpenAIServiceAccountCreated(BaseModel):
    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: Literal["member"] = "member"
    created_at: int
    api_key: ServiceAccountApiKey


class OpenAIServiceAccount(BaseModel):
    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: Literal["member"] = "member"
    created_at: int


# OpenAI's fields first, then the extension block (pydantic orders a base's fields before those of the
# bases listed ahead of it).
class ServiceAccountCreated(KeyRestrictions, OpenAIServiceAccountCreated):
    """openai's project service account as created (its key's secret once), with the key's restrictions."""


class ServiceAccount(KeyRestrictions, OpenAIServiceAccount):
    """openai's project service account, with its key's restrictions."""


class ServiceAccountDeleted(BaseModel):
    object: Literal["organization.project.service_account.deleted"] = "organization.project.service_account.deleted"
    id: str
    deleted: bool = True


class OpenAIApiKey(BaseModel):
    object: Literal["organization.project.api_key"] = "organization.project.api_key"
    redacted_value: str
    name: str
    created_at: int
    last_used_at: int | None = None
    id: str
    owner: dict[str, Any]  # {"type": "service_account", "service_account": {...}} or {"type": "user", ...}


class ApiKey(KeyRestrictions, OpenAIApiKey):
    """openai's project API key, with its restrictions."""


class ApiKeyDeleted(BaseModel):
    object: Literal["organization.project.api_key.deleted"] = "organization.project.api_key.deleted"
    id: str
    deleted: bool = True


class Page(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool

    @classmethod
    def of(cls, data: list[T], *, has_more: bool) -> Page[T]:
        """A page whose first_id/last_id are those of its items."""
        ids = [getattr(item, "id") for item in data]  # noqa: B009 (T is any object with an id)
        return cls(data=data, first_id=ids[0] if ids else None, last_id=ids[-1] if ids else None, has_more=has_more)
