"""Sign-in, sign-out and the refusals, in a real browser."""

from __future__ import annotations

import re

from tests.browser.conftest import Console


def test_sign_in_with_a_wrong_key_is_refused_on_the_form(console: Console) -> None:
    page = console.page
    console.page.context.clear_cookies()  # type: ignore[attr-defined]
    console.sign_in("sk-rft-not-a-key-0000000000000000")
    alert = page.get_by_role("alert")  # type: ignore[attr-defined]
    assert "Incorrect API key" in alert.inner_text()
    console.shot("wrong-key")


def test_sign_out_ends_the_session(console: Console) -> None:
    page = console.page
    page.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/signin"))  # type: ignore[attr-defined]
    assert "You signed out" in page.inner_text("main")  # type: ignore[attr-defined]
    console.goto("/jobs")
    page.wait_for_url(re.compile(r"/signin\?next=%2Fjobs"))  # type: ignore[attr-defined]
    console.shot("signed-out")
