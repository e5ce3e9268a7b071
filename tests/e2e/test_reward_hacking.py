"""The reward-hacking monitor on real runs of the bundled model (examples/reward_hacking/run.py).

Each deliberately hackable reward must trip its own detector; the quickstart's honest reward must trip
none over its whole run. Slow (minutes per case on a CPU): `pytest -m slow tests/e2e/test_reward_hacking.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"length": "length_drift", "constant": "collapse", "trivial_component": "component_dominance"}


def run_cases(tmp_path: Path, *cases: str) -> dict[str, dict]:
    out = tmp_path / "results.json"
    command = [sys.executable, str(ROOT / "examples" / "reward_hacking" / "run.py"), "--out", str(out)]
    command += ["--home", str(tmp_path / "home"), *(a for c in cases for a in ("--case", c))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=5400, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return {r["case"]: r for r in json.loads(out.read_text())}


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_hackable_reward_trips_its_detector(tmp_path: Path, case: str) -> None:
    result = run_cases(tmp_path, case)[case]
    assert result["status"] == "succeeded"
    assert EXPECTED[case] in {w["signal"] for w in result["warnings"]}, result["warnings"]


@pytest.mark.slow
@pytest.mark.real_model
def test_the_quickstarts_honest_reward_trips_nothing(tmp_path: Path) -> None:
    result = run_cases(tmp_path, "honest")["honest"]
    assert result["status"] == "succeeded"
    assert result["warnings"] == []


@pytest.mark.slow
@pytest.mark.real_model
def test_the_banking_reward_version_1_is_flagged(tmp_path: Path) -> None:
    result = run_cases(tmp_path, "banking_v1")["banking_v1"]
    assert result["warnings"], "the keyword-stuffing run went unflagged"
