"""`openrft doctor` reports the sandbox mode and runs a real sandboxed call."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openrft.cli.main import app
from openrft.functions.sandbox import SandboxPool, detect_mode
from openrft.settings import Settings


def test_doctor_reports_mode_and_runs_a_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENRFT_HOME", str(tmp_path))
    mode, _why = detect_mode()
    result = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert f"sandbox mode: {mode}" in result.output
    assert "numpy" in result.output
    if mode == "unavailable":
        assert result.exit_code == 1 and "refusing to run user code" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "sandbox call: ok" in result.output


def test_mode_from_settings(tmp_path: Path) -> None:
    pool = SandboxPool(Settings(home=tmp_path, sandbox_mode="unavailable"))
    try:
        assert pool.mode == "unavailable" and "forced by configuration" in pool.mode_reason
    finally:
        pool.close()
    with pytest.raises(ValueError, match="unknown sandbox mode"):
        SandboxPool(Settings(home=tmp_path, sandbox_mode="docker"))
