"""Public identifiers in OpenAI's style: a type prefix and random base62 characters."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """`new_id("file-")` -> `file-3fZ...`; the prefix carries its own separator (OpenAI mixes - and _)."""
    return prefix + random_token(length)


def now_s() -> int:
    """Unix seconds, the unit of every `created_at` in the OpenAI API."""
    return int(time.time())
