"""Console pages: files (being written)."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.api.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
