"""The tables migration m005 added (access control: IAM policies and roles, STS sessions, Lambda
resource policies, the audit trail), frozen: this file never changes. Later changes to these tables are
later migrations.
"""

from __future__ import annotations

import sqlalchemy as sa

_M005 = sa.MetaData()

sa.Table(
    "iam_policies",  # customer managed policies; AWS managed ones live in code (openrft.auth.managed)
    _M005,
    sa.Column("id", sa.String(32), primary_key=True),  # ANPA... (AWS's PolicyId shape)
    sa.Column("project_id", sa.String(64), nullable=False, index=True),  # the account it belongs to
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),  # "/" unless given
    sa.Column("arn", sa.String(2048), nullable=False, unique=True),  # arn:aws:iam::<account>:policy<path><name>
    sa.Column("description", sa.Text),
    sa.Column("document", sa.JSON, nullable=False),  # the policy document, as parsed JSON
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("project_id", "name", name="uq_iam_policies_name"),
)

sa.Table(
    "iam_roles",
    _M005,
    sa.Column("id", sa.String(32), primary_key=True),  # AROA... (AWS's RoleId shape)
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(2048), nullable=False, unique=True),  # arn:aws:iam::<account>:role<path><name>
    sa.Column("description", sa.Text),
    sa.Column("trust_policy", sa.JSON, nullable=False),  # AssumeRolePolicyDocument
    sa.Column("max_session_duration_s", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("project_id", "name", name="uq_iam_roles_name"),
)

sa.Table(
    "iam_inline_policies",  # put_role_policy (and inline policies of service accounts)
    _M005,
    sa.Column("principal_type", sa.String(16), primary_key=True),  # role | service_account
    sa.Column("principal_id", sa.String(64), primary_key=True),  # iam_roles.id | svc_acct_...
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
)

sa.Table(
    "iam_attachments",  # attach_role_policy (and managed policies attached to service accounts)
    _M005,
    sa.Column("principal_type", sa.String(16), primary_key=True),  # role | service_account
    sa.Column("principal_id", sa.String(64), primary_key=True),
    sa.Column("policy_arn", sa.String(2048), primary_key=True),  # customer managed or arn:aws:iam::aws:policy/...
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
)

sa.Table(
    "sts_sessions",  # temporary credentials of an assumed role (sts.assume_role, execution roles)
    _M005,
    sa.Column("access_key_id", sa.String(32), primary_key=True),  # ASIA...; the SigV4 access key id
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("role_id", sa.String(32), nullable=False, index=True),
    sa.Column("role_arn", sa.String(2048), nullable=False),
    sa.Column("session_name", sa.String(64), nullable=False),
    sa.Column("secret_encrypted", sa.Text, nullable=False),  # Fernet(master key), as api_keys
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),  # of the SessionToken
    sa.Column("source", sa.String(2048), nullable=False),  # who assumed it: a principal ARN or a service
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("revoked_at", sa.Integer),
)

sa.Table(
    "function_permissions",  # Lambda resource policies: one row per AddPermission statement
    _M005,
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("function_name", sa.String(64), primary_key=True),
    sa.Column("qualifier", sa.String(128), primary_key=True),  # "" for the unqualified function
    sa.Column("statement_id", sa.String(100), primary_key=True),
    sa.Column("statement", sa.JSON, nullable=False),  # the statement as GetPolicy returns it
    sa.Column("created_at", sa.Integer, nullable=False),
)

sa.Table(
    "audit_log",  # append-only and hash-chained: openrft.auth.audit
    _M005,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the chain's order
    sa.Column("id", sa.String(64), nullable=False, unique=True),  # audit_log-...
    sa.Column("effective_at", sa.Integer, nullable=False, index=True),
    sa.Column("project_id", sa.String(64), index=True),
    sa.Column("type", sa.String(64), nullable=False, index=True),
    sa.Column("actor", sa.JSON),  # who: principal ARN, key id (never a secret), kind
    sa.Column("key_id", sa.String(64), index=True),
    sa.Column("source_ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("action", sa.String(128)),
    sa.Column("resource", sa.String(2048)),
    sa.Column("outcome", sa.String(16), nullable=False),  # allowed | denied | succeeded | failed
    sa.Column("decision", sa.JSON),  # effect, deciding policy and statement Sid, or the missing scopes
    sa.Column("request_id", sa.String(64), index=True),
    sa.Column("details", sa.JSON),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


def create(conn: sa.Connection) -> None:
    _M005.create_all(conn)
