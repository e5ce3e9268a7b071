"""Routes of the files API (being built)."""

from fastapi import APIRouter

router = APIRouter()
