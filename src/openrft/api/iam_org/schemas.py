"""Wire shapes of the organization API for IAM roles and policies (openrft's, in OpenAI's style).

OpenAI's Administration API has no roles or policies, so these objects follow its conventions (an
`object` type, `id`, `created_at`, lists as `{"object": "list", "data", "first_id", "last_id",
"has_more"}`) with IAM's content: a role's trust policy and permissions, a managed policy's document.
The same entities answer on the IAM query API (boto3's `iam` client) in AWS's own shapes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Document = dict[str, Any]


class RoleCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="The role's name, unique in the project.")
    trust_policy: Document = Field(description="Who may assume the role (AssumeRolePolicyDocument).")
    path: str = Field(default="/", description="The role's path, as IAM has it: '/' or '/a/b/'.")
    description: str = Field(default="", max_length=1000)
    max_session_duration: int = Field(default=3600, ge=3600, le=43200, description="Longest session, seconds.")


class AttachedPolicy(BaseModel):
    name: str
    arn: str


class Role(BaseModel):
    object: Literal["organization.project.role"] = "organization.project.role"
    id: str  # the RoleId (AROA...)
    name: str
    arn: str
    path: str
    description: str
    trust_policy: Document
    max_session_duration: int
    created_at: int
    inline_policies: list[str] = Field(description="Names of the role's inline policies.")
    attached_policies: list[AttachedPolicy] = Field(description="The managed policies attached to the role.")


class RoleDeleted(BaseModel):
    object: Literal["organization.project.role.deleted"] = "organization.project.role.deleted"
    id: str
    deleted: bool = True


class InlinePolicyPut(BaseModel):
    document: Document = Field(description="An identity policy document.")


class InlinePolicy(BaseModel):
    object: Literal["organization.project.inline_policy"] = "organization.project.inline_policy"
    name: str
    principal_type: Literal["role", "service_account"]
    principal_id: str
    document: Document


class InlinePolicyDeleted(BaseModel):
    object: Literal["organization.project.inline_policy.deleted"] = "organization.project.inline_policy.deleted"
    name: str
    deleted: bool = True


class PolicyAttach(BaseModel):
    policy_arn: str = Field(
        min_length=1,
        max_length=2048,
        description="A customer managed policy of the project or an AWS managed one (arn:aws:iam::aws:policy/...).",
    )


class Attachments(BaseModel):
    """A principal's permissions: its inline policies and the managed policies attached to it."""

    object: Literal["organization.project.attachments"] = "organization.project.attachments"
    principal_type: Literal["role", "service_account"]
    principal_id: str
    inline_policies: list[str]
    attached_policies: list[AttachedPolicy]


class SessionsRevoked(BaseModel):
    object: Literal["organization.project.role.sessions_revoked"] = "organization.project.role.sessions_revoked"
    role: str
    revoked: int = Field(description="How many live sessions were revoked.")


class PolicyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    document: Document = Field(description="An identity policy document.")
    path: str = "/"
    description: str = Field(default="", max_length=1000)


class Policy(BaseModel):
    object: Literal["organization.project.policy"] = "organization.project.policy"
    id: str  # the PolicyId (ANPA...)
    name: str
    arn: str
    path: str
    description: str
    document: Document
    aws_managed: bool = Field(description="An AWS managed policy (read-only, in every project).")
    attachment_count: int
    created_at: int
    updated_at: int


class PolicyDeleted(BaseModel):
    object: Literal["organization.project.policy.deleted"] = "organization.project.policy.deleted"
    id: str
    arn: str
    deleted: bool = True
