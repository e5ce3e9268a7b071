"""Accessibility basics on every page: each control has a name, the keyboard reaches the controls,
and the console's colours are readable (WCAG AA contrast, computed from console.css)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Console
from tests.e2e.conftest import TINY_BASE, wait_for

# Controls a person or a screen reader can't name: no label, aria-label, aria-labelledby, title or text.
UNNAMED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, a[href]'))
  .filter(e => e.offsetParent !== null)
  .filter(e => {
    const named = e.getAttribute('aria-label') || e.getAttribute('title') || e.getAttribute('placeholder') ||
      (e.labels && Array.from(e.labels).some(l => l.textContent.trim())) ||
      (e.getAttribute('aria-labelledby') || '').split(' ')
        .some(id => document.getElementById(id)?.textContent.trim()) ||
      e.textContent.trim() || e.querySelector('img[alt]');
    return !named;
  })
  .map(e => e.outerHTML.slice(0, 160))"""


def test_every_page_names_its_controls_and_tabs_through_them(console: Console) -> None:
    flow = console.flow
    project = flow.project("a11y")
    client = flow.client(project)
    deployed = flow.deploy_reward(project)
    job = flow.create_job(client, deployed, model=TINY_BASE, n_train=4)
    done = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=180, what="the job to succeed")
    file_id = client.files.list().data[0].id
    page: Any = console.page
    page.context.clear_cookies()
    console.sign_in(project.secret)
    page.wait_for_url(re.compile(r"/jobs$"))

    paths = [
        "/jobs",
        f"/jobs/{job.id}",
        f"/jobs/{job.id}/samples",
        f"/jobs/{job.id}/checkpoints",
        f"/jobs/{job.id}/validation",
        f"/playground?model={done.fine_tuned_model}",
        "/evals",
        "/reviews",
        "/functions",
        f"/functions/{deployed.name}",
        "/files",
        f"/files/{file_id}",
        "/account",
    ]
    for path in paths:
        console.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNNAMED) == [], path
        assert page.locator("h1").count() >= 1, path  # a page says what it is
        reached = []
        for _ in range(6):  # the keyboard gets to the page's controls from the top
            page.keyboard.press("Tab")
            reached.append(page.evaluate("() => document.activeElement?.tagName"))
        assert {"A", "BUTTON", "INPUT", "SELECT"} & set(reached), (path, reached)
    page.context.clear_cookies()
    console.sign_in(flow.admin_key)
    page.wait_for_url(re.compile(r"/jobs$"))
    for path in ("/jobs", "/admin", f"/admin/projects/{project.id}"):  # with the admin's project switcher
        console.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNNAMED) == [], path
    page.context.clear_cookies()
    console.goto("/signin")
    assert page.evaluate(UNNAMED) == []


CSS = Path(__file__).resolve().parents[2] / "src/openrft/api/console/static/console.css"


def luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_by_hand() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)  # (1 + 0.05) / (0 + 0.05)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("fg", "bg"),
    [
        ("--fg", "--bg"),
        ("--muted", "--bg"),
        ("--muted", "--panel"),
        ("--accent", "--bg"),
        ("--accent-fg", "--accent"),
        ("--ok", "--ok-bg"),
        ("--danger", "--error-bg"),
        ("--warn", "--warn-bg"),
        ("--fg", "--panel"),
    ],
)
def test_the_palette_meets_wcag_aa_for_text(fg: str, bg: str) -> None:
    colours = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))
    assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, colours[fg], bg, colours[bg])
