"""Console sign-in sessions: an API key exchanged once for a session cookie.

The console's sign-in form posts a key's secret; `open_session` checks it like any Bearer key and
returns a random session token (the cookie's value) and a CSRF token. The store keeps only the
token's sha256, so the database alone opens no session, and never the key's secret: each request
re-reads the key, so revoking the key (or signing out) ends its sessions at once.

Every request that a session authenticates must also carry the session's CSRF token (the
`X-CSRF-Token` header, or a form's `csrf` field): a page on another site can make a browser send the
cookie but cannot read the token, and the cookie is `SameSite=Strict` besides.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from openrft.auth.keys import Principal, authenticate_bearer, principal_of
from openrft.errors import AuthenticationFailed, PermissionDenied
from openrft.ids import now_s, random_token
from openrft.store import schema
from openrft.store.db import Store

SESSION_TTL_S = 12 * 3600  # a working day: `Settings.console_session_ttl_s`


class SessionExpired(AuthenticationFailed):
    """A session cookie past its expiry, signed out, or whose key was revoked."""

    code = "session_expired"


class CSRFRejected(PermissionDenied):
    """A request authenticated by a session cookie without the session's CSRF token."""

    code = "csrf_token_invalid"


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf_token: str
    expires_at: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Store, secret: str, *, ttl_s: int = SESSION_TTL_S) -> tuple[str, Session]:
    """Check `secret` as an API key; return the new session's token (for the cookie) and the session."""
    principal = authenticate_bearer(store, secret)  # AuthenticationFailed for a wrong or revoked key
    token, csrf, now = random_token(48), random_token(32), now_s()
    with store.begin() as conn:
        conn.execute(
            schema.console_sessions.insert().values(
                id_sha256=_digest(token),
                key_id=principal.key_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + ttl_s,
            )
        )
    return token, Session(principal, csrf, now + ttl_s)


def read_session(store: Store, token: str) -> Session:
    """The live session behind a cookie token, with its key's principal as of now."""
    s, k = schema.console_sessions.c, schema.api_keys.c
    with store.begin() as conn:
        row = conn.execute(
            sa.select(
                s.csrf_token,
                s.expires_at.label("session_expires_at"),
                s.revoked_at.label("signed_out_at"),
                schema.api_keys,
            )
            .select_from(schema.console_sessions.join(schema.api_keys, k.id == s.key_id))
            .where(s.id_sha256 == _digest(token))
        ).first()
    if row is None:
        raise SessionExpired("Your console session is not valid: sign in again.")
    if row.signed_out_at is not None:
        raise SessionExpired("You signed out of this console session: sign in again.")
    if row.revoked_at is not None:
        raise SessionExpired("The API key of this console session was revoked: sign in with a live key.")
    if row.session_expires_at <= now_s():
        raise SessionExpired("Your console session expired: sign in again.")
    try:
        principal = principal_of(row)  # the key's restrictions and identity as of now
    except AuthenticationFailed as exc:
        raise SessionExpired(f"{exc.message} Sign in with a live key.") from None
    return Session(principal, row.csrf_token, row.session_expires_at)


def check_csrf(session: Session, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(session.csrf_token, presented):
        raise CSRFRejected("This request lacks the console session's CSRF token (X-CSRF-Token).")


def close_session(store: Store, token: str) -> None:
    """Sign out: the session can no longer authenticate anything."""
    c = schema.console_sessions.c
    with store.begin() as conn:
        conn.execute(
            schema.console_sessions.update()
            .where(c.id_sha256 == _digest(token), c.revoked_at.is_(None))
            .values(revoked_at=now_s())
        )
