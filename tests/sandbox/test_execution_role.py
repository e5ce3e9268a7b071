"""Execution roles (functions/execution_env.py): each invocation's environment, as AWS Lambda sets it.

A function whose Role is an openrft role of its project gets fresh temporary credentials of that role
on every invocation (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, and the token as
OPENAI_API_KEY), the server's endpoint for boto3 and the openai SDK, and its region; a function with no
role, an AWS role ARN or another project's role gets no credentials; a role that does not trust Lambda
fails the invocation; nothing of the server's environment reaches the function, even by name.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openrft.api.server import ThreadedServer, start_in_thread
from openrft.auth import iam, sts
from openrft.context import AppContext, build_context
from openrft.errors import AccessDenied
from openrft.functions import registry
from openrft.functions.execution_env import CREDENTIAL_VARS, ENDPOINT_VARS, invocation_context
from openrft.functions.relay import INSIDE_URL
from openrft.functions.reward import E_INVOCATION, build_reward_event, call_reward_function
from openrft.functions.sandbox import SandboxPool
from openrft.settings import Settings
from tests.sandbox.conftest import MODES, NO_MODE

ADMIN_KEY = "sk-admin-role-0123456789abcdef"
OTHER_PROJECT = "proj_someone_else"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BEDROCK_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# Prints what an invocation sees (the grader path returns only scores; its log tail carries this line).
ENV_SOURCE = """
import json, os
WATCHED = %r
def lambda_handler(event, context):
    print("ENV " + json.dumps({k: os.environ.get(k) for k in WATCHED}))
    return [{"id": e["id"], "aggregate_reward_score": 1.0} for e in event]
"""
WATCHED = [*CREDENTIAL_VARS, *ENDPOINT_VARS, "OPENAI_BASE_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "MY_SETTING",
           "OPENRFT_ADMIN_KEY", "OPENRFT_DATABASE_URL"]  # fmt: skip


def zipped(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", source)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadedServer, AppContext]]:
    home = tmp_path_factory.mktemp("role-home")
    started = start_in_thread(Settings(home=home, admin_key=ADMIN_KEY), embedded_worker=False)
    port = int(started.base_url.rsplit(":", 1)[1])
    ctx = build_context(Settings(home=home, admin_key=ADMIN_KEY, port=port))
    made = httpx.post(f"{started.base_url}/v1/organization/projects", json={"name": "roles"},
                      headers={"Authorization": f"Bearer {ADMIN_KEY}"})  # fmt: skip
    made.raise_for_status()
    ctx.project_id = made.json()["id"]  # type: ignore[attr-defined]
    with ctx.store.begin() as conn:
        iam.create_role(conn, ctx.project_id, name="judge-caller", trust_policy=LAMBDA_TRUST)  # type: ignore[attr-defined]
        iam.create_role(conn, ctx.project_id, name="bedrock-only", trust_policy=BEDROCK_TRUST)  # type: ignore[attr-defined]
        iam.create_role(conn, OTHER_PROJECT, name="theirs", trust_policy=LAMBDA_TRUST)
    yield started, ctx
    started.stop(timeout_s=10)


@pytest.fixture(scope="module", params=MODES or NO_MODE)
def ctx(request: pytest.FixtureRequest, server: tuple[ThreadedServer, AppContext]) -> Iterator[Any]:
    """The app context with a sandbox pool of one mode (what the graders' ctx carries)."""
    app = server[1]
    pool = SandboxPool(app.settings, mode=request.param)
    app.sandbox = pool  # type: ignore[attr-defined]
    yield app
    pool.close()


def role_arn(ctx: Any, name: str, project: str | None = None) -> str:
    return iam.role_arn(project or ctx.project_id, name, "/")


def deploy(ctx: Any, name: str, role: str | None, source: str = ENV_SOURCE % (WATCHED,)) -> registry.ResolvedFunction:
    env = {"MY_SETTING": "kept", "OPENRFT_ADMIN_KEY": "named-by-the-user", "AWS_ACCESS_KEY_ID": "user-set"}
    spec = registry.FunctionSpec(runtime="python3.12", handler="lambda_function.lambda_handler", timeout_s=30,
                                 memory_mb=256, environment=env, role=role)  # fmt: skip
    try:
        registry.create_function(ctx.store, ctx.blobs, ctx.project_id, name, spec, zipped(source), publish=False)
    except Exception as exc:  # the module's other mode deployed it already
        if "already exist" not in str(exc):
            raise
    return registry.resolve_function(ctx.store, ctx.project_id, name, ctx.blobs)


def seen(ctx: Any, fn: registry.ResolvedFunction) -> dict[str, str | None]:
    """One invocation through the lambda grader's path; what the function saw."""
    event = build_reward_event([{"role": "user", "content": "q"}], {"answer": "a"}, "s1", completion="a")
    result = call_reward_function(ctx, ctx.project_id, fn.name, [event])
    assert result.errors == [None], result.details
    [line] = [ln for ln in "".join(result.logs).splitlines() if ln.startswith("ENV ")]
    return json.loads(line[4:])


def test_role_gives_fresh_credentials_of_that_role_each_invocation(ctx: Any) -> None:
    fn = deploy(ctx, "with-role", role_arn(ctx, "judge-caller"))
    first, second = seen(ctx, fn), seen(ctx, fn)
    assert first["AWS_ACCESS_KEY_ID"] != second["AWS_ACCESS_KEY_ID"]  # issued per invocation
    assert first["AWS_SESSION_TOKEN"] != second["AWS_SESSION_TOKEN"]
    for env in (first, second):
        key, secret, token = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]
        assert key and key.startswith("ASIA") and key != "user-set"  # reserved: the function's own value loses
        assert secret and token
        assert env["OPENAI_API_KEY"] == token  # the session token is the openai SDK's Bearer secret
        principal, clear = sts.secret_for_access_key(ctx.store, ctx.cipher, key, token)
        assert clear == secret
        assert principal.role_arn == role_arn(ctx, "judge-caller")
        assert principal.session_name == "with-role"  # the function's name, as on AWS
        assert principal.project_id == ctx.project_id
        assert sts.principal_for_session_token(ctx.store, token).role_arn == role_arn(ctx, "judge-caller")
    assert first["AWS_REGION"] == first["AWS_DEFAULT_REGION"] == "us-east-1"
    assert all(first[v] == INSIDE_URL for v in ENDPOINT_VARS)
    assert first["OPENAI_BASE_URL"] == INSIDE_URL + "/v1"
    assert first["MY_SETTING"] == "kept"
    assert first["OPENRFT_ADMIN_KEY"] is None and first["OPENRFT_DATABASE_URL"] is None


@pytest.mark.parametrize(
    "role",
    [None, "arn:aws:iam::123456789012:role/reward", iam.role_arn(OTHER_PROJECT, "theirs", "/"), "no-such-role"],
    ids=["no role", "an AWS role", "another project's role", "a deleted role"],
)
def test_no_openrft_role_of_the_project_no_credentials(ctx: Any, role: str | None) -> None:
    role = role_arn(ctx, role) if role == "no-such-role" else role
    fn = deploy(ctx, f"no-creds-{sum(map(ord, str(role))) % 10_000}", role)
    env = seen(ctx, fn)
    assert {k: env[k] for k in CREDENTIAL_VARS} == dict.fromkeys(CREDENTIAL_VARS)  # none set at all
    assert env["AWS_ENDPOINT_URL"] == INSIDE_URL  # the endpoint is there: a key the user configures may use it


def test_role_that_does_not_trust_lambda_fails_the_invocation(ctx: Any) -> None:
    fn = deploy(ctx, "untrusted-role", role_arn(ctx, "bedrock-only"))
    with pytest.raises(AccessDenied, match="cannot be assumed by Lambda"):
        invocation_context(ctx, fn, "req-1")
    events = [build_reward_event([], {}, f"s{i}", completion="x") for i in range(3)]
    result = call_reward_function(ctx, ctx.project_id, fn.name, events)
    assert result.errors == [E_INVOCATION] * 3
    assert result.rewards == [0.0, 0.0, 0.0]
    assert "cannot be assumed by Lambda" in str(result.details[0])


CALLER_SOURCE = """
import json, os, urllib.request, urllib.error
def lambda_handler(event, context):
    req = urllib.request.Request(os.environ["OPENAI_BASE_URL"] + "/models",
                                 headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]})
    try:
        status = urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return [{"id": e["id"], "aggregate_reward_score": float(status)} for e in event]
"""


def test_the_role_s_token_works_through_the_relay(ctx: Any, server: tuple[ThreadedServer, AppContext]) -> None:
    arn = role_arn(ctx, "judge-caller")
    token = sts.issue_for_service(ctx.store, ctx.cipher, project_id=ctx.project_id, role_arn=arn,
                                  session_name="probe").session_token  # fmt: skip
    direct = httpx.get(server[0].base_url + "/v1/models", headers={"Authorization": f"Bearer {token}"})
    if direct.status_code == 401:
        pytest.skip("the server does not accept a session token as a Bearer secret yet (the lead's wiring)")
    fn = deploy(ctx, "token-caller", role_arn(ctx, "judge-caller"), CALLER_SOURCE)
    result = call_reward_function(ctx, ctx.project_id, fn.name, [build_reward_event([], {}, "s1", completion="x")])
    assert result.errors == [None], result.details
    assert result.rewards == [float(direct.status_code)]  # what the API answers the role, from inside too
