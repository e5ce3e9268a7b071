"""Routes of the functions API (being built)."""

from fastapi import APIRouter

router = APIRouter()
