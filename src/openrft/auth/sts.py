"""Temporary credentials of a role: STS AssumeRole, execution-role credentials, and their verification.

A session is a row of `sts_sessions`: an access key id `ASIA...` (what SigV4 sends), a secret (stored
encrypted with the master key, as key secrets are), the sha256 of its session token, and an expiry. The
caller gets the three as AWS's `Credentials`; boto3 signs with the first two and sends the token as
`X-Amz-Security-Token`, and the token alone works as a Bearer secret (the openai SDK in a function).

Who may assume a role, as AWS decides it within one account (openrft.auth.policy evaluates the trust
policy as a TRUST policy beside the caller's identity policies): the role's trust policy must admit the
caller (a statement naming its ARN, its role, the account, or `*`), and no policy may deny it; when the
trust policy admits the caller only through the account (`arn:aws:iam::<acct>:root`), the caller's own
identity policies must also allow `sts:AssumeRole` on the role. A role's session may assume another
role (role chaining) for at most an hour, as on AWS. The admin key may assume any role whose trust
policy admits the account.

A session stops working when it expires, when it is revoked (`revoke_sessions`), or when its role is
deleted: each is `ExpiredToken`, and only to a caller who holds the session's real token.

Simplifications, stated: no session policies (the `Policy`/`PolicyArns` parameters), no session tags,
no ExternalId or MFA conditions; the caller's project is the only account a role can live in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openrft.auth import authorize, iam
from openrft.auth.keys import KeyCipher, Principal
from openrft.auth.policy import Policy, RequestContext, evaluate
from openrft.errors import AccessDenied, AuthenticationFailed, ExpiredToken, InvalidRequest
from openrft.ids import now_s, random_token
from openrft.store import schema
from openrft.store.db import Store

ACTION = "sts:AssumeRole"
ACCESS_KEY_PREFIX = "ASIA"
SESSION_TOKEN_PREFIX = "rft-sts-"
MIN_DURATION_S = 900
CHAINED_MAX_S = 3600  # a session assumed with another role's session lasts at most an hour (AWS)
EXPIRED_AFTER_S = 86_400  # sessions expired this long ago are swept when new ones are issued
SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
BAD_TOKEN = "The security token included in the request is invalid."
EXPIRED = "The security token included in the request is expired"
LAMBDA_REFUSED = "The role defined for the function cannot be assumed by Lambda."
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

sessions_t = schema.sts_sessions


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: int  # Unix seconds


# (action, resource, resource policies) -> None, raising AccessDenied (or MissingScopes, ...) when refused.
IdentityCheck = Callable[[str, str, Sequence[Policy]], object]


def is_session_key(access_key_id: str) -> bool:
    return access_key_id.startswith(ACCESS_KEY_PREFIX)


def is_session_token(token: str) -> bool:
    return token.startswith(SESSION_TOKEN_PREFIX)


def assumed_role_arn(role: iam.Role, session_name: str) -> str:
    account = role.arn.split(":")[4]
    return f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _denied(caller_arn: str, role_arn: str) -> AccessDenied:
    return AccessDenied(f"User: {caller_arn} is not authorized to perform: {ACTION} on resource: {role_arn}")


def _check_session_name(session_name: str) -> None:
    if not isinstance(session_name, str) or not SESSION_NAME_RE.match(session_name):
        raise InvalidRequest(
            "RoleSessionName must be 2 to 64 characters: letters, digits and +=,.@_-.", param="RoleSessionName"
        )


def _check_duration(duration_s: int, role: iam.Role, *, chained: bool) -> None:
    most = min(role.max_session_duration_s, CHAINED_MAX_S) if chained else role.max_session_duration_s
    if duration_s < MIN_DURATION_S:
        raise InvalidRequest(f"DurationSeconds must be at least {MIN_DURATION_S}.", param="DurationSeconds")
    if duration_s > most:
        why = (
            "role chaining limits a session to 3600 seconds" if chained else "the MaxSessionDuration set for this role"
        )
        raise InvalidRequest(f"The requested DurationSeconds exceeds {why} ({most} seconds).", param="DurationSeconds")


def _admin_admitted(role: iam.Role, trust: Policy, caller: Principal, keys: Mapping[str, Sequence[str]]) -> None:
    """The admin key never consults policies, but still needs a trust policy that admits the account."""
    context = RequestContext(
        action=ACTION,
        resource=role.arn,
        principal_arn=caller.arn,
        principal_account=caller.account_id,
        keys=authorize.request_keys(caller, keys),
    )
    if not evaluate(context, (), (trust,)).allowed:
        raise _denied(caller.arn, role.arn)


def assume_role(
    store: Store,
    cipher: KeyCipher,
    caller: Principal,
    *,
    role_arn: str,
    session_name: str,
    duration_s: int = 3600,
    context_keys: Mapping[str, Sequence[str]] | None = None,
    check: IdentityCheck | None = None,
) -> tuple[Credentials, str]:
    """Credentials of the role for `caller`, and the session's assumed-role ARN.

    `check` decides the identity side (the HTTP layer passes its audited `authz.check`); without it the
    decision is `authorize.require`. An unknown role is refused exactly as a role that does not trust
    the caller, so a caller cannot probe for role names.
    """
    _check_session_name(session_name)
    keys = dict(context_keys or {})
    with store.begin() as conn:
        role = iam.role_by_arn(conn, role_arn)
    if role is None or role.project_id != caller.project_id:
        raise _denied(caller.arn, role_arn)
    trust = iam.trust_policy_of(role)
    if caller.is_admin:
        _admin_admitted(role, trust, caller, keys)
    _check_duration(duration_s, role, chained=caller.role_arn is not None)
    if check is not None:
        check(ACTION, role.arn, [trust])
    else:
        with store.begin() as conn:
            authorize.require(conn, caller, ACTION, role.arn, keys=keys, resource_policies=[trust])
    credentials = _issue(store, cipher, role, session_name, duration_s, source=caller.arn)
    return credentials, assumed_role_arn(role, session_name)


def issue_for_service(
    store: Store,
    cipher: KeyCipher,
    *,
    project_id: str,
    role_arn: str,
    session_name: str,
    service: str = "lambda.amazonaws.com",
    duration_s: int = 900,
) -> Credentials:
    """Credentials of an execution role for a service acting with it (a function's Role for Lambda).

    The role must be the project's and its trust policy must admit the service principal; otherwise
    AccessDenied with Lambda's own wording.
    """
    with store.begin() as conn:
        role = iam.role_by_arn(conn, role_arn)
    if role is None or role.project_id != project_id:
        raise AccessDenied(LAMBDA_REFUSED)
    context = RequestContext(
        action=ACTION,
        resource=role.arn,
        principal_arn=service,
        principal_account="",
        principal_service=service,
        keys={"aws:PrincipalServiceName": [service]},
    )
    if not evaluate(context, (), (iam.trust_policy_of(role),)).allowed:
        raise AccessDenied(LAMBDA_REFUSED)
    duration_s = max(MIN_DURATION_S, min(duration_s, role.max_session_duration_s))
    return _issue(store, cipher, role, session_name[:64], duration_s, source=service)


def _issue(
    store: Store, cipher: KeyCipher, role: iam.Role, session_name: str, duration_s: int, *, source: str
) -> Credentials:
    now = now_s()
    credentials = Credentials(
        access_key_id=ACCESS_KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
        secret_access_key=random_token(40),
        session_token=SESSION_TOKEN_PREFIX + random_token(96),
        expiration=now + duration_s,
    )
    with store.begin() as conn:
        conn.execute(sessions_t.delete().where(sessions_t.c.expires_at < now - EXPIRED_AFTER_S))
        conn.execute(
            sessions_t.insert().values(
                access_key_id=credentials.access_key_id,
                project_id=role.project_id,
                role_id=role.id,
                role_arn=role.arn,
                session_name=session_name,
                secret_encrypted=cipher.encrypt(credentials.secret_access_key),
                token_sha256=_token_hash(credentials.session_token),
                source=source,
                created_at=now,
                expires_at=credentials.expiration,
            )
        )
    return credentials


def _principal(row: Any) -> Principal:
    return Principal(
        key_id=row.access_key_id,
        project_id=row.project_id,
        is_admin=False,
        role_arn=row.role_arn,
        session_name=row.session_name,
        expires_at=row.expires_at,
    )


def _check_live(conn: sa.Connection, row: Any) -> None:
    """ExpiredToken unless the session is unexpired, unrevoked, and its role still exists."""
    if row.revoked_at is not None or row.expires_at <= now_s():
        raise ExpiredToken(EXPIRED)
    role = iam.role_by_id(conn, row.role_id)
    if role is None or role.arn != row.role_arn:
        raise ExpiredToken(EXPIRED)


def secret_for_access_key(
    store: Store, cipher: KeyCipher, access_key_id: str, session_token: str | None
) -> tuple[Principal, str]:
    """The principal and clear secret of an `ASIA...` key, for SigV4 verification.

    The token must be the session's (AuthenticationFailed otherwise, like an unknown key); then
    ExpiredToken if the session is over.
    """
    with store.begin() as conn:
        row = conn.execute(sa.select(sessions_t).where(sessions_t.c.access_key_id == access_key_id)).first()
        if row is None or not session_token or not hmac.compare_digest(row.token_sha256, _token_hash(session_token)):
            raise AuthenticationFailed(BAD_TOKEN)
        _check_live(conn, row)
    return _principal(row), cipher.decrypt(row.secret_encrypted)


def principal_for_session_token(store: Store, token: str) -> Principal:
    """The principal of a session token sent as a Bearer secret."""
    with store.begin() as conn:
        row = conn.execute(sa.select(sessions_t).where(sessions_t.c.token_sha256 == _token_hash(token))).first()
        if row is None:
            raise AuthenticationFailed(BAD_TOKEN)
        _check_live(conn, row)
    return _principal(row)


def sweep_sessions(store: Store, *, older_than_s: int = 86_400) -> int:
    """Delete sessions that ended (expired or revoked) more than `older_than_s` ago: every function
    invocation with an execution role makes one, and none can authenticate once over."""
    cutoff = now_s() - older_than_s
    ended = sa.or_(sessions_t.c.expires_at < cutoff, sessions_t.c.revoked_at < cutoff)
    with store.begin() as conn:
        return int(conn.execute(sessions_t.delete().where(ended)).rowcount or 0)


def revoke_sessions(conn: sa.Connection, *, project_id: str, role_id: str) -> int:
    """Revoke every live session of a role; returns how many."""
    now = now_s()
    live = [
        sessions_t.c.project_id == project_id,
        sessions_t.c.role_id == role_id,
        sessions_t.c.revoked_at.is_(None),
        sessions_t.c.expires_at > now,
    ]
    return int(conn.execute(sessions_t.update().where(*live).values(revoked_at=now)).rowcount)


def caller_identity(store: Store, principal: Principal) -> dict[str, str]:
    """GetCallerIdentity: UserId (the account for the admin key, `<RoleId>:<session>` for a session), Account, Arn."""
    user_id = principal.service_account_id or principal.key_id
    if principal.is_admin:
        user_id = principal.account_id
    elif principal.role_arn is not None:
        with store.begin() as conn:
            row = conn.execute(
                sa.select(sessions_t.c.role_id).where(sessions_t.c.access_key_id == principal.key_id)
            ).first()
        user_id = f"{row.role_id if row else principal.key_id}:{principal.session_name}"
    return {"UserId": user_id, "Account": principal.account_id, "Arn": principal.arn}
