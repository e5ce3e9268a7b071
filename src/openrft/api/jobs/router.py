"""Routes of the jobs API (being built)."""

from fastapi import APIRouter

router = APIRouter()
