"""Per-key rate limits: requests and tokens per minute, as token buckets in this process.

Each limited key has up to two buckets, one per limit. A bucket holds at most `limit` units and refills
continuously at `limit / 60` units a second, so a key may burst its whole minute's allowance and then
runs at the steady rate (OpenAI's limits behave the same way). A request costs one unit of the requests
bucket, taken when it is admitted. Tokens are charged after the fact with a completion's usage (`charge`),
which may take the bucket below zero; the next request is admitted only once the tokens bucket holds
what it asks for (`requested_tokens`, 1 unless the caller estimates more), so a key over its tokens
budget waits for the deficit to refill.

The answer carries OpenAI's headers: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
`x-ratelimit-reset-requests` (time until the bucket is full again, Go's duration style as OpenAI writes
it: "1s", "120ms", "6m0s"), the same three for tokens, and on a refusal `retry-after` (whole seconds)
and `retry-after-ms`, which the openai SDK reads to wait before its retry.

`limiter_for(ctx)` is the limiter of an AppContext: the request path calls `check_request(principal)`
before the policy decision and `charge(principal, usage.total_tokens)` once a completion is done.

Simplification: the buckets live in process memory (one server process, as `openrft serve` runs); a
restart refills every bucket, and several server processes would each allow the full rate.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from openrft.auth.keys import Principal
from openrft.errors import RateLimited

SECONDS_PER_MINUTE = 60.0


def duration_text(seconds: float) -> str:
    """A duration as OpenAI's headers write it (Go's time.Duration): "0s", "120ms", "1.5s", "6m0s"."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000 - 1e-9))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass
class Bucket:
    """`level` units as of `updated_s` (may be negative after a charge); refills `limit` a minute."""

    limit: int
    level: float
    updated_s: float

    @property
    def rate_per_s(self) -> float:
        return self.limit / SECONDS_PER_MINUTE

    def refill(self, now_s: float) -> None:
        elapsed = max(0.0, now_s - self.updated_s)
        self.level = min(float(self.limit), self.level + elapsed * self.rate_per_s)
        self.updated_s = now_s

    def wait_s(self, units: float) -> float:
        """Seconds until the bucket holds `units` (0 if it does now)."""
        return max(0.0, (units - self.level) / self.rate_per_s)

    def headers(self, kind: str) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{kind}": str(self.limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(self.level + 1e-9))),
            f"x-ratelimit-reset-{kind}": duration_text(self.wait_s(self.limit)),
        }


class RateLimiter:
    """The buckets of every limited key in this process; thread-safe. `clock`: monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def _bucket(self, key_id: str, kind: str, limit: int, now_s: float) -> Bucket:
        bucket = self._buckets.get((key_id, kind))
        if bucket is None:
            bucket = self._buckets[(key_id, kind)] = Bucket(limit=limit, level=float(limit), updated_s=now_s)
        elif bucket.limit != limit:  # the key's limit changed: keep what was used, within the new limit
            bucket.refill(now_s)
            bucket.level = min(float(limit), bucket.level - bucket.limit + limit)
            bucket.limit = limit
        bucket.refill(now_s)
        return bucket

    def check_request(self, principal: Principal, *, requested_tokens: int = 1) -> dict[str, str]:
        """Take one request from `principal`'s allowance; the x-ratelimit-* headers of the answer.

        Raises RateLimited (with the headers and retry-after) when the requests bucket is empty or the
        tokens bucket holds less than `requested_tokens`; a refused request takes nothing.
        """
        if principal.rpm_limit is None and principal.tpm_limit is None:
            return {}
        with self._lock:
            now = self._clock()
            requests = tokens = None
            if principal.rpm_limit is not None:
                requests = self._bucket(principal.key_id, "requests", principal.rpm_limit, now)
            if principal.tpm_limit is not None:
                tokens = self._bucket(principal.key_id, "tokens", principal.tpm_limit, now)
            refusal = None
            if requests is not None and requests.level < 1:
                refusal = _refusal(principal.key_id, "requests per minute (RPM)", requests, 1)
            elif tokens is not None and tokens.level < min(requested_tokens, tokens.limit):
                # A request asking for more than a minute's tokens waits for a full bucket, not forever.
                refusal = _refusal(principal.key_id, "tokens per minute (TPM)", tokens, requested_tokens)
            if requests is not None and refusal is None:
                requests.level -= 1
            headers = _headers(requests, tokens)
        if refusal is not None:
            message, wait_s = refusal
            raise RateLimited(message, headers={**headers, **_retry_after(wait_s)})
        return headers

    def charge(self, principal: Principal, tokens: int) -> None:
        """Charge `tokens` (a completion's usage.total_tokens) to `principal`'s tokens bucket, if limited."""
        if principal.tpm_limit is None or tokens <= 0:
            return
        with self._lock:
            bucket = self._bucket(principal.key_id, "tokens", principal.tpm_limit, self._clock())
            bucket.level -= tokens


# By id: an AppContext is an eq dataclass, so unhashable; the entry goes when its owner does.
_LIMITERS: dict[int, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(owner: object) -> RateLimiter:
    """The one limiter of `owner` (the process's Store), made on first use and gone with it."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(id(owner))
        if limiter is None:
            limiter = _LIMITERS[id(owner)] = RateLimiter()
            weakref.finalize(owner, _forget, id(owner))
        return limiter


def _forget(owner_id: int) -> None:
    with _LIMITERS_LOCK:
        _LIMITERS.pop(owner_id, None)


def _headers(requests: Bucket | None, tokens: Bucket | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if requests is not None:
        headers |= requests.headers("requests")
    if tokens is not None:
        headers |= tokens.headers("tokens")
    return headers


def _refusal(key_id: str, what: str, bucket: Bucket, requested: int) -> tuple[str, float]:
    wait_s = bucket.wait_s(min(requested, bucket.limit))
    used = math.ceil(bucket.limit - bucket.level - 1e-9)  # over the limit after a large charge
    message = (
        f"Rate limit reached for {what} on key {key_id}: Limit {bucket.limit}, Used {used}, "
        f"Requested {requested}. Please try again in {duration_text(wait_s)}."
    )
    return message, wait_s


def _retry_after(wait_s: float) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(wait_s - 1e-9))),
        "retry-after-ms": str(max(1, math.ceil(wait_s * 1000 - 1e-9))),
    }
