"""The audit trail as a compliance reader sees it: every decision of the access-control scenarios, allow and
deny with the deciding statement, the mutations committed with their changes, and a chain that
`openrft audit verify` checks (an edited row is caught)."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import openai
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from openrft.cli.audit import audit_app
from openrft.store import schema
from openrft.store.db import Store
from tests.api.access import ACCOUNT, allow, aws_client, make_key
from tests.api.test_lambda_api import create
from tests.conftest import LiveServer


def trail(server: LiveServer, **filters: Any) -> list[dict[str, Any]]:
    admin = openai.OpenAI(base_url=server.v1, api_key="unused", admin_api_key=server.admin_key, max_retries=0)
    return [e.model_dump() for e in admin.admin.organization.audit_logs.list(limit=100, **filters)]


def test_each_decision_lands_in_the_trail_with_what_decided_it(live_server: LiveServer) -> None:
    lam = aws_client(live_server, "lambda")
    create(lam, "reward")
    create(lam, "other")
    reward_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reward"
    key = make_key(live_server, {"Sid": "OnlyReward", **allow("lambda:InvokeFunction", reward_arn)})
    theirs = aws_client(live_server, "lambda", key.id, key.secret)
    assert theirs.invoke(FunctionName="reward", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError):
        theirs.invoke(FunctionName="other", InvocationType="DryRun")
    reader = make_key(live_server, permissions="read_only")
    with pytest.raises(openai.AuthenticationError):  # 401: a scope it lacks
        live_server.openai_client(reader.secret).files.create(file=("a.jsonl", b"{}\n"), purpose="evals")

    mine = [e for e in trail(live_server, actor_ids=[key.id]) if e["type"].startswith("authorization.")]
    by_resource = {
        e["openrft"]["resource"]: e["openrft"] for e in mine if e["openrft"]["action"] == "lambda:InvokeFunction"
    }
    allowed, denied = by_resource[reward_arn], by_resource[reward_arn.replace("reward", "other")]
    assert (allowed["outcome"], allowed["decision"]["sid"]) == ("allowed", "OnlyReward")
    assert allowed["decision"]["policy"].startswith(f"arn:aws:iam::{ACCOUNT}:policy/")
    assert denied["outcome"] == "denied" and "no identity-based policy allows" in denied["decision"]["reason"]
    assert allowed["principal"] == key.arn and allowed["request_id"].startswith("req_")
    scoped = [e["openrft"] for e in trail(live_server, actor_ids=[reader.id]) if e["type"] == "authorization.denied"]
    assert scoped and scoped[0]["decision"]["missing_scopes"] == ["api.files.write"]


def test_a_mutation_is_recorded_with_its_change_and_a_refused_one_as_failed(live_server: LiveServer) -> None:
    client = live_server.openai_client()
    uploaded = client.files.create(
        file=("t.jsonl", b'{"messages": [{"role": "user", "content": "x"}]}\n'), purpose="evals"
    )
    created = [e for e in trail(live_server, event_types=["files.create_file"])]
    assert len(created) == 1 and created[0]["openrft"]["outcome"] == "succeeded"
    assert created[0]["openrft"]["action"] == "files:CreateFile"
    with pytest.raises(openai.NotFoundError):
        client.files.delete("file-nope")
    failed = trail(live_server, event_types=["files.delete_file"])
    assert [e["openrft"]["outcome"] for e in failed] == ["failed"]
    assert client.files.delete(uploaded.id).deleted
    assert [e["openrft"]["outcome"] for e in trail(live_server, event_types=["files.delete_file"])] == [
        "succeeded",
        "failed",
    ]


def test_verify_catches_an_edited_row(live_server: LiveServer) -> None:
    live_server.openai_client().models.list()
    env = {"OPENRFT_HOME": str(live_server.settings.home)}
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--json"], env=env)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    store = Store(live_server.settings.db_url)
    with store.begin() as conn:
        first = conn.execute(sa.select(sa.func.min(schema.audit_log.c.seq))).scalar()
        conn.execute(schema.audit_log.update().where(schema.audit_log.c.seq == first).values(outcome="allowed!"))
    store.dispose()
    bad = runner.invoke(audit_app, ["verify", "--json"], env=env)
    assert bad.exit_code == 1, bad.output
    assert json.loads(bad.output)["first_bad_seq"] == first
