"""SigV4 verification against botocore's own signer: what boto3 signs must verify, any tampering must not."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openrft.api.errors import answer
from openrft.auth import sigv4
from openrft.auth.keys import secret_for_key_id
from openrft.auth.sigv4 import SignedRequest
from openrft.context import AppContext, build_context
from openrft.errors import OpenRFTError
from openrft.settings import Settings

ADMIN = "sk-admin-test-0123456789abcdef"
ARN_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations"


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    context = build_context(settings)
    yield context
    context.store.dispose()


def signed(
    method: str = "POST",
    url: str = f"http://127.0.0.1:8123{ARN_PATH}?Qualifier=prod",
    body: bytes = b'[{"id": "1"}]',
    key_id: str = "admin",
    secret: str = ADMIN,
    headers: dict[str, str] | None = None,
    when: datetime | None = None,
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {"X-Amz-Log-Type": "Tail"})
    if when is None:
        SigV4Auth(Credentials(key_id, secret), "lambda", "us-east-1").add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
            SigV4Auth(Credentials(key_id, secret), "lambda", "us-east-1").add_auth(request)
    return request


def to_signed(req: AWSRequest, *, body: bytes | None = None, extra: dict[str, str] | None = None) -> SignedRequest:
    """The request as the server receives it: raw path and query, every header value, the body."""
    parts = urlsplit(req.url)
    headers = {k.lower(): [str(v)] for k, v in req.headers.items()}
    headers.setdefault("host", [parts.netloc])
    headers.update({k: [v] for k, v in (extra or {}).items()})
    data = req.body if body is None else body
    payload = data if isinstance(data, bytes) else (data or "").encode()
    return SignedRequest(method=req.method, raw_path=parts.path, raw_query=parts.query, headers=headers, body=payload)


def verify(ctx: AppContext, request: SignedRequest) -> Any:
    return sigv4.verify(request, lambda key_id: secret_for_key_id(ctx.store, ctx.cipher, ctx.settings, key_id))


def code_of(ctx: AppContext, request: SignedRequest) -> tuple[int, str]:
    """The refusal as the Lambda surface answers it: (status, x-amzn-ErrorType)."""
    with pytest.raises(OpenRFTError) as info:
        verify(ctx, request)
    wire = answer(info.value, aws=True)
    return wire.status, wire.headers["x-amzn-ErrorType"]


def test_botocore_signature_verifies(ctx: AppContext) -> None:
    principal = verify(ctx, to_signed(signed()))
    assert (principal.key_id, principal.project_id, principal.is_admin) == ("admin", "proj_default", True)


def test_get_without_body_and_service_key(ctx: AppContext) -> None:
    from openrft.auth.keys import create_key

    with ctx.store.begin() as conn:
        row, secret = create_key(conn, ctx.cipher, project_id="proj_default", name="k")
    req = signed(
        "GET", "http://127.0.0.1:8123/2015-03-31/functions?MaxItems=5&Marker=a%20b", b"", str(row["id"]), secret
    )
    assert verify(ctx, to_signed(req)).key_id == row["id"]


def test_tampered_body(ctx: AppContext) -> None:
    assert code_of(ctx, to_signed(signed(), body=b'[{"id": "2"}]')) == (403, "InvalidSignatureException")


def test_tampered_signed_header(ctx: AppContext) -> None:
    request = to_signed(signed(), extra={"x-amz-log-type": "None"})
    assert code_of(ctx, request) == (403, "InvalidSignatureException")


def test_tampered_query_and_path(ctx: AppContext) -> None:
    req = signed()
    req.url = req.url.replace("Qualifier=prod", "Qualifier=dev")
    assert code_of(ctx, to_signed(req)) == (403, "InvalidSignatureException")
    req = signed()
    req.url = req.url.replace("function%3Af", "function%3Ag")
    assert code_of(ctx, to_signed(req)) == (403, "InvalidSignatureException")


def test_wrong_secret_and_unknown_key(ctx: AppContext) -> None:
    assert code_of(ctx, to_signed(signed(secret="nope"))) == (403, "InvalidSignatureException")
    assert code_of(ctx, to_signed(signed(key_id="key_unknown"))) == (403, "UnrecognizedClientException")


def test_date_skew(ctx: AppContext) -> None:
    old = datetime.now(UTC) - timedelta(minutes=16)
    assert code_of(ctx, to_signed(signed(when=old))) == (403, "InvalidSignatureException")
    recent = datetime.now(UTC) - timedelta(minutes=14)
    assert verify(ctx, to_signed(signed(when=recent))).key_id == "admin"


def test_content_sha_header_must_match_body(ctx: AppContext) -> None:
    body = b'{"a": 1}'
    req = signed(body=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert verify(ctx, to_signed(req)).key_id == "admin"
    assert code_of(ctx, to_signed(req, body=b'{"a": 2}')) == (403, "InvalidSignatureException")


def test_malformed_authorization(ctx: AppContext) -> None:
    request = to_signed(signed(), extra={"authorization": "AWS4-HMAC-SHA256 Credential=admin"})
    assert code_of(ctx, request)[1] == "IncompleteSignatureException"


def test_canonical_pieces_match_botocore() -> None:
    assert sigv4.canonical_uri("/a/./b//c/../d") == "/a/b/d"
    assert sigv4.canonical_uri("/f/arn%3Aaws") == "/f/arn%253Aaws"  # botocore encodes Lambda paths twice
    assert sigv4.canonical_query("b=2&a=x%20y&a=1") == "a=1&a=x%20y&b=2"


def test_date_header_instead_of_x_amz_date(ctx: AppContext) -> None:
    req = signed(headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})  # botocore rewrites it to now
    assert "X-Amz-Date" not in req.headers
    assert verify(ctx, to_signed(req)).key_id == "admin"
