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


def test_an_expired_session_sends_the_browser_back_to_sign_in_and_then_to_the_page(console: Console) -> None:
    import sqlalchemy as sa

    from openrft.store import schema
    from openrft.store.db import Store

    store = Store.from_settings(console.flow.settings)
    with store.begin() as conn:
        conn.execute(sa.update(schema.console_sessions).values(expires_at=1))
    store.dispose()
    page = console.page
    console.goto("/account")
    page.wait_for_url(re.compile(r"/signin\?next=%2Faccount"))  # type: ignore[attr-defined]
    assert "expired" in page.get_by_role("status").inner_text()  # type: ignore[attr-defined]
    console.shot("expired")
    page.get_by_label("API key").fill(console.flow.admin_key)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/account$"))  # type: ignore[attr-defined]
    assert "Your session" in page.inner_text("main")  # type: ignore[attr-defined]
    console.shot("account")
