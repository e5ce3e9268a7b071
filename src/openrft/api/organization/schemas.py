"""Wire shapes of the organization API, as OpenAI's Administration API has them.

Projects (`organization.project`), service accounts whose creation returns the key secret once
(`organization.project.service_account` with `api_key.value`), and project API keys
(`organization.project.api_key`, secret redacted).
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


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


class ServiceAccountApiKey(BaseModel):
    object: Literal["organization.project.service_account.api_key"] = "organization.project.service_account.api_key"
    value: str  # the secret: shown here once, never again
    name: str
    created_at: int
    id: str


class ServiceAccountCreated(BaseModel):
    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: Literal["member"] = "member"
    created_at: int
    api_key: ServiceAccountApiKey


class ServiceAccount(BaseModel):
    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: Literal["member"] = "member"
    created_at: int


class ServiceAccountDeleted(BaseModel):
    object: Literal["organization.project.service_account.deleted"] = "organization.project.service_account.deleted"
    id: str
    deleted: bool = True


class ApiKey(BaseModel):
    object: Literal["organization.project.api_key"] = "organization.project.api_key"
    redacted_value: str
    name: str
    created_at: int
    last_used_at: int | None = None
    id: str
    owner: dict[str, Any]  # {"type": "service_account", "service_account": {...}} or {"type": "user", ...}


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
