"""Shared fixtures: a private OPENRFT_HOME per test and a real server on a loopback port.

Contract tests talk to `live_server` through the official `openai` and `boto3` clients, exactly as a
user would; nothing in between is mocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from openrft.api.server import start_in_thread
from openrft.settings import Settings

ADMIN_KEY = "sk-admin-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets a private OPENRFT_HOME and fresh process singletons (settings, engine, sandbox pool).

    A test that needs a particular home or key sets it with the `home` / `settings` fixtures below.
    """
    from openrft.functions.sandbox import reset_pool
    from openrft.inference.engine import reset_engine
    from openrft.settings import get_settings

    monkeypatch.setenv("OPENRFT_HOME", str(tmp_path_factory.mktemp("openrft-home")))
    get_settings.cache_clear()
    yield
    reset_engine()
    reset_pool()
    get_settings.cache_clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "openrft-home"
    monkeypatch.setenv("OPENRFT_HOME", str(path))
    monkeypatch.setenv("OPENRFT_ADMIN_KEY", ADMIN_KEY)
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    # Short leases so crash-recovery tests run in seconds.
    return Settings(home=home, admin_key=ADMIN_KEY, lease_s=3.0, heartbeat_s=0.5, poll_s=0.2)


@dataclass
class LiveServer:
    base_url: str  # http://127.0.0.1:PORT
    settings: Settings
    admin_key: str = ADMIN_KEY

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def openai_client(self, api_key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.v1, api_key=api_key or self.admin_key, max_retries=0, timeout=60)


def not_found(call: Callable[[], object], *, code: str, param: str | None, mentions: str) -> dict[str, object]:
    """Run `call`, expect OpenAI's 404 body with this code and param, naming `mentions`; return the body."""
    with pytest.raises(openai.NotFoundError) as err:
        call()
    body = err.value.body
    assert isinstance(body, dict), body
    assert (body.get("type"), body.get("code"), body.get("param")) == ("invalid_request_error", code, param), body
    assert mentions in str(body.get("message")), body
    return body


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """The API without a worker: jobs stay queued unless a test runs a worker itself."""
    server = start_in_thread(settings, embedded_worker=False)
    yield LiveServer(base_url=server.base_url, settings=settings)
    server.stop(timeout_s=10)


@pytest.fixture
def client(live_server: LiveServer) -> openai.OpenAI:
    return live_server.openai_client()
