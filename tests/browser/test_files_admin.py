"""Files and admin pages in the browser: a file's rows paged; an admin creates a project and a key
whose secret is shown once and works; a project key is refused the admin pages."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai

from openrft.store.blobs import BlobStore
from tests.browser.conftest import Console

LONG_ROW = 2  # 0-based index of the row whose prompt is long enough to start collapsed


def training_rows(n: int) -> bytes:
    rows = []
    for i in range(n):
        text = f"question {i} " + ("and more words " * 300 if i == LONG_ROW else "")
        rows.append(json.dumps({"messages": [{"role": "user", "content": text.strip()}], "answer": str(i)}))
    return ("\n".join(rows) + "\n").encode()


def test_file_rows_are_paged(console: Console) -> None:
    project = console.flow.project("files-ui")
    client = console.flow.client(project)
    uploaded = client.files.create(file=("train.jsonl", training_rows(45)), purpose="fine-tune")
    # Uploads are validated, so a line that is not JSON only comes from the bytes changing on disk.
    blob = BlobStore(console.flow.settings.blobs_dir).path(f"files/{uploaded.id}")
    blob.write_bytes(blob.read_bytes() + b"this line is {not json\n")
    console.sign_in(project.secret)
    page: Any = console.page

    console.goto("/files")
    row = page.locator(f'#files-table tr[data-file="{uploaded.id}"]')
    assert "train.jsonl" in row.inner_text() and "fine-tune" in row.inner_text()
    console.shot("files")
    row.get_by_role("link", name="train.jsonl").click()
    page.wait_for_url(f"**/files/{uploaded.id}")
    lines = page.locator("section.file-row").evaluate_all("els => els.map(e => Number(e.dataset.line))")
    assert lines == list(range(1, 21))
    first = json.loads(page.locator('section.file-row[data-line="1"] pre').inner_text())
    assert first == {"messages": [{"role": "user", "content": "question 0"}], "answer": "0"}
    long_row = page.locator(f'section.file-row[data-line="{LONG_ROW + 1}"] details')
    assert long_row.get_attribute("open") is None and "long row" in long_row.inner_text()
    assert "lines 1\u201320 of 46" in page.inner_text("main")
    console.shot("file-first-page")

    page.get_by_role("link", name="Next 20 →").first.click()
    page.wait_for_url("**start=20**")
    assert page.locator("section.file-row").first.get_attribute("data-line") == "21"
    page.get_by_role("link", name="← Previous 20").first.click()
    page.wait_for_url("**start=0**")
    page.get_by_role("link", name="Last").first.click()
    bad = page.locator('section.file-row[data-line="46"]')
    assert "not JSON" in bad.inner_text() and "this line is {not json" in bad.inner_text()
    assert "lines 41\u201346 of 46" in page.inner_text("main")
    console.shot("file-last-page")
    page.get_by_label("From line").fill("30")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**line=30**")
    assert page.locator("section.file-row").first.get_attribute("data-line") == "30"


def test_admin_creates_a_project_and_a_key_shown_once(console: Console) -> None:
    page: Any = console.page
    console.goto("/admin")
    console.shot("admin")
    page.get_by_label("Project name").fill("Legal team")
    page.get_by_role("button", name="Create project").click()
    row = page.locator("#projects-table tbody tr").filter(has_text="Legal team")
    row.wait_for()
    project_id = row.get_attribute("data-project")
    console.shot("admin-project-created")
    row.get_by_role("link", name="Keys").click()
    page.wait_for_url(f"**/admin/projects/{project_id}")
    page.get_by_label("Name (who or what uses it)").fill("alice-laptop")
    page.get_by_role("button", name="Create key").click()
    secret_box = page.locator("#new-secret")
    secret_box.wait_for()
    assert "You will not see this secret again" in secret_box.inner_text()
    secret = page.get_by_label("Secret of the new key").input_value()
    assert secret.startswith("sk-rft-")
    page.locator("#keys-table tbody tr").filter(has_text="alice-laptop").wait_for()
    console.shot("admin-key-created")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.base_url)
    page.get_by_role("button", name="Copy").click()
    page.locator("#toast").filter(has_text="Secret copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    client = openai.OpenAI(base_url=console.flow.v1, api_key=secret, max_retries=0)
    assert client.files.list().data == []  # the secret works, in its own (empty) project
    uploaded = client.files.create(file=("a.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n'),
                                   purpose="fine-tune")  # fmt: skip
    assert client.files.retrieve(uploaded.id).id == uploaded.id

    page.reload()  # shown once: a fresh rendering has no secret in it
    assert secret not in page.content() and page.locator("#new-secret").is_hidden()
    key_row = page.locator("#keys-table tbody tr").filter(has_text="alice-laptop")
    key_id = key_row.get_attribute("data-key")
    assert secret[:8] in key_row.inner_text()  # the redacted form only
    key_row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    assert "Revoke key alice-laptop" in dialog.inner_text()
    console.shot("admin-revoke-confirm")
    dialog.get_by_role("button", name="Revoke key").click()
    page.locator(f'#keys-table tr[data-key="{key_id}"]').wait_for(state="detached")
    console.shot("admin-key-revoked")
    try:
        client.files.list()
        raise AssertionError("a revoked key still works")
    except openai.AuthenticationError:
        pass

    console.goto("/admin")
    page.locator(f'tr[data-project="{project_id}"]').get_by_role("button", name="Archive").click()
    page.get_by_role("dialog").get_by_role("button", name="Archive project").click()
    page.locator(f'tr[data-project="{project_id}"]').filter(has_text="archived").wait_for()
    console.shot("admin-archived")


def test_a_project_key_gets_the_refusal_page_on_admin(console: Console) -> None:
    project = console.flow.project("not-admin")
    console.sign_in(project.secret)
    page: Any = console.page
    page.wait_for_url(re.compile(r"/jobs"))
    assert page.get_by_role("link", name="Admin", exact=True).count() == 0  # no admin link in the nav
    response = page.goto(console.base_url + "/admin")
    assert response.status == 403
    assert "Not allowed" in page.inner_text("main") and "admin key" in page.inner_text("main")
    console.shot("admin-refused")
    assert page.goto(console.base_url + "/admin/projects/proj_default").status == 403
    api = httpx.get(console.flow.v1 + "/organization/projects", headers={"Authorization": f"Bearer {project.secret}"})
    assert api.status_code == 403  # the API the page scripts call refuses it too
