"""Routes of the models API (being built)."""

from fastapi import APIRouter

router = APIRouter()
