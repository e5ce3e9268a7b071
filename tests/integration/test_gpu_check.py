"""bench/gpu_check.py's whole path, with its tiny settings on a tiny random model: what a GPU session will run.

The check runs in this process; its figures come back through `--json` (pytest's capsys does not survive a
server started inside the test).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from bench import gpu_check

from tests.inference.tiny import build_tiny_model


def run_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    base = build_tiny_model(tmp_path / "tiny", context=512)  # the quickstart's prompts are long in its vocabulary
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the check's homes
    monkeypatch.setenv("OPENRFT_HOME", str(tmp_path / "home"))  # restored after: the check sets both
    monkeypatch.setenv("OPENRFT_ADMIN_KEY", gpu_check.ADMIN_KEY)
    figures_file = tmp_path / "figures.json"
    assert gpu_check.main(["--tiny", "--base", str(base), "--json", str(figures_file), *args]) == 0
    assert not any(tmp_path.glob("openrft-gpu-check-*"))  # its home is removed
    figures: dict[str, Any] = json.loads(figures_file.read_text())
    assert figures["plan"] == "tiny" and figures["device"]["device"] == str(gpu_check.hardware.device())
    return figures


def test_the_gpu_check_runs_a_job_and_both_benchmarks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = run_check(tmp_path, monkeypatch, "--reward", "builtin")  # no sandbox needed
    job = figures["rft_job"]
    assert job["reward"] == "multi"
    assert job["steps"] == 2 and job["job_wall_s"] > 0 and job["s_per_step"] > 0  # 8 rows / batch 4, 1 epoch
    assert 0 <= job["held_out_reward_base"] <= 1 and 0 <= job["held_out_reward_fine_tuned"] <= 1
    trainer = figures["trainer"]
    assert trainer["steps_per_s"] > 0 and trainer["gen_tok_per_s"] > 0 and trainer["train_tok_per_s"] > 0
    assert [r["concurrency"] for r in figures["serving"]] == [1, 4]
    assert all(0 < r["tokens"] <= 8 * r["concurrency"] and r["agg_tok_per_s"] > 0 for r in figures["serving"])
    assert figures["wall_s"] > 0 and figures["within_limit"] is None  # the tiny settings have no time limit


def test_the_job_is_graded_by_the_quickstarts_reward_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openrft.functions.limits import detect_mode

    if detect_mode()[0] == "unavailable":
        pytest.skip("no sandbox for the reward function")
    job = run_check(tmp_path, monkeypatch, "--parts", "rft_job", "--reward", "lambda")["rft_job"]
    assert job["reward"] == "lambda" and job["steps"] == 2
    assert 0 <= job["held_out_reward_base"] <= 1 and 0 <= job["held_out_reward_fine_tuned"] <= 1


def test_parts_run_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = run_check(tmp_path, monkeypatch, "--parts", "serving")
    assert figures["rft_job"] == {} and figures["trainer"] == {} and len(figures["serving"]) == 2
    with pytest.raises(SystemExit):
        gpu_check.main(["--parts", "serving,training"])  # no part is called "training"
