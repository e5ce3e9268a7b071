"""Routes of the graders API (being built)."""

from fastapi import APIRouter

router = APIRouter()
