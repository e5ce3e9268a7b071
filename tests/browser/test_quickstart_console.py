"""`openrft quickstart` as a user meets the console: the printed URL and key open the job's page, with
its curve, its samples and the base-vs-fine-tuned playground (a tiny model, so it runs in CI)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openrft.inference import registry
from openrft.settings import Settings
from openrft.store.db import Store
from tests.browser.conftest import Console, shots_dir
from tests.e2e.test_quickstart import TINY_HYPERPARAMETERS
from tests.inference.tiny import build_tiny_model

CONSOLE_LINE = re.compile(
    r"Watch it in the console: (http://127\.0\.0\.1:\d+)(/jobs/ftjob-\w+) .*project key (sk-rft-\S+)"
)


@pytest.fixture
def quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """The quickstart on a tiny model in its own process, kept serving after the run; its output lines."""
    home = tmp_path / "home"
    monkeypatch.delenv("OPENRFT_ADMIN_KEY", raising=False)
    settings = Settings(home=home)
    store = Store.from_settings(settings)
    registry.add_base_model(store, settings, "tiny", build_tiny_model(tmp_path / "tiny", context=512))
    store.dispose()
    hp = TINY_HYPERPARAMETERS | {"n_epochs": 2, "eval_interval": 8}
    command = [str(Path(sys.executable).parent / "openrft"), "quickstart", "--home", str(home), "--model", "tiny"]
    command += ["--compare-rows", "2", "--hyperparameters", json.dumps(hp), "--keep-serving"]
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "OPENRFT_HOME": str(home)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    yield process, lines
    process.terminate()
    process.wait(timeout=60)


def read_until(process: subprocess.Popen[str], lines: list[str], pattern: re.Pattern[str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail("the quickstart ended before printing it:\n" + "".join(lines))
        lines.append(line)
        if pattern.search(line):
            return line
    pytest.fail(f"no line matched {pattern.pattern} within {timeout_s} s:\n" + "".join(lines))


def test_the_quickstart_prints_a_console_url_that_shows_its_job(
    quickstart: tuple[subprocess.Popen[str], list[str]], tab: object, request: pytest.FixtureRequest
) -> None:
    process, lines = quickstart
    base_url, job_path, key = CONSOLE_LINE.search(read_until(process, lines, CONSOLE_LINE, 300)).groups()  # type: ignore[union-attr]
    page = tab
    console = Console(flow=None, page=page, shots=shots_dir(request))  # type: ignore[arg-type]
    page.goto(base_url + job_path)  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/signin\?next="))  # type: ignore[attr-defined]
    page.get_by_label("API key").fill(key)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(re.escape(job_path) + "$"))  # type: ignore[attr-defined]
    points = "() => Number(document.querySelector('#chart-reward')?.dataset.points || 0)"
    page.wait_for_function(points + " >= 1", timeout=300_000)  # type: ignore[attr-defined]  # live: no reload
    console.shot("job")

    page.goto(base_url + job_path + "/samples?step=1")  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelector('#samples-status').textContent.startsWith('Step 1:')")  # type: ignore[attr-defined]
    assert page.get_by_text("advantage").count() > 0  # type: ignore[attr-defined]
    console.shot("samples")

    read_until(process, lines, re.compile(r"The console stays up at"), 600)  # trained, compared
    model = re.search(r"Fine-tuned model: (ft:tiny:\S+)", "".join(lines))
    assert model, "".join(lines)
    page.goto(base_url + job_path)  # type: ignore[attr-defined]
    page.get_by_role("link", name="Playground: base vs fine-tuned").click()  # type: ignore[attr-defined]
    assert page.get_by_label("Left model").input_value() == "tiny"  # type: ignore[attr-defined]
    assert page.get_by_label("Right model").input_value() == model.group(1)  # type: ignore[attr-defined]
    page.get_by_label("Prompt (Ctrl+Enter sends)").fill("My parcel never arrived.")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Send to both").click()  # type: ignore[attr-defined]
    for side in ("left", "right"):
        page.locator(f"#answer-{side}[data-done='true']").wait_for(timeout=60_000)  # type: ignore[attr-defined]
        assert page.locator(f"#answer-{side} [data-out]").inner_text().strip()  # type: ignore[attr-defined]
    console.shot("playground")
