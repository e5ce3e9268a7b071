"""`openrft quickstart`, the README's main command, run whole through its CLI entry point.

The fast test trains a tiny random model so the flow (key, reward deploy, upload, preflight, job,
progress, comparison, usage) is checked in every CI run; the slow one is the real thing on SmolLM2.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from openrft.inference import registry
from openrft.settings import Settings
from openrft.store.db import Store
from tests.inference.tiny import build_tiny_model

TINY_HYPERPARAMETERS = {
    "batch_size": 4,
    "samples_per_prompt": 2,
    "max_completion_tokens": 4,
    "eval_interval": 16,
    "eval_samples": 4,
    "n_epochs": 1,
}


def run_quickstart(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The console script in a process of its own, as a user runs it (wide terminal: no wrapped lines)."""
    command = [str(Path(sys.executable).parent / "openrft"), "quickstart", *args]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, check=False)


def test_quickstart_flow_on_a_tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("OPENRFT_HOME", str(home))
    monkeypatch.delenv("OPENRFT_ADMIN_KEY", raising=False)
    settings = Settings(home=home)
    model_dir = build_tiny_model(tmp_path / "tiny", context=512)
    store = Store.from_settings(settings)
    registry.add_base_model(store, settings, "tiny", model_dir)
    store.dispose()

    result = run_quickstart(
        [
            "--home",
            str(home),
            "--model",
            "tiny",
            "--compare-rows",
            "2",
            "--hyperparameters",
            json.dumps(TINY_HYPERPARAMETERS),
        ],
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Deployed reward function ticket-triage-reward version 1" in out
    assert re.search(
        r"Watch it in the console: http://127\.0\.0\.1:\d+/jobs/ftjob-\w+ .*Sign in with the project key sk-rft-", out
    )
    assert "Preflight" in out and "no learning signal" in out
    assert re.search(r"Step 32/32, train mean reward=", out)  # 128 prompts / batch 4, one epoch
    assert "The job has successfully completed" in out
    model = re.search(r"Fine-tuned model: (ft:tiny:\S+)", out)
    assert model and model.group(1).endswith(":ticket-triage:" + model.group(1).split(":")[-1])
    assert "Base vs fine-tuned" in out and "mean reward" in out
    assert re.search(r"openrft evals compare evalrun_\w+ evalrun_\w+ --eval eval_\w+", out)  # the comparison is an eval
    assert "client.chat.completions.create(" in out and "curl http://127.0.0.1:8000/v1/chat/completions" in out


@pytest.mark.slow
@pytest.mark.real_model
def test_quickstart_for_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's command as a user runs it: SmolLM2, default settings, a reward gain at the end."""
    monkeypatch.setenv("OPENRFT_HOME", str(tmp_path / "home"))
    result = run_quickstart(["--home", str(tmp_path / "home")])
    assert result.returncode == 0, result.stdout + result.stderr
    rows = dict(re.findall(r"(smollm2-135m-instruct|ft:smollm2-135m-instruct\S*)\s*[│|]\s*([0-9.]+)", result.stdout))
    base = float(rows["smollm2-135m-instruct"])
    tuned = float(next(v for k, v in rows.items() if k.startswith("ft:")))
    assert tuned > base
