"""API keys: creation, storage and Bearer authentication.

A key has a public id (`key_...`, also the SigV4 access key id) and a secret (`sk-rft-...`) shown once.
The store keeps `sha256(secret)` for Bearer look-ups (a fast hash is right for 256-bit random secrets)
and, because SigV4 verification needs the secret itself, a copy encrypted with the installation's
master key (`OPENRFT_HOME/master.key`, mode 0600), so a leaked database alone yields no usable key.

`OPENRFT_ADMIN_KEY` is a bootstrap key: key id `admin`, every right, and the key of the default project.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet

from openrft.errors import AuthenticationFailed, NotFound, PermissionDenied
from openrft.functions.arn import account_id
from openrft.ids import new_id, now_s, random_token
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store

log = logging.getLogger(__name__)

ADMIN_KEY_ID = "admin"
DEFAULT_PROJECT_ID = "proj_default"
DEFAULT_PROJECT_NAME = "Default project"
# `last_used_at` is written at most once per key per this many seconds, not on every request.
LAST_USED_RESOLUTION_S = 60
# What a key may do when its creator names no policy: anything inside its project (openrft.auth.managed).
FULL_ACCESS_POLICY_ARN = "arn:aws:iam::aws:policy/OpenRFTFullAccess"


@dataclass(frozen=True)
class Principal:
    """The caller of a request: every resource it touches belongs to `project_id`.

    Two kinds: an API key (`key_id` = `key_...` or `admin`; its service account's policies apply) and an
    assumed-role session (`key_id` = the temporary `ASIA...` access key id; the role's policies apply).
    `scopes` is None for a key with permissions `all` (and for role sessions): every scope.
    """

    key_id: str
    project_id: str
    is_admin: bool
    last_used_at: int | None = field(default=None, compare=False)  # as read when the key was looked up
    service_account_id: str | None = None
    role_arn: str | None = None  # set on an assumed-role session
    session_name: str | None = None
    scopes: frozenset[str] | None = None
    allowed_models: tuple[str, ...] | None = None  # fnmatch patterns; None: any model
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    expires_at: int | None = None

    @property
    def account_id(self) -> str:
        return account_id(self.project_id)

    @property
    def arn(self) -> str:
        """The principal's ARN, as IAM names it in policies and in error messages."""
        if self.role_arn is not None:
            role_name = self.role_arn.rsplit("/", 1)[-1]
            return f"arn:aws:sts::{self.account_id}:assumed-role/{role_name}/{self.session_name}"
        if self.is_admin:
            return f"arn:aws:iam::{self.account_id}:root"
        return f"arn:aws:iam::{self.account_id}:user/{self.service_account_id or self.key_id}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def redact(secret: str) -> str:
    return f"{secret[:8]}***{secret[-4:]}"


def new_secret() -> str:
    return "sk-rft-" + random_token(48)


class KeyCipher:
    """Encrypts key secrets at rest with the installation's master key."""

    def __init__(self, key_path: Path):
        if not key_path.exists():
            key_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
        self._fernet = Fernet(key_path.read_bytes().strip())

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()


def ensure_bootstrap(store: Store, settings: Settings) -> None:
    """Create the default project, and the admin key row when `OPENRFT_ADMIN_KEY` is set."""
    with store.begin_immediate() as conn:
        if (
            conn.execute(sa.select(schema.projects.c.id).where(schema.projects.c.id == DEFAULT_PROJECT_ID)).first()
            is None
        ):
            conn.execute(
                schema.projects.insert().values(id=DEFAULT_PROJECT_ID, name=DEFAULT_PROJECT_NAME, created_at=now_s())
            )
        conn.execute(schema.api_keys.delete().where(schema.api_keys.c.id == ADMIN_KEY_ID))
        if settings.admin_key:
            conn.execute(
                schema.api_keys.insert().values(
                    id=ADMIN_KEY_ID,
                    project_id=DEFAULT_PROJECT_ID,
                    name="OPENRFT_ADMIN_KEY",
                    secret_sha256=hash_secret(settings.admin_key),
                    secret_encrypted=None,  # the admin secret lives in the environment, never on disk
                    redacted_value=redact(settings.admin_key),
                    is_admin=True,
                    created_at=now_s(),
                )
            )


def create_key(
    conn: sa.Connection,
    cipher: KeyCipher,
    *,
    project_id: str,
    name: str,
    service_account_id: str | None = None,
    policy_arns: Sequence[str] = (FULL_ACCESS_POLICY_ARN,),
) -> tuple[dict[str, object], str]:
    """Insert a new project key; returns its row and the secret (the only time it is known in clear).

    The key's identity policies are `policy_arns` (attached to its service account, or to the key itself
    when it has none): full access inside its project unless the caller names narrower ones.
    """
    secret = new_secret()
    row: dict[str, object] = {
        "id": new_id("key_", 16),
        "project_id": project_id,
        "name": name,
        "service_account_id": service_account_id,
        "secret_sha256": hash_secret(secret),
        "secret_encrypted": cipher.encrypt(secret),
        "redacted_value": redact(secret),
        "is_admin": False,
        "created_at": now_s(),
    }
    conn.execute(schema.api_keys.insert().values(**row))
    now = int(str(row["created_at"]))
    for arn in dict.fromkeys(policy_arns):
        conn.execute(
            schema.iam_attachments.insert().values(
                principal_type="service_account",
                principal_id=service_account_id or row["id"],
                policy_arn=arn,
                project_id=project_id,
                created_at=now,
            )
        )
    return row, secret


def authenticate_bearer(store: Store, secret: str) -> Principal:
    digest = hash_secret(secret)
    with store.begin() as conn:
        row = conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.secret_sha256 == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_sha256, digest):
        raise AuthenticationFailed(f"Incorrect API key provided: {redact(secret) if len(secret) > 12 else '***'}.")
    principal = principal_of(row)
    record_use(store, principal)
    return principal


def principal_of(row: Any) -> Principal:
    """The principal of a live `api_keys` row; an expired key is refused here, as OpenAI refuses it."""
    if row.expires_at is not None and row.expires_at <= now_s():
        raise AuthenticationFailed(f"The API key {row.id} expired; create a new one.", code="expired_api_key")
    permissions = row.permissions or {}
    scopes = permissions.get("scopes") if permissions.get("mode", "all") != "all" else None
    return Principal(
        key_id=row.id,
        project_id=row.project_id,
        is_admin=bool(row.is_admin),
        last_used_at=row.last_used_at,
        service_account_id=row.service_account_id,
        scopes=frozenset(scopes) if scopes is not None else None,
        allowed_models=tuple(row.allowed_models) if row.allowed_models is not None else None,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        expires_at=row.expires_at,
    )


def record_use(store: Store, principal: Principal) -> None:
    """Set the key's `last_used_at` once it has authenticated a request, at most once a minute per key.

    Call it only after the caller is verified (the SigV4 path: after the signature matched).
    """
    now = now_s()
    if principal.last_used_at is not None and now - principal.last_used_at < LAST_USED_RESOLUTION_S:
        return
    keys = schema.api_keys.c
    stale = sa.or_(keys.last_used_at.is_(None), keys.last_used_at <= now - LAST_USED_RESOLUTION_S)
    try:
        with store.begin() as conn:
            conn.execute(schema.api_keys.update().where(keys.id == principal.key_id, stale).values(last_used_at=now))
    except sa.exc.OperationalError:  # bookkeeping must not fail a request the key was good for
        log.warning("could not record the use of key %s", principal.key_id, exc_info=True)


def secret_for_key_id(store: Store, cipher: KeyCipher, settings: Settings, key_id: str) -> tuple[Principal, str]:
    """The principal and clear secret of a key id, for SigV4 verification."""
    with store.begin() as conn:
        row = conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        raise AuthenticationFailed("The security token included in the request is invalid.")
    principal = principal_of(row)
    if row.id == ADMIN_KEY_ID:
        if not settings.admin_key:
            raise AuthenticationFailed("The security token included in the request is invalid.")
        return principal, settings.admin_key
    return principal, cipher.decrypt(row.secret_encrypted)


def act_in_project(store: Store, principal: Principal, project_id: str) -> Principal:
    """The principal acting in `project_id`, as OpenAI's `OpenAI-Project` header asks.

    A project key acts in its own project only: naming another is refused. The admin key may act in any
    live project (the console's project switcher, `OpenAI(project=...)` in the SDK).
    """
    if project_id == principal.project_id:
        return principal
    if not principal.is_admin:
        raise PermissionDenied(
            f"This key belongs to project {principal.project_id}; it cannot act in project {project_id}.",
            code="project_mismatch",
        )
    with store.begin() as conn:
        row = conn.execute(sa.select(schema.projects).where(schema.projects.c.id == project_id)).first()
    if row is None or row.archived_at is not None:
        raise NotFound(f"No such project: {project_id}", code="project_not_found")
    return replace(principal, project_id=project_id)
