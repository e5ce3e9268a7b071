"""Browser fixtures: a real server with its worker and the tiny base model, driven by Debian's Chromium.

Playwright for Python launches `/usr/bin/chromium` (apt package `chromium`) by executable path: nothing
is downloaded. `.ci/run` installs it; on a machine without it the tests skip, except under CI, where a
missing browser is a failure rather than a silent skip.

Each test's screenshots go to `test-output/browser/<test name>/` at the repository root (git-ignored),
so a person can look at every page the tests saw.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Flow, flow, tiny_base_dir  # noqa: F401  (fixtures re-exported for these tests)

CHROMIUM = Path(os.environ.get("OPENRFT_CHROMIUM", "/usr/bin/chromium"))
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an asyncio loop running
    in this thread while it is open, and later modules' asyncio.run() would then fail."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Console:
    """A signed-in browser tab on the console, and the server's workflow helpers."""

    flow: Flow
    page: object  # playwright Page
    shots: Path

    @property
    def base_url(self) -> str:
        return self.flow.base_url

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)  # type: ignore[attr-defined]

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot of what the tab shows now; returns its path."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    def sign_in(self, key: str) -> None:
        self.goto("/signin")
        self.page.get_by_label("API key").fill(key)  # type: ignore[attr-defined]
        self.page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


def shots_dir(request: pytest.FixtureRequest) -> Path:
    folder = OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def tab(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context (no cookies) and a tab in it."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def console(flow: Flow, tab: object, request: pytest.FixtureRequest) -> Console:  # noqa: F811
    """The console signed in with the admin key (tests sign in with a project key themselves)."""
    c = Console(flow=flow, page=tab, shots=shots_dir(request))
    c.sign_in(flow.admin_key)
    return c
