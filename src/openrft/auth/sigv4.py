"""AWS Signature Version 4 verification, so boto3 and the AWS CLI authenticate with openrft keys.

The access key id is the openrft key id (`admin` for `OPENRFT_ADMIN_KEY`) and the secret access key is
the key's secret. The server rebuilds the canonical request from the raw request exactly as botocore's
`SigV4Auth` builds it (the path as sent, dot segments and double slashes removed, then percent-encoded
once more with `/` and `~` kept: botocore encodes Lambda paths twice; query pairs decoded and
re-encoded RFC 3986 style and sorted; the signed headers, values whitespace-trimmed; the payload hash
from `X-Amz-Content-SHA256` or the body), derives the signing key from the secret, and compares
signatures in constant time. A request dated more than 15 minutes away from now is refused, as AWS does.

Both failures are 403 like AWS: `InvalidSignatureException` for a bad signature or date,
`UnrecognizedClientException` for an unknown or revoked key. Temporary credentials (an `ASIA...` key
id from STS) come with their session token in `X-Amz-Security-Token`, which the key lookup checks;
a session past its expiry is `ExpiredToken`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from cryptography.fernet import InvalidToken

from openrft.auth.keys import Principal
from openrft.errors import (
    AuthenticationFailed,
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    UnrecognizedClient,
)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
BAD_TOKEN = "The security token included in the request is invalid."
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<headers>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)


@dataclass(frozen=True)
class ParsedAuthorization:
    key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def invalid_signature(message: str = BAD_SIGNATURE) -> InvalidSignature:
    return InvalidSignature(message)


def parse_authorization(header: str) -> ParsedAuthorization:
    match = _AUTH_RE.match(header.strip())
    if match is None:
        raise IncompleteSignature("Authorization header requires Credential, SignedHeaders, Signature.")
    scope = match["cred"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignature(f"Credential should be scoped correctly: {match['cred']}")
    return ParsedAuthorization(
        key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=match["headers"].lower().split(";"),
        signature=match["sig"].lower(),
    )


def remove_dot_segments(path: str) -> str:
    """botocore.utils.remove_dot_segments: RFC 3986 5.2.4 plus collapsing repeated slashes."""
    if not path:
        return "/"
    out: list[str] = []
    for part in path.split("/"):
        if part and part != ".":
            if part == "..":
                if out:
                    out.pop()
            else:
                out.append(part)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path: str) -> str:
    return quote(remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = []
    for pair in raw_query.split("&") if raw_query else []:
        key, _, value = pair.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(
    method: str, raw_path: str, raw_query: str, headers: dict[str, list[str]], signed: list[str], payload_hash: str
) -> str:
    """`headers`: lower-case name -> every value received under it."""
    lines = []
    for name in signed:
        values = headers.get(name)
        if values is None:
            raise invalid_signature(f"Signed header {name!r} is missing from the request.")
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "\n".join(lines) + "\n",
            ";".join(signed),
            payload_hash,
        ]
    )


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def expected_signature(auth: ParsedAuthorization, secret: str, amz_date: str, creq: str) -> str:
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = signing_key(secret, auth.date, auth.region, auth.service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def check_date(amz_date: str, auth: ParsedAuthorization, now: datetime | None = None) -> None:
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise invalid_signature(f"Invalid X-Amz-Date {amz_date!r}: expected YYYYMMDD'T'HHMMSS'Z'.") from exc
    now = now or datetime.now(UTC)
    if abs((now - when).total_seconds()) > MAX_SKEW_S:
        raise invalid_signature(
            f"Signature expired: {amz_date} is now earlier than {now.strftime('%Y%m%dT%H%M%SZ')} "
            "(more than 15 minutes of clock skew)."
        )
    if not amz_date.startswith(auth.date):
        raise invalid_signature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date.")


def _from_http_date(value: str) -> str:
    """SigV4 allows an RFC 1123 `Date` header instead of X-Amz-Date; the string to sign uses ISO basic."""
    try:
        return parsedate_to_datetime(value).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError):
        return ""


@dataclass(frozen=True)
class SignedRequest:
    """What SigV4 signs, as received: no framework types, so verification is a pure function."""

    method: str
    raw_path: str  # as sent, still percent-encoded, without the query
    raw_query: str
    headers: dict[str, list[str]]  # lower-case name -> every value received under it
    body: bytes


# (key id[, security token]) -> (principal, secret); AuthenticationFailed, or ExpiredToken for temporary
# credentials past their time. The token (`X-Amz-Security-Token`, sent with `ASIA...` session keys) is
# passed only when the request carries one, so a lookup of long-term keys may take the key id alone.
SecretLookup = Callable[..., tuple[Principal, str]]


def verify(request: SignedRequest, lookup: SecretLookup, *, now: datetime | None = None) -> Principal:
    """The principal of a SigV4-signed request; raises InvalidSignature or UnrecognizedClient when it does not verify.

    `lookup` is the only thing it reads from outside: the key's secret (and who it belongs to).
    """
    first = {name: values[0] for name, values in request.headers.items() if values}
    auth = parse_authorization(first.get("authorization", ""))
    amz_date = first.get("x-amz-date") or _from_http_date(first.get("date", ""))
    check_date(amz_date, auth, now)
    token = first.get("x-amz-security-token")
    try:
        principal, secret = lookup(auth.key_id) if token is None else lookup(auth.key_id, token)
    except ExpiredToken:  # only a caller holding the session's real token learns that it expired
        raise
    except (AuthenticationFailed, InvalidToken, TypeError) as exc:  # unknown, revoked, or no usable secret
        raise UnrecognizedClient(BAD_TOKEN) from exc
    body_hash = hashlib.sha256(request.body).hexdigest()
    claimed = first.get("x-amz-content-sha256")
    if claimed is not None and claimed != body_hash:  # UNSIGNED-PAYLOAD is S3's; Lambda signs bodies
        raise invalid_signature()
    creq = canonical_request(
        request.method, request.raw_path, request.raw_query, request.headers, auth.signed_headers, claimed or body_hash
    )
    if not hmac.compare_digest(expected_signature(auth, secret, amz_date, creq), auth.signature):
        raise invalid_signature()
    return principal
