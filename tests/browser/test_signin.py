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
    assert "expired" in page.locator("p.notice").inner_text()  # type: ignore[attr-defined]
    console.shot("expired")
    page.get_by_label("API key").fill(console.flow.admin_key)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/account$"))  # type: ignore[attr-defined]
    assert "Your session" in page.inner_text("main")  # type: ignore[attr-defined]
    console.shot("account")


def test_the_admin_switches_project_and_sees_that_projects_files(console: Console) -> None:
    project = console.flow.project("tenant")
    uploaded = console.flow.client(project).files.create(file=("rows.jsonl", b'{"x": 1}\n'), purpose="evals")
    page = console.page
    console.goto("/files")
    assert uploaded.id not in page.inner_text("main")  # type: ignore[attr-defined]
    page.get_by_label("Project").select_option(project.id)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Switch").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/files$"))  # type: ignore[attr-defined]
    page.get_by_text(uploaded.id).wait_for()  # type: ignore[attr-defined]
    console.shot("switched")
    console.goto(f"/files/{uploaded.id}")  # the page's own API calls act in the chosen project too
    page.get_by_text('"x"').first.wait_for()  # type: ignore[attr-defined]


def test_a_project_key_has_no_switcher_and_cannot_post_one(console: Console) -> None:
    project = console.flow.project("tenant")
    page = console.page
    page.context.clear_cookies()  # type: ignore[attr-defined]
    console.sign_in(project.secret)
    page.wait_for_url(re.compile(r"/jobs"))  # type: ignore[attr-defined]
    assert page.get_by_label("Project").count() == 0  # type: ignore[attr-defined]
