"""Routes of the organization API (being built)."""

from fastapi import APIRouter

router = APIRouter()
