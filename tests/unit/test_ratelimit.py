"""Token buckets for requests and tokens per minute, on a fake clock, numbers worked by hand."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

import pytest

from openrft.auth.keys import Principal
from openrft.auth.ratelimit import RateLimiter, duration_text, limiter_for
from openrft.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def key(rpm: int | None = None, tpm: int | None = None, key_id: str = "key_abc") -> Principal:
    return Principal(key_id=key_id, project_id="proj_x", is_admin=False, rpm_limit=rpm, tpm_limit=tpm)


def test_duration_text_as_openai_writes_it() -> None:
    assert duration_text(0) == "0s"
    assert duration_text(-1) == "0s"
    assert duration_text(0.12) == "120ms"
    assert duration_text(0.0004) == "1ms"
    assert duration_text(1) == "1s"
    assert duration_text(1.5) == "1.5s"
    assert duration_text(12) == "12s"
    assert duration_text(60) == "1m0s"
    assert duration_text(360) == "6m0s"
    assert duration_text(90.25) == "1m30.25s"


def test_unlimited_key_has_no_headers() -> None:
    limiter = RateLimiter(Clock())
    assert limiter.check_request(key()) == {}
    limiter.charge(key(), 10_000)  # nothing to charge
    assert limiter.check_request(key()) == {}


def test_requests_bucket_refill_arithmetic() -> None:
    # rpm 5: a burst of 5, then one request every 60/5 = 12 s.
    clock = Clock()
    limiter = RateLimiter(clock)
    principal = key(rpm=5)
    first = limiter.check_request(principal)
    assert first == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-reset-requests": "12s",  # 1 unit short of full, at 1/12 a second
    }
    for remaining in (3, 2, 1, 0):
        assert limiter.check_request(principal)["x-ratelimit-remaining-requests"] == str(remaining)
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal)
    refusal = caught.value
    assert refusal.message == (
        "Rate limit reached for requests per minute (RPM) on key key_abc: Limit 5, Used 5, Requested 1. "
        "Please try again in 12s."
    )
    assert refusal.headers == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",  # 5 units at 1/12 a second
        "retry-after": "12",
        "retry-after-ms": "12000",
    }
    # 3 s later: 0.25 of a request back, still refused, 9 s to wait; the refusal took nothing.
    clock.now_s += 3
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal)
    assert caught.value.headers["retry-after-ms"] == "9000"
    assert caught.value.headers["x-ratelimit-reset-requests"] == "57s"
    assert caught.value.message.endswith("Please try again in 9s.")
    # 9 s more: exactly 1 unit; admitted, back to 0.
    clock.now_s += 9
    assert limiter.check_request(principal)["x-ratelimit-remaining-requests"] == "0"
    # A long idle time refills to the limit, never above it.
    clock.now_s += 3600
    assert limiter.check_request(principal)["x-ratelimit-remaining-requests"] == "4"


def test_sub_second_retry() -> None:
    # rpm 600: 10 a second, one every 100 ms.
    clock = Clock()
    limiter = RateLimiter(clock)
    principal = key(rpm=600)
    for _ in range(600):
        limiter.check_request(principal)
    clock.now_s += 0.02  # 0.2 of a request back: 80 ms to wait
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal)
    assert caught.value.headers["retry-after-ms"] == "80"
    assert caught.value.headers["retry-after"] == "1"  # whole seconds, at least 1
    assert caught.value.message.endswith("Please try again in 80ms.")


def test_tokens_are_charged_after_and_checked_before() -> None:
    # tpm 600: refills 10 tokens a second.
    clock = Clock()
    limiter = RateLimiter(clock)
    principal = key(tpm=600)
    assert limiter.check_request(principal) == {
        "x-ratelimit-limit-tokens": "600",
        "x-ratelimit-remaining-tokens": "600",
        "x-ratelimit-reset-tokens": "0s",
    }
    limiter.charge(principal, 450)  # the completion used 450 tokens: 150 left
    headers = limiter.check_request(principal)
    assert headers["x-ratelimit-remaining-tokens"] == "150"
    assert headers["x-ratelimit-reset-tokens"] == "45s"  # 450 tokens at 10 a second
    limiter.charge(principal, 250)  # 150 - 250 = -100: the next request waits for 101 tokens
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal)
    assert caught.value.message == (
        "Rate limit reached for tokens per minute (TPM) on key key_abc: Limit 600, Used 700, Requested 1. "
        "Please try again in 10.1s."
    )
    assert caught.value.headers["x-ratelimit-remaining-tokens"] == "0"
    assert caught.value.headers["retry-after"] == "11"
    assert caught.value.headers["retry-after-ms"] == "10100"
    clock.now_s += 10.1
    assert limiter.check_request(principal)["x-ratelimit-remaining-tokens"] == "1"
    # An estimate: a request asking 200 tokens waits until the bucket holds 200 (19.9 s more).
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal, requested_tokens=200)
    assert caught.value.headers["retry-after-ms"] == "19900"
    # Asking more than a minute's worth waits for a full bucket, not forever: 599 tokens short, 59.9 s.
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal, requested_tokens=5000)
    assert caught.value.headers["retry-after-ms"] == "59900"


def test_both_limits_and_the_tokens_refusal_takes_no_request() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    principal = key(rpm=2, tpm=100)
    headers = limiter.check_request(principal)
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-reset-requests"] == "30s"
    assert headers["x-ratelimit-remaining-tokens"] == "100"
    limiter.charge(principal, 100)
    with pytest.raises(RateLimited) as caught:
        limiter.check_request(principal)
    assert "tokens per minute (TPM)" in caught.value.message
    assert caught.value.headers["x-ratelimit-remaining-requests"] == "1"  # not taken by the refusal
    assert caught.value.headers["retry-after-ms"] == "600"  # 1 token at 100/60 a second
    clock.now_s += 0.6
    assert limiter.check_request(principal)["x-ratelimit-remaining-requests"] == "0"


def test_keys_have_their_own_buckets_and_a_changed_limit_keeps_the_usage() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limiter.check_request(key(rpm=1, key_id="key_a"))
    with pytest.raises(RateLimited):
        limiter.check_request(key(rpm=1, key_id="key_a"))
    assert limiter.check_request(key(rpm=1, key_id="key_b"))["x-ratelimit-remaining-requests"] == "0"
    # key_a's limit raised to 3: one used of 3, so 2 left before this request, 1 after.
    assert limiter.check_request(key(rpm=3, key_id="key_a"))["x-ratelimit-remaining-requests"] == "1"


def test_thread_safe_under_contention() -> None:
    limiter = RateLimiter(Clock())  # the clock stands still: exactly 50 admitted
    principal = key(rpm=50)
    admitted: list[int] = []

    def hammer() -> None:
        for _ in range(20):
            try:
                limiter.check_request(principal)
                admitted.append(1)
            except RateLimited:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 50


def test_one_limiter_per_owner_even_unhashable() -> None:
    @dataclass
    class Owner:  # like AppContext: an eq dataclass, so unhashable
        name: str

    first, second = Owner("a"), Owner("a")
    assert limiter_for(first) is limiter_for(first)
    assert limiter_for(first) is not limiter_for(second)
    limiter_for(first).check_request(key(rpm=1))
    del first
    gc.collect()
    third = Owner("a")  # may reuse the id of the first: it must not inherit its buckets
    assert limiter_for(third).check_request(key(rpm=1))["x-ratelimit-remaining-requests"] == "0"
