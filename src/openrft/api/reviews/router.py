"""/v1/reviews: experts' ratings of completions and their agreement with the reward (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/reviews", tags=["reviews"])
