"""Contract tests of the Lambda API through the real boto3 client, signed with SigV4, on a live server."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import httpx
import pytest

from openrft.functions.arn import account_id
from openrft.settings import Settings
from tests.conftest import LiveServer

HANDLER = "lambda_function.lambda_handler"
REWARD_V1 = """
import os
def lambda_handler(event, context):
    print("scoring", len(event) if isinstance(event, list) else 1)
    if isinstance(event, dict) and event.get("boom"):
        raise ValueError("boom requested")
    if isinstance(event, dict):
        return {"echo": event, "version": context.function_version, "name": context.function_name,
                "mode": os.environ.get("MODE"), "arn": context.invoked_function_arn}
    return [{"id": e["id"], "aggregate_reward_score": 1.0} for e in event]
"""
REWARD_V2 = REWARD_V1.replace("1.0}", "0.5}")


def make_zip(source: str = REWARD_V1, name: str = "lambda_function.py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, source)
    return buf.getvalue()


def lambda_client(server: LiveServer, key_id: str = "admin", secret: str | None = None) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=server.base_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret or server.admin_key,
        config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=120),
    )


@pytest.fixture
def lam(live_server: LiveServer) -> Any:
    return lambda_client(live_server)


@pytest.fixture
def other_project(live_server: LiveServer) -> tuple[str, str, str]:
    """(project_id, key_id, secret) of a second project's service-account key, made through the admin API."""
    admin = {"Authorization": f"Bearer {live_server.admin_key}"}
    project = httpx.post(f"{live_server.v1}/organization/projects", json={"name": "other"}, headers=admin).json()
    account = httpx.post(
        f"{live_server.v1}/organization/projects/{project['id']}/service_accounts", json={"name": "ci"}, headers=admin
    ).json()
    return str(project["id"]), str(account["api_key"]["id"]), str(account["api_key"]["value"])


def create(lam: Any, name: str = "reward", **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/any",
        "Handler": HANDLER,
        "Code": {"ZipFile": make_zip()},
    }
    args.update(kw)
    result: dict[str, Any] = lam.create_function(**args)
    return result


def error_code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_get_list(lam: Any, live_server: LiveServer) -> None:
    zip_bytes = make_zip()
    out = create(lam, Publish=True, Environment={"Variables": {"MODE": "strict"}}, Description="gsm8k reward")
    acct = account_id("proj_default")
    assert out["Version"] == "1"
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:{acct}:function:reward:1"
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert out["CodeSize"] == len(zip_bytes)
    assert (out["Timeout"], out["MemorySize"], out["State"], out["PackageType"]) == (3, 128, "Active", "Zip")
    assert out["Environment"] == {"Variables": {"MODE": "strict"}}
    got = lam.get_function(FunctionName="reward")
    assert got["Configuration"]["Version"] == "$LATEST"
    assert got["Configuration"]["FunctionArn"] == f"arn:aws:lambda:us-east-1:{acct}:function:reward"
    assert got["Configuration"]["Description"] == "gsm8k reward"
    cfg = lam.get_function_configuration(FunctionName=f"arn:aws:lambda:us-east-1:{acct}:function:reward:1")
    assert cfg["Version"] == "1"
    partial = lam.get_function_configuration(FunctionName=f"{acct}:function:reward")
    assert partial["Version"] == "$LATEST"
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["reward"]
    every = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["Version"] for f in every] == ["$LATEST", "1"]
    # The code location serves the exact zip to an authenticated caller.
    location = got["Code"]["Location"]
    headers = {"Authorization": f"Bearer {live_server.admin_key}"}
    assert httpx.get(location, headers=headers).content == zip_bytes


def test_update_code_changes_latest_not_published(lam: Any) -> None:
    first = create(lam, Publish=True)
    updated = lam.update_function_code(FunctionName="reward", ZipFile=make_zip(REWARD_V2))
    assert updated["Version"] == "$LATEST"
    assert updated["CodeSha256"] != first["CodeSha256"]
    assert lam.get_function_configuration(FunctionName="reward", Qualifier="1")["CodeSha256"] == first["CodeSha256"]
    v2 = lam.publish_version(FunctionName="reward", Description="second")
    assert (v2["Version"], v2["CodeSha256"], v2["Description"]) == ("2", updated["CodeSha256"], "second")
    assert lam.publish_version(FunctionName="reward")["Version"] == "2"  # unchanged $LATEST: same version
    versions = lam.list_versions_by_function(FunctionName="reward")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    page = lam.list_versions_by_function(FunctionName="reward", MaxItems=2)
    assert len(page["Versions"]) == 2 and page["NextMarker"]
    rest = lam.list_versions_by_function(FunctionName="reward", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.publish_version(FunctionName="reward", CodeSha256="not-the-sha")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName="reward", ZipFile=make_zip(name="other.py"))


def test_update_configuration(lam: Any) -> None:
    create(lam)
    out = lam.update_function_configuration(
        FunctionName="reward", Timeout=30, MemorySize=512, Description="d", Environment={"Variables": {"A": "1"}}
    )
    assert (out["Timeout"], out["MemorySize"], out["Description"]) == (30, 512, "d")
    assert out["Environment"] == {"Variables": {"A": "1"}}
    for bad in ({"Timeout": 901}, {"MemorySize": 10241}, {"Runtime": "nodejs20.x"}, {"Handler": "missing.handler"}):
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.update_function_configuration(FunctionName="reward", **bad)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.update_function_configuration(FunctionName="reward", Timeout=5, RevisionId="stale")
    assert error_code(info.value) == ("PreconditionFailedException", 412)
    assert lam.get_function_configuration(FunctionName="reward")["Timeout"] == 30


def test_aliases_crud(lam: Any) -> None:
    create(lam, Publish=True)
    lam.update_function_code(FunctionName="reward", ZipFile=make_zip(REWARD_V2), Publish=True)
    alias = lam.create_alias(FunctionName="reward", Name="prod", FunctionVersion="1", Description="live")
    assert alias["AliasArn"].endswith(":function:reward:prod")
    assert lam.get_alias(FunctionName="reward", Name="prod")["FunctionVersion"] == "1"
    assert lam.get_function_configuration(FunctionName="reward:prod")["Version"] == "1"
    moved = lam.update_alias(FunctionName="reward", Name="prod", FunctionVersion="2")
    assert moved["FunctionVersion"] == "2" and moved["Description"] == "live"
    lam.create_alias(FunctionName="reward", Name="canary", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="reward")["Aliases"]] == ["canary", "prod"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName="reward", FunctionVersion="2")["Aliases"]] == ["prod"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_alias(FunctionName="reward", Name="prod", FunctionVersion="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_alias(FunctionName="reward", Name="next", FunctionVersion="9")
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.delete_function(FunctionName="reward", Qualifier="2")  # prod points at it
    lam.delete_function(FunctionName="reward", Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="reward")["Versions"]] == ["$LATEST", "2"]
    lam.delete_alias(FunctionName="reward", Name="prod")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName="reward", Name="prod")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_alias(FunctionName="reward", Name="prod")


def test_errors(lam: Any, live_server: LiveServer) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="nope")
    create(lam)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        create(lam)
    cases = [
        {"Runtime": "python2.7"},
        {"Code": {"ZipFile": b"this is not a zip"}},
        {"Handler": "nothere.lambda_handler"},
        {"Handler": "nodot"},
        {"Timeout": 901},
        {"MemorySize": 20000},
        {"FunctionName": "bad name!"},
        {"Code": {"S3Bucket": "bucket", "S3Key": "k"}},
        {"Code": {"ZipFile": make_zip(name="../lambda_function.py")}},
    ]
    for case in cases:
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            create(lam, **{"FunctionName": "other", **case})
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["reward"]  # nothing half-made
    bad_sig = lambda_client(live_server, secret="wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        bad_sig.list_functions()
    assert error_code(info.value) == ("InvalidSignatureException", 403)
    unknown = lambda_client(live_server, key_id="key_doesnotexist")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unknown.list_functions()
    assert error_code(info.value) == ("UnrecognizedClientException", 403)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.invoke(FunctionName="reward", Payload=b'"' + b"x" * 6_300_000 + b'"')
    assert error_code(info.value) == ("RequestTooLargeException", 413)
    lam.delete_function(FunctionName="reward")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName="reward")
    assert not list((live_server.settings.blobs_dir / "functions" / "proj_default" / "reward").glob("*.zip"))


def test_bearer_key_works_on_lambda_paths(lam: Any, live_server: LiveServer) -> None:
    create(lam)
    headers = {"Authorization": f"Bearer {live_server.admin_key}"}
    listed = httpx.get(f"{live_server.base_url}/2015-03-31/functions", headers=headers).json()
    assert [f["FunctionName"] for f in listed["Functions"]] == ["reward"]
    missing = httpx.get(f"{live_server.base_url}/2015-03-31/functions/nope", headers=headers)
    assert missing.status_code == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    anonymous = httpx.get(f"{live_server.base_url}/2015-03-31/functions")
    assert anonymous.status_code == 401
    # Bounds boto3 would refuse client-side are checked by the server too.
    too_short = httpx.put(
        f"{live_server.base_url}/2015-03-31/functions/reward/configuration", headers=headers, json={"Timeout": 0}
    )
    assert too_short.status_code == 400 and too_short.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"


def test_projects_are_isolated(lam: Any, live_server: LiveServer, other_project: tuple[str, str, str]) -> None:
    project_id, key_id, secret = other_project
    mine = create(lam, Publish=True)
    theirs = lambda_client(live_server, key_id=key_id, secret=secret)
    assert theirs.list_functions()["Functions"] == []
    for ref in ("reward", mine["FunctionArn"]):
        with pytest.raises(theirs.exceptions.ResourceNotFoundException):
            theirs.get_function(FunctionName=ref)
        with pytest.raises(theirs.exceptions.ResourceNotFoundException):
            theirs.invoke(FunctionName=ref, Payload=b"{}")
    with pytest.raises(theirs.exceptions.ResourceNotFoundException):
        theirs.delete_function(FunctionName="reward")
    own = create(theirs)  # the same name is free in another project
    assert account_id(project_id) in own["FunctionArn"] and own["FunctionArn"] != mine["FunctionArn"]
    assert lam.get_function(FunctionName="reward")["Configuration"]["CodeSha256"] == mine["CodeSha256"]
    # A revoked key no longer signs.
    admin = {"Authorization": f"Bearer {live_server.admin_key}"}
    revoked = httpx.delete(f"{live_server.v1}/organization/projects/{project_id}/api_keys/{key_id}", headers=admin)
    assert revoked.status_code == 200
    with pytest.raises(botocore.exceptions.ClientError) as info:
        theirs.list_functions()
    assert error_code(info.value) == ("UnrecognizedClientException", 403)


# ---- Invoke (needs the sandbox runtime) ---------------------------------------------------------------


def sandbox_skip_reason() -> str | None:
    try:
        from openrft.functions.sandbox import detect_mode
    except Exception as exc:  # absent or half-built module: say which
        return f"sandbox runtime openrft.functions.sandbox is not importable: {exc!r}"
    mode, why = detect_mode()
    return f"no sandbox on this host: {why}" if mode == "unavailable" else None


needs_sandbox = pytest.mark.skipif(sandbox_skip_reason() is not None, reason=str(sandbox_skip_reason()))


@needs_sandbox
def test_invoke_by_name_version_alias_arn(lam: Any) -> None:
    first = create(lam, Publish=True, Environment={"Variables": {"MODE": "v1"}})
    lam.update_function_code(FunctionName="reward", ZipFile=make_zip(REWARD_V2))
    alias_arn = lam.create_alias(FunctionName="reward", Name="prod", FunctionVersion="1")["AliasArn"]
    event = [{"id": "s1", "messages": [{"role": "assistant", "content": "#### 4"}]}]
    cases = [
        ({"FunctionName": "reward"}, "$LATEST", 0.5),
        ({"FunctionName": "reward", "Qualifier": "$LATEST"}, "$LATEST", 0.5),
        ({"FunctionName": "reward", "Qualifier": "1"}, "1", 1.0),
        ({"FunctionName": "reward:prod"}, "1", 1.0),
        ({"FunctionName": "reward", "Qualifier": "prod"}, "1", 1.0),
        ({"FunctionName": first["FunctionArn"]}, "1", 1.0),
    ]
    for args, version, score in cases:
        out = lam.invoke(**args, Payload=json.dumps(event).encode(), LogType="Tail")
        assert out["StatusCode"] == 200 and "FunctionError" not in out
        assert out["ExecutedVersion"] == version
        assert json.loads(out["Payload"].read()) == [{"id": "s1", "aggregate_reward_score": score}]
        logs = base64.b64decode(out["LogResult"]).decode()
        assert "scoring 1" in logs and "REPORT RequestId" in logs
    echo = json.loads(lam.invoke(FunctionName="reward:prod", Payload=b'{"x": 1}')["Payload"].read())
    assert echo == {"echo": {"x": 1}, "version": "1", "name": "reward", "mode": "v1", "arn": alias_arn}
    lam.update_function_configuration(FunctionName="reward", Environment={"Variables": {"MODE": "latest"}})
    assert json.loads(lam.invoke(FunctionName="reward", Payload=b"{}")["Payload"].read())["mode"] == "latest"
    assert json.loads(lam.invoke(FunctionName="reward:1", Payload=b"{}")["Payload"].read())["mode"] == "v1"
    assert lam.invoke(FunctionName="reward", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202


@needs_sandbox
def test_invoke_errors(lam: Any) -> None:
    create(lam)
    out = lam.invoke(FunctionName="reward", Payload=b'{"boom": true}')
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"].read())
    assert body["errorType"] == "ValueError" and "boom requested" in body["errorMessage"]
    assert "requestId" in body and isinstance(body["stackTrace"], list)
    assert lam.invoke(FunctionName="reward", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.invoke(FunctionName="reward", Payload=b"{not json")
    assert error_code(info.value) == ("InvalidRequestContentException", 400)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="reward", Qualifier="7", Payload=b"{}")


# ---- CLI ----------------------------------------------------------------------------------------------


def run_cli(server: LiveServer, *args: str) -> Any:
    from typer.testing import CliRunner

    from openrft.cli.main import app

    base = ["--base-url", server.base_url, "--api-key", server.admin_key]
    return CliRunner().invoke(app, [*base, *args], catch_exceptions=False)


GSM_REWARD = """
def lambda_handler(event, context):
    out = []
    for s in event:
        answer = s["messages"][-1]["content"]
        out.append({"id": s["id"], "aggregate_reward_score": 1.0 if answer.strip() == s["reference_answer"] else 0.0,
                    "metrics_list": [{"name": "exact", "value": 1.0, "type": "Metric"}]})
    return out
"""


def test_cli_summary_helpers() -> None:
    from openrft.cli.functions import read_cases, summarize

    data = "\n".join(
        [
            json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
            json.dumps({"messages": [{"role": "user", "content": "q"}], "completion": ["x", "y"], "ref": 1}),
        ]
    )
    cases = read_cases(data)
    assert [(c.line, c.completions, c.item) for c in cases] == [(1, ["a"], {}), (2, ["x", "y"], {"ref": 1})]
    report = summarize([[1.0, 1.0], [0.0, 1.0], [0.5, None], [None]])
    assert report["samples"] == 5 and report["mean"] == pytest.approx(0.7) and report["min"] == 0.0
    assert report["flat_share"] == 0.5  # of the 2 prompts with >= 2 scored samples, one is flat
    assert sum(c for _, _, c in report["histogram"]) == 5 and report["histogram"][-1][2] == 3


@needs_sandbox
def test_cli_deploy_invoke_list_test(live_server: LiveServer, tmp_path: Any) -> None:
    src = tmp_path / "fn"
    src.mkdir()
    (src / "lambda_function.py").write_text(GSM_REWARD)
    deployed = run_cli(live_server, "functions", "deploy", str(src), "--name", "gsm", "--publish", "--timeout", "10")
    assert deployed.exit_code == 0, deployed.output
    assert "version 1" in deployed.output
    again = run_cli(live_server, "functions", "deploy", str(src), "--name", "gsm", "--publish", "--timeout", "10")
    assert again.exit_code == 0 and "version 1" in again.output  # same zip bytes -> same version
    listed = run_cli(live_server, "functions", "list", "--json")
    assert json.loads(listed.output)[0]["FunctionName"] == "gsm"
    payload = tmp_path / "event.json"
    payload.write_text(
        json.dumps([{"id": "1", "messages": [{"role": "assistant", "content": "4"}], "reference_answer": "4"}])
    )
    invoked = run_cli(live_server, "functions", "invoke", "gsm:1", "--payload", str(payload), "--no-logs")
    assert invoked.exit_code == 0 and '"aggregate_reward_score": 1.0' in invoked.output
    data = tmp_path / "train.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "2+2"}], "completion": ["4", "5"], "reference_answer": "4"},
        {"messages": [{"role": "user", "content": "3+3"}], "completion": ["7", "8"], "reference_answer": "6"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    tested = run_cli(live_server, "functions", "test", "gsm", "--file", str(data), "--json")
    assert tested.exit_code == 0, tested.output
    report = json.loads(tested.output)
    assert (report["samples"], report["mean"], report["flat_share"], report["errors"]) == (4, 0.25, 0.5, 0)
    no_completion = tmp_path / "bare.jsonl"
    no_completion.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}))
    refused = run_cli(live_server, "functions", "test", "gsm", "--file", str(no_completion))
    assert refused.exit_code == 2 and "no completion" in refused.output
    no_model = run_cli(live_server, "functions", "test", "gsm", "--file", str(no_completion), "--model", "nope")
    assert no_model.exit_code == 1 and "--model needs inference" in no_model.output
    human = run_cli(live_server, "functions", "test", "gsm", "--file", str(data))
    assert "mean 0.2500" in human.output and "no learning signal): 50%" in human.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "other.py").write_text("x = 1\n")
    bad = run_cli(live_server, "functions", "deploy", str(empty), "--name", "gsm2")
    assert bad.exit_code == 1 and "InvalidParameterValueException" in bad.output


@needs_sandbox
def test_graders_run_calls_a_deployed_function(lam: Any, live_server: LiveServer) -> None:
    create(lam, FunctionName="judge", Code={"ZipFile": make_zip(GSM_REWARD)}, Publish=True)
    lam.update_function_code(FunctionName="judge", ZipFile=make_zip(GSM_REWARD.replace("1.0 if", "0.5 if")))
    lam.create_alias(FunctionName="judge", Name="prod", FunctionVersion="1")
    client = live_server.openai_client()
    grader = {"type": "lambda", "name": "g", "lambda": {"function": "judge:prod"}}
    out = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="42", item={"reference_answer": "42"})  # type: ignore[arg-type]
    assert out.reward == 1.0  # version 1 through the alias, not the updated $LATEST (0.5)
    grader["lambda"] = {"function": "judge"}
    latest = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="42", item={"reference_answer": "42"})  # type: ignore[arg-type]
    assert latest.reward == 0.5


@needs_sandbox
def test_reward_contract_through_aws_path(lam: Any, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ARN of another account goes through boto3; here "AWS" is this server, reached as proj_default,
    while the caller is another project (so the ARN's account is foreign to it)."""
    from openrft.functions import reward

    arn = create(lam, FunctionName="judge", Code={"ZipFile": make_zip(GSM_REWARD)}, Publish=True)["FunctionArn"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", live_server.base_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "admin")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", live_server.admin_key)
    item = {"reference_answer": "4"}
    events = [reward.build_reward_event([], item, f"s{i}", c) for i, c in enumerate(["4", "5", "4"])]
    refused = reward.call_reward_function(None, "proj_elsewhere", arn, events, batch_size=2)
    assert refused.errors == [reward.E_INVOCATION] * 3  # the server's AWS identity: only for allowed accounts
    allowed = SimpleNamespace(settings=Settings(outbound_aws_accounts=[arn.split(":")[4]]))
    result = reward.call_reward_function(allowed, "proj_elsewhere", arn, events, batch_size=2)
    assert result.rewards == [1.0, 0.0, 1.0] and result.errors == [None, None, None]
    assert result.metric_means == {"exact": 1.0}
    assert result.audit["version"] == "1" and result.audit["function_name"] == "judge"
    assert result.audit["code_sha256"] == lam.get_function_configuration(FunctionName=arn)["CodeSha256"]
