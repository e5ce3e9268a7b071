"""Routes of the chat API (being built)."""

from fastapi import APIRouter

router = APIRouter()
