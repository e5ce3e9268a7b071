"""The worker's own test suite (tests/integration/test_worker.py), run again with the store on PostgreSQL.

Claims, leases, fencing, crash recovery and control all go through SQL the worker owns; this shows
it behaves the same on the other backend. The trainer child gets the URL from `OPENRFT_DATABASE_URL`,
which the worker sets from its settings. About 50 s of real subprocesses, so it is marked slow
(`pytest -m slow tests/store`); tests/store/test_concurrency.py covers concurrent claims by default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openrft.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.integration.test_worker import *  # noqa: F403  (its tests and fixtures, collected here again)

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OPENRFT_DATABASE_URL", pg_url)  # for workers the tests start as processes
    return Settings(home=home, admin_key=ADMIN_KEY, database_url=pg_url, lease_s=3.0, heartbeat_s=0.5, poll_s=0.2)
