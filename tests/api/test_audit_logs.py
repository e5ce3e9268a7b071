"""Contract tests of GET /v1/organization/audit_logs against a live server, through the openai SDK.

The list and its filters run on SQLite and PostgreSQL (tests/store/conftest.py's cluster; skipped
without one). The SDK's own `client.admin.organization.audit_logs.list(...)` sends OpenAI's query form
(`effective_at[gt]=`, `project_ids[]=`) and pages with `after`; `before` and the errors go through
httpx. The tests record their events directly with `record`, at fixed times long past (`SEEDED`,
`PAGED`), and read them in that window: beside them sit the events the server records for each request
(its authorization decisions, the projects and service accounts created), at the present time. Also
`openrft audit`, the CLI's list, against the same server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from openai.types.admin.organization.audit_log_list_params import EffectiveAt
from typer.testing import CliRunner

from openrft.api import server as server_module
from openrft.api.audit.router import router as audit_router
from openrft.api.openapi import openai_errors
from openrft.auth.audit import AuditEvent, record
from openrft.auth.keys import Principal
from openrft.cli.audit import audit_app
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from tests.conftest import LiveServer
from tests.store.conftest import pg_cluster, pg_url  # noqa: F401 (fixtures: the PostgreSQL case)

PATH = "/organization/audit_logs"
SEEDED: EffectiveAt = {"lt": 2_000}  # seed()'s events, t = 1000..1400; the server's own are at the present time
PAGED: EffectiveAt = {"gte": 3_000, "lt": 4_000}  # the pagination test's


@pytest.fixture(params=["sqlite"])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """SQLite unless a test asks for more (`parametrize("backend_settings", [...], indirect=True)`)."""
    if request.param == "sqlite":
        return settings
    return settings.model_copy(update={"database_url": request.getfixturevalue("pg_url")})


@pytest.fixture
def audit_server(backend_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """A live server with the audit router, whether or not app.py includes it yet."""
    settings = backend_settings
    original = server_module.create_app

    def create_app(*args: Any, **kwargs: Any) -> FastAPI:
        app = original(*args, **kwargs)
        if not any(getattr(r, "path", None) == "/v1" + PATH for r in app.routes):
            app.include_router(audit_router, prefix="/v1", responses=openai_errors())
        return app

    monkeypatch.setattr(server_module, "create_app", create_app)
    server = server_module.start_in_thread(settings, embedded_worker=False)
    yield LiveServer(base_url=server.base_url, settings=settings)
    server.stop(timeout_s=10)


@pytest.fixture
def store(audit_server: LiveServer) -> Iterator[Store]:
    db = Store(audit_server.settings.db_url)
    yield db
    db.dispose()


def admin_sdk(live: LiveServer, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.v1, api_key="unused", admin_api_key=key or live.admin_key, max_retries=0)


def http(live: LiveServer, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key or live.admin_key}"}
    return httpx.Client(base_url=live.v1, headers=headers, timeout=30)


def project_with_key(live: LiveServer, name: str) -> tuple[str, dict[str, Any]]:
    """A new project and its service account (whose api_key.value is the secret)."""
    with http(live) as client:
        project = client.post("/organization/projects", json={"name": name}).json()
        account = client.post(f"/organization/projects/{project['id']}/service_accounts", json={"name": "bot"})
    return project["id"], account.json()


ALICE = Principal(key_id="key_alice", project_id="proj_default", is_admin=False, service_account_id="svc_acct_alice")


def seed(store: Store, project_a: str, project_b: str) -> int:
    """Five events at t = 1000..1400 (seq base+1..base+5), in two projects and one with no project; base."""
    file_arn = "arn:openrft:files:us-east-1:{}:file/file-abc"
    events = [
        AuditEvent(type="project.created", resource=project_a, details={"data": {"name": "a"}}),
        AuditEvent(
            type="authorization.allowed",
            project_id=project_a,
            actor=ALICE,
            action="files:CreateFile",
            resource=file_arn.format("111111111111"),
            outcome="allowed",
            decision={"effect": "Allow", "policy": "arn:aws:iam::aws:policy/OpenRFTFullAccess", "sid": None},
            source_ip="127.0.0.1",
            request_id="req_2",
        ),
        AuditEvent(
            type="authorization.denied",
            project_id=project_b,
            actor=Principal(key_id="admin", project_id="proj_default", is_admin=True),
            action="lambda:InvokeFunction",
            resource="arn:aws:lambda:us-east-1:222222222222:function:reward:3",
            outcome="denied",
        ),
        AuditEvent(type="fine_tuning.job.created", project_id=project_a, actor=ALICE, resource="ftjob-1"),
        AuditEvent(type="fine_tuning.job.created", project_id=project_b, resource="ftjob-2"),
    ]
    with store.begin() as conn:
        ids = [record(conn, event, now=1_000 + 100 * n) for n, event in enumerate(events)]
        first = conn.execute(sa.select(schema.audit_log.c.seq).where(schema.audit_log.c.id == ids[0])).scalar_one()
    return int(first) - 1


@pytest.mark.parametrize("backend_settings", ["sqlite", "postgres"], indirect=True)
def test_list_shape_and_filters_through_the_sdk(audit_server: LiveServer, store: Store) -> None:
    project_a, _ = project_with_key(audit_server, "alpha")
    project_b, _ = project_with_key(audit_server, "beta")
    base = seed(store, project_a, project_b)
    audit_logs = admin_sdk(audit_server).admin.organization.audit_logs

    page = audit_logs.list(limit=100, effective_at=SEEDED)
    assert [e.effective_at for e in page.data] == [1400, 1300, 1200, 1100, 1000]  # newest first
    assert page.has_more is False and page.last_id == page.data[-1].id
    allowed = page.data[3]
    assert allowed.id.startswith("audit_log-") and allowed.type == "authorization.allowed"
    assert allowed.project is not None and (allowed.project.id, allowed.project.name) == (project_a, "alpha")
    assert allowed.actor is not None and allowed.actor.type == "api_key" and allowed.actor.api_key is not None
    assert (allowed.actor.api_key.id, allowed.actor.api_key.type) == ("key_alice", "service_account")
    assert allowed.actor.api_key.service_account is not None
    assert allowed.actor.api_key.service_account.id == "svc_acct_alice"
    raw = allowed.model_dump()
    assert raw["authorization.allowed"] == {"id": "file-abc"}  # the type-named object: the resource's id
    ours = raw["openrft"]
    assert (ours["action"], ours["outcome"], ours["source_ip"], ours["request_id"]) == (
        "files:CreateFile",
        "allowed",
        "127.0.0.1",
        "req_2",
    )
    assert ours["decision"]["effect"] == "Allow" and ours["seq"] == base + 2 and len(ours["hash"]) == 64
    assert ours["principal"] == ALICE.arn
    created = page.data[4]
    assert created.project is None and created.actor is None
    assert created.project_created is not None and created.project_created.id == project_a  # OpenAI's own type
    assert created.project_created.data is not None and created.project_created.data.name == "a"
    admin_actor = page.data[2].actor
    assert admin_actor is not None and admin_actor.api_key is not None
    assert (admin_actor.api_key.type, admin_actor.api_key.user.id) == ("user", "admin")

    def seqs(effective_at: EffectiveAt | None = None, **filters: Any) -> list[int]:
        """The seeded events' seq numbers (1..5) that the filters list, newest first."""
        data = audit_logs.list(effective_at={**SEEDED, **(effective_at or {})}, **filters).data
        return [e.model_dump()["openrft"]["seq"] - base for e in data]

    assert seqs(effective_at={"gt": 1100}) == [5, 4, 3]
    assert seqs(effective_at={"gte": 1100, "lt": 1300}) == [3, 2]
    assert seqs(effective_at={"lte": 1000}) == [1]
    assert seqs(project_ids=[project_b]) == [5, 3]
    assert seqs(event_types=["fine_tuning.job.created", "project.created"]) == [5, 4, 1]
    assert seqs(actor_ids=["svc_acct_alice"]) == seqs(actor_ids=["key_alice"]) == [4, 2]
    assert seqs(actor_ids=[ALICE.arn]) == [4, 2]
    assert seqs(resource_ids=["file-abc"]) == [2]
    assert seqs(resource_ids=["reward:3"]) == [3]
    assert seqs(resource_ids=["ftjob-2", project_a]) == [5, 1]
    assert seqs(resource_ids=["file%"]) == []  # a LIKE wildcard matches nothing
    assert seqs(project_ids=[project_a], event_types=["fine_tuning.job.created"]) == [4]


def test_pagination_after_and_before(audit_server: LiveServer, store: Store) -> None:
    with store.begin() as conn:
        for n in range(7):
            event = AuditEvent(type="fine_tuning.job.created", project_id="proj_default", resource=f"ftjob-{n}")
            record(conn, event, now=PAGED["gte"] + n)
    audit_logs = admin_sdk(audit_server).admin.organization.audit_logs
    first = audit_logs.list(limit=3, effective_at=PAGED)
    assert len(first.data) == 3 and first.has_more is True
    every = [e.id for e in audit_logs.list(limit=3, effective_at=PAGED)]  # the SDK's auto-paging follows last_id
    assert len(every) == 7 and len(set(every)) == 7 and every[:3] == [e.id for e in first.data]
    window: dict[str, Any] = {f"effective_at[{op}]": t for op, t in PAGED.items()}  # httpx: the bracket form
    with http(audit_server) as client:
        # before: the page just newer than an event, in the same newest-first order.
        page = client.get(PATH, params={**window, "limit": 2, "before": every[4]}).json()
        assert [e["id"] for e in page["data"]] == every[2:4] and page["has_more"] is True
        assert (page["first_id"], page["last_id"]) == (every[2], every[3])
        top = client.get(PATH, params={**window, "limit": 5, "before": every[2]}).json()
        assert [e["id"] for e in top["data"]] == every[:2] and top["has_more"] is False
        for params, param in (
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"after": "audit_log-nope"}, "after"),
            ({"after": every[0], "before": every[1]}, "before"),
        ):
            response = client.get(PATH, params=params)
            assert response.status_code == 400, params
            assert response.json()["error"]["param"] == param


def test_a_project_key_sees_only_its_project(audit_server: LiveServer, store: Store) -> None:
    project_a, account_a = project_with_key(audit_server, "alpha")
    project_b, _ = project_with_key(audit_server, "beta")
    base = seed(store, project_a, project_b)
    key_a = account_a["api_key"]["value"]
    audit_logs = admin_sdk(audit_server, key_a).admin.organization.audit_logs
    seeded = audit_logs.list(limit=100, effective_at=SEEDED).data
    assert [e.model_dump()["openrft"]["seq"] - base for e in seeded] == [4, 2]
    seen = audit_logs.list(limit=100).data  # the server's own events too: this project's only
    assert seen and {e.project.id if e.project else None for e in seen} == {project_a}
    assert audit_logs.list(project_ids=[project_b]).data == []  # naming another project shows nothing of it
    with http(audit_server, key_a) as client:  # nor can its events be used as cursors
        others = admin_sdk(audit_server).admin.organization.audit_logs.list(
            project_ids=[project_b], effective_at=SEEDED
        )
        other = others.data[0].id
        assert client.get(PATH, params={"after": other}).status_code == 400
    with http(audit_server, "sk-not-a-key") as client:
        assert client.get(PATH).status_code == 401


def test_cli_lists_events(audit_server: LiveServer, store: Store) -> None:
    project_a, _ = project_with_key(audit_server, "alpha")
    project_b, _ = project_with_key(audit_server, "beta")
    seed(store, project_a, project_b)
    env = {"OPENRFT_BASE_URL": audit_server.base_url, "OPENRFT_API_KEY": audit_server.admin_key, "COLUMNS": "250"}
    runner = CliRunner()
    until = ["--until", "1999"]  # seed()'s events, not the server's own of these requests
    table = runner.invoke(audit_app, ["--project", project_b, *until], env=env)
    assert table.exit_code == 0, table.output
    assert (
        "lambda:InvokeFunction" in table.output and "denied" in table.output and "files:CreateFile" not in table.output
    )
    listed = runner.invoke(audit_app, ["--json", "--limit", "2", "--since", "1970-01-01T00:16:40Z", *until], env=env)
    assert listed.exit_code == 0, listed.output
    events = json.loads(listed.output)
    assert [e["effective_at"] for e in events] == [1400, 1300]
    since = runner.invoke(
        audit_app, ["--json", "--since", "1300", "--type", "fine_tuning.job.created", *until], env=env
    )
    assert [e["openrft"]["resource"] for e in json.loads(since.output)] == ["ftjob-2", "ftjob-1"]
