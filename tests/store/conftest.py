"""Store tests run on both backends: SQLite (always) and PostgreSQL (a throwaway local cluster).

The session starts one PostgreSQL cluster from the Debian/Ubuntu binaries under
`/usr/lib/postgresql/*/bin` (or `OPENRFT_TEST_PG_BIN`): data and unix sockets in a temporary folder,
TCP on a free loopback port, trust auth, fsync off. Each test gets a fresh database in it, dropped
afterwards. Set `OPENRFT_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db` to use a server
you run yourself instead (the user must be allowed to create databases). Without either, the
PostgreSQL cases skip and say why. As root, the cluster runs as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from openrft.api.server import free_port, start_in_thread
from openrft.settings import Settings
from tests.conftest import ADMIN_KEY, LiveServer

BACKENDS = ["sqlite", "postgres"]
PG_USER = "openrft"


def _pg_bin_dir() -> Path | None:
    explicit = os.environ.get("OPENRFT_TEST_PG_BIN")
    candidates = [explicit] if explicit else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _as_cluster_user(owner: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


@dataclass
class PgCluster:
    """A PostgreSQL server that hands out one fresh database per test."""

    admin_url: str  # a SQLAlchemy URL on a database that always exists, for CREATE/DROP DATABASE
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def create_database(self) -> str:
        name = f"openrft_test_{os.getpid()}_{next(self._counter)}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return sa.make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = sa.make_url(url).database
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def _start_local_cluster(bin_dir: Path) -> Iterator[PgCluster]:
    owner: str | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres").pw_name
        except KeyError:
            pytest.skip("PostgreSQL tests: running as root and there is no 'postgres' user to run initdb as")
        if shutil.which("runuser") is None:
            pytest.skip("PostgreSQL tests: running as root and `runuser` is missing")
    root = Path(tempfile.mkdtemp(prefix="openrft-pg-"))
    if owner:
        shutil.chown(root, user=owner)
    data, log_file, port = root / "data", root / "server.log", free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync"]
    made = subprocess.run(_as_cluster_user(owner, initdb), capture_output=True, text=True)
    if made.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed in {root} (as {owner or 'this user'}): {made.stdout}{made.stderr}")
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log_file)]
    started = subprocess.run(
        _as_cluster_user(owner, [*pg_ctl, "-o", options, "-w", "-t", "60", "start"]), capture_output=True, text=True
    )
    if started.returncode != 0:
        log_tail = log_file.read_text()[-2000:] if log_file.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {started.stdout}{started.stderr}\n{log_tail}")
    try:
        yield PgCluster(admin_url=f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(_as_cluster_user(owner, [*pg_ctl, "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    pytest.importorskip("psycopg", reason="PostgreSQL tests need the driver: pip install 'psycopg[binary]'")
    external = os.environ.get("OPENRFT_TEST_POSTGRES_URL")
    if external:
        yield PgCluster(admin_url=external)
        return
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL tests: no initdb/pg_ctl (apt-get install postgresql) and no OPENRFT_TEST_POSTGRES_URL")
    yield from _start_local_cluster(bin_dir)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend (the test runs once per backend)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'openrft.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def backend_settings(home: Path, database_url: str) -> Settings:
    return Settings(home=home, admin_key=ADMIN_KEY, database_url=database_url, lease_s=3.0, poll_s=0.2)


@pytest.fixture
def backend_server(backend_settings: Settings) -> Iterator[LiveServer]:
    """A live API server (no worker) on the test's backend."""
    server = start_in_thread(backend_settings, embedded_worker=False)
    yield LiveServer(base_url=server.base_url, settings=backend_settings)
    server.stop(timeout_s=10)
