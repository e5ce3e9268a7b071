"""The `openrft` CLI, driven through Typer's CliRunner against a live server (no mocks of the API)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
from typer.testing import CliRunner

from openrft.api.server import free_port
from openrft.cli.main import app
from tests.conftest import LiveServer

GOOD = b'{"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": "4"}\n'
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}


@pytest.fixture
def cli(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `openrft ARGS...` against the live server with the admin key; returns the Result."""
    for name in ("OPENRFT_BASE_URL", "OPENRFT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str, key: str | None = None, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(
            app, ["--base-url", live_server.base_url, "--api-key", key or live_server.admin_key, *args]
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_projects_and_keys(cli) -> None:  # type: ignore[no-untyped-def]
    project = json.loads(cli("projects", "create", "team-a", "--json").stdout)
    assert project["id"].startswith("proj_")
    assert project["id"] in cli("projects", "list").stdout
    listed = json.loads(cli("projects", "list", "--json").stdout)
    assert {p["id"] for p in listed} == {"proj_default", project["id"]}

    created = cli("keys", "create", project["id"], "--name", "bot")
    secret = next(line for line in created.stdout.splitlines() if line.startswith("sk-rft-"))
    key_id = json.loads(cli("keys", "list", project["id"], "--json").stdout)[0]["id"]
    assert key_id in created.stdout
    assert secret not in cli("keys", "list", project["id"]).stdout

    # The new key works for project calls and is refused on admin ones.
    assert "Files" in cli("files", "list", key=secret).stdout
    denied = cli("projects", "list", key=secret, ok=False)
    assert denied.exit_code == 1 and "403" in denied.output

    cli("keys", "delete", project["id"], key_id)
    revoked = cli("files", "list", key=secret, ok=False)
    assert revoked.exit_code == 1 and "401" in revoked.output
    missing = cli("keys", "list", "proj_nope", ok=False)
    assert missing.exit_code == 1 and "404" in missing.output
    cli("projects", "archive", project["id"])
    assert [p["id"] for p in json.loads(cli("projects", "list", "--json").stdout)] == ["proj_default"]


def test_files_upload_list_delete(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "train.jsonl"
    good.write_bytes(GOOD * 3)
    uploaded = json.loads(cli("files", "upload", str(good), "--json").stdout)
    assert uploaded["bytes"] == len(GOOD) * 3 and uploaded["filename"] == "train.jsonl"
    assert uploaded["id"] in cli("files", "list").stdout
    assert [f["id"] for f in json.loads(cli("files", "list", "--json").stdout)] == [uploaded["id"]]

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(GOOD + b'{"messages": [{"role": "tool", "content": "4"}]}\n')  # ends no method's row
    result = cli("files", "upload", str(bad), ok=False)
    assert result.exit_code == 1
    assert "400" in result.output and "line 2" in result.output

    cli("files", "delete", uploaded["id"])
    assert json.loads(cli("files", "list", "--json").stdout) == []


def test_jobs_create_list_show_events_cancel(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    train = tmp_path / "train.jsonl"
    train.write_bytes(GOOD * 2)
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(GRADER))
    created = cli(
        "jobs", "create",
        "--model", "smollm2-135m-instruct",
        "--training-file", str(train),  # a local path is uploaded first
        "--grader-file", str(grader),
        "--hyperparameters", '{"n_epochs": 1}',
        "--suffix", "cli",
        "--json",
    )  # fmt: skip
    job = json.loads(created.stdout[created.stdout.index("{") :])
    assert job["id"].startswith("ftjob-") and job["method"]["type"] == "reinforcement"
    assert job["id"] in cli("jobs", "list").stdout
    assert json.loads(cli("jobs", "show", job["id"]).stdout)["id"] == job["id"]
    cli("jobs", "events", job["id"])
    assert "cancel" in cli("jobs", "cancel", job["id"]).stdout
    followed = cli("jobs", "events", job["id"], "--follow", "--interval", "0.1")
    assert "cancelled" in followed.stdout
    assert json.loads(cli("jobs", "events", job["id"], "--json").stdout)

    again = cli("jobs", "resume", job["id"], ok=False)
    assert again.exit_code == 1 and "400" in again.output
    bad_hp = cli("jobs", "create", "--model", "m", "--training-file", "file-x", "--grader-file", str(grader),
                 "--hyperparameters", "{not json", ok=False)  # fmt: skip
    assert bad_hp.exit_code == 2 and "not valid JSON" in bad_hp.output


def test_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["--base-url", "http://127.0.0.1:9", "--api-key", "k", "files", "list"])
    assert result.exit_code == 1 and "cannot reach the server" in result.output


def test_serve_warns_without_admin_key(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve` builds the real app and hands it to uvicorn; uvicorn.run is replaced to not block."""
    from openrft.settings import get_settings

    monkeypatch.delenv("OPENRFT_ADMIN_KEY")
    monkeypatch.setenv("OPENRFT_EMBEDDED_WORKER", "false")
    get_settings.cache_clear()
    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "8765"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert served["port"] == 8765 and served["host"] == "127.0.0.1"
    assert "OPENRFT_ADMIN_KEY is not set" in result.output


def _spawn(args: list[str], home: Path, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENRFT_")}
    environ.update(OPENRFT_HOME=str(home), **env)
    openrft = Path(sys.executable).with_name("openrft")
    return subprocess.Popen([str(openrft), *args], env=environ, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    process.send_signal(sig)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return process.returncode, stderr


def test_console_script_serve_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = _spawn(
        ["serve", "--port", str(port), "--no-worker"], tmp_path, OPENRFT_ADMIN_KEY="sk-admin-cli-0123456789"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "serve exited early"
            assert time.monotonic() < deadline, "serve did not answer"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-admin-cli-0123456789")
        assert client.files.list().data == []
    finally:
        code, stderr = _stop(process, signal.SIGINT)
    assert code == 0, stderr
    assert f"http://127.0.0.1:{port}/v1" in stderr


def test_console_script_worker_polls_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = _spawn(["worker"], tmp_path, OPENRFT_POLL_S="0.2")
    lines: list[str] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while not any("polling" in line for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            lines.append(process.stderr.readline())
    finally:
        code, stderr = _stop(process, signal.SIGTERM)
    assert code == 0, "".join(lines) + stderr
    assert "stopped" in stderr
