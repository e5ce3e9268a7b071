"""The probes of a hostile tenant (issue 11), each sent exactly as found, against a real server.

The caller is a non-admin key of a second project; the server runs with an admin key in its
environment, as an installation does. Each probe must be refused with a clear 400 naming the field
(or contained as a per-sample error), nothing may reach the tenant's listener, and the server stays
healthy. The sandbox and zip probes live in tests/sandbox/; the OpenAPI fuzz test in test_openapi_fuzz.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openrft.settings import Settings
from tests.conftest import ADMIN_KEY, LiveServer
from tests.doubles.fake_judge import fake_judge
from tests.inference.tiny import TinyModels, tiny_dirs_fixture, tiny_fixture  # noqa: F401

MODEL = "smollm2-135m-instruct"


@dataclass
class Listener:
    """A tenant's HTTP listener on loopback: records what the server sends it."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def listener() -> Iterator[Listener]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append({"path": self.path, "authorization": self.headers.get("authorization"), "body": body})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"choices": [{"message": {"content": "1"}, "finish_reason": "stop"}]}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Listener(url=f"http://127.0.0.1:{server.server_address[1]}/v1", requests=seen)
    server.shutdown()
    server.server_close()


@pytest.fixture
def tenant_key(live_server: LiveServer) -> str:
    """A non-admin key of a second project (not the admin's default project)."""
    with httpx.Client(base_url=live_server.v1 + "/organization", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as h:
        project = h.post("/projects", json={"name": "tenant"}).json()
        account = h.post(f"/projects/{project['id']}/service_accounts", json={"name": "probe"}).json()
    return str(account["api_key"]["value"])


@pytest.fixture
def tenant(live_server: LiveServer, tenant_key: str) -> httpx.Client:
    return httpx.Client(base_url=live_server.v1, headers={"Authorization": f"Bearer {tenant_key}"}, timeout=60)


def judge(api_base: str, **extras: Any) -> dict[str, Any]:
    return {
        "type": "score_model",
        "name": "j",
        "model": MODEL,
        "input": [{"role": "user", "content": "grade {{sample.output_text}}"}],
        "openrft": {"api_base": api_base, **extras},
    }


def upload(tenant: httpx.Client, content: bytes) -> httpx.Response:
    return tenant.post("/files", data={"purpose": "fine-tune"}, files={"file": ("t.jsonl", content)})


def refused(response: httpx.Response, param: str, *fragments: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return dict(error)


def healthy(live_server: LiveServer) -> None:
    assert httpx.get(live_server.base_url + "/health").json()["status"] == "ok"


# ---- finding 1: secret exfiltration through a judge's api_key_env ----------------------------------


def test_the_admin_key_never_reaches_a_tenant_listener(live_server: LiveServer, tenant: httpx.Client,
                                                       listener: Listener) -> None:  # fmt: skip
    probe = {
        "grader": judge(listener.url, api_key_env="OPENRFT_ADMIN_KEY"),
        "model_sample": "hello",
        "item": {},
    }
    for path in ("/fine_tuning/alpha/graders/run", "/fine_tuning/alpha/graders/validate"):
        refused(tenant.post(path, json=probe), "grader.openrft.api_base", "loopback", "OPENRFT_OUTBOUND_ALLOW")
    assert listener.requests == []
    healthy(live_server)


@pytest.fixture
def loopback_allowed(home: Path) -> Settings:
    """An operator who allows loopback calls (and one secret for one judge URL)."""
    return Settings(home=home, admin_key=ADMIN_KEY, outbound_allow=["127.0.0.1"],
                    outbound_secrets={"JUDGE_KEY_FOR_TESTS": ["http://127.0.0.1:1/v1"]})  # fmt: skip


def test_no_answer_reveals_the_servers_environment(loopback_allowed: Settings, listener: Listener,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Even where loopback is allowed: OPENRFT_* and unlisted variables are refused alike, set or not."""
    from openrft.api.server import start_in_thread

    monkeypatch.setenv("HOME_IS_SET", "x")
    server = start_in_thread(loopback_allowed, embedded_worker=False)
    try:
        http = httpx.Client(base_url=server.base_url + "/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        messages = set()
        for name in ("OPENRFT_ADMIN_KEY", "HOME_IS_SET", "NO_SUCH_VARIABLE_ANYWHERE"):
            body = {"grader": judge(listener.url, api_key_env=name), "model_sample": "hello", "item": {}}
            error = refused(http.post("/fine_tuning/alpha/graders/run", json=body), "grader.openrft.api_key_env")
            messages.add(error["message"].replace(name, "NAME"))
        assert len(messages) == 1 and "OPENRFT_OUTBOUND_SECRETS" in messages.pop()
        # A listed secret goes only to its own URL prefix, not to the tenant's listener.
        body = {"grader": judge(listener.url, api_key_env="JUDGE_KEY_FOR_TESTS"), "model_sample": "x", "item": {}}
        refused(http.post("/fine_tuning/alpha/graders/validate", json=body), "grader.openrft.api_key_env",
                "may not be sent to")  # fmt: skip
    finally:
        server.stop(timeout_s=10)
    assert listener.requests == []


# ---- finding 2: server-side request forgery ---------------------------------------------------------


def test_the_server_calls_no_address_the_operator_did_not_allow(live_server: LiveServer, tenant: httpx.Client,
                                                                 listener: Listener) -> None:  # fmt: skip
    own_api = live_server.v1 + "/organization/projects"
    targets = [
        (listener.url, "loopback"),
        (own_api, "loopback"),
        ("http://localhost:9/x", "resolved from 'localhost'"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://[::1]:9/", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 spelt as one number
    ]
    for url, why in targets:
        lam = {"type": "lambda", "lambda": {"function": url}}
        body = {"grader": lam, "model_sample": "hello", "item": {}}
        refused(tenant.post("/fine_tuning/alpha/graders/run", json=body), "grader.lambda.function", why)
        body = {"grader": judge(url), "model_sample": "hello", "item": {}}
        refused(tenant.post("/fine_tuning/alpha/graders/run", json=body), "grader.openrft.api_base", why)
    assert listener.requests == []
    healthy(live_server)


def test_a_redirect_to_a_refused_address_is_not_followed(listener: Listener) -> None:
    """The operator allows one judge; it redirects to another loopback port, which is refused."""
    from openrft.graders import GradingContext, Sample, grade_batch

    with fake_judge() as (judge_url, _state):
        port = judge_url.split(":")[2].split("/")[0]
        redirector = _redirector(listener.url + "/chat/completions")
        try:
            settings = Settings(outbound_allow=[f"127.0.0.1:{redirector[1]}", f"127.0.0.1:{port}"])
            ctx = GradingContext(project_id="p", settings=settings)
            grader = judge(f"http://127.0.0.1:{redirector[1]}/v1", max_retries=0)
            result = grade_batch(grader, [Sample(output_text="x")], [{}], ctx=ctx)
        finally:
            redirector[0].shutdown()
            redirector[0].server_close()
    assert result.errors == ["model_grader_server_error"]
    assert "OPENRFT_OUTBOUND_ALLOW" in (result.error_details[0] or "")
    assert listener.requests == []


def _redirector(target: str) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("location", target)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


# ---- finding 3: deep input ------------------------------------------------------------------------


def test_deep_and_non_finite_json_lines_are_400s_naming_the_line(live_server: LiveServer, tenant: httpx.Client) -> None:
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    cases = [
        ('{"messages": [{"role": "user", "content": "hi"}], "x": ' + "[" * 10_000 + "]" * 10_000 + "}",
         "line 2: invalid JSON: JSON nested more than 64 levels deep"),
        ('{"messages": [{"role": "user", "content": "hi"}], "score": NaN}', "line 2: invalid JSON: NaN is not valid"),
        ('{"messages": [{"role": "user", "content": "hi"}], "score": -Infinity}', "line 2: invalid JSON: -Infinity"),
        ('{"messages": [{"role": "user", "content": "hi"}], "score": 1e999}', "line 2: invalid JSON: 1e999 is out"),
    ]  # fmt: skip
    for line, message in cases:
        content = (good + "\n" + line + "\n").encode()
        response = upload(tenant, content)
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]["message"]
    assert tenant.get("/files").json()["data"] == []  # nothing half-written left behind
    healthy(live_server)


def test_a_long_formula_is_a_400_on_validate_and_on_job_creation(live_server: LiveServer, tenant: httpx.Client) -> None:
    sc = {"type": "string_check", "name": "a", "input": "{{sample.output_text}}", "reference": "x", "operation": "eq"}
    multi = {"type": "multi", "name": "m", "graders": {"a": sc}, "calculate_output": "+".join(["a"] * 2000)}
    assert len(multi["calculate_output"]) < 4096
    refused(tenant.post("/fine_tuning/alpha/graders/validate", json={"grader": multi}), "grader.calculate_output",
            "nested more than 100 levels")  # fmt: skip
    train = upload(tenant, b'{"messages": [{"role": "user", "content": "q"}]}\n').json()
    job = {"model": MODEL, "training_file": train["id"],
           "method": {"type": "reinforcement", "reinforcement": {"grader": multi}}}  # fmt: skip
    refused(tenant.post("/fine_tuning/jobs", json=job), "method.reinforcement.grader.calculate_output", "nested")
    healthy(live_server)


def test_a_deep_request_body_is_a_400_on_every_surface(live_server: LiveServer, tenant: httpx.Client,
                                                        tenant_key: str) -> None:  # fmt: skip
    deep = "[" * 10_000 + "]" * 10_000
    body = '{"grader": {"type": "string_check"}, "model_sample": "x", "item": ' + deep + "}"
    response = tenant.post("/fine_tuning/alpha/graders/run", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "request body: JSON nested more than 64 levels deep"
    nan = tenant.post("/fine_tuning/jobs", content=b'{"model": NaN}', headers={"content-type": "application/json"})
    assert nan.status_code == 400 and "NaN is not valid JSON" in nan.json()["error"]["message"]
    aws = httpx.post(live_server.base_url + "/2015-03-31/functions", content=deep,
                     headers={"content-type": "application/json", "Authorization": f"Bearer {tenant_key}"})  # fmt: skip
    assert aws.status_code == 400 and aws.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    # A model sample that is deep JSON is graded as text (not parsed), not a crash.
    sc = {"type": "string_check", "name": "s", "input": "{{sample.output_text}}", "reference": "x", "operation": "eq"}
    run = tenant.post("/fine_tuning/alpha/graders/run", json={"grader": sc, "model_sample": deep})
    assert run.status_code == 200 and run.json()["reward"] == 0.0
    healthy(live_server)


# ---- finding 6: bounds at job creation --------------------------------------------------------------


def test_unbounded_hyperparameters_and_missing_functions_are_refused_at_creation(
    live_server: LiveServer, tenant: httpx.Client
) -> None:
    train = upload(tenant, b'{"messages": [{"role": "user", "content": "q"}]}\n').json()
    sc = {"type": "string_check", "name": "a", "input": "{{sample.output_text}}", "reference": "x", "operation": "eq"}

    def job(grader: dict[str, Any] = sc, **hp: Any) -> httpx.Response:
        method = {"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": hp}}
        return tenant.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": train["id"], "method": method})

    hp = "method.reinforcement.hyperparameters"
    refused(job(n_epochs=10**9), f"{hp}.n_epochs", "<= 100")
    refused(job(samples_per_prompt=100_000), f"{hp}.samples_per_prompt", "<= 64")
    refused(job(max_completion_tokens=10**7), f"{hp}.max_completion_tokens", "<= 32768")
    refused(job(max_completion_tokens=9000), f"{hp}.max_completion_tokens", "8192-token context")
    refused(job(max_completion_tokens=5000, reasoning_effort="high"), f"{hp}.max_completion_tokens", "10000 tokens")
    refused(job(batch_size=1024, samples_per_prompt=64), f"{hp}.batch_size", "at most 4096")
    refused(job(temperature=50), f"{hp}.temperature", "<= 2")
    refused(job({"type": "lambda", "lambda": {"function": "no-such-function:3"}}),
            "method.reinforcement.grader.lambda.function", "no-such-function")  # fmt: skip
    assert tenant.get("/fine_tuning/jobs").json()["data"] == []
    healthy(live_server)


# ---- finding 8: a judge's budget and deadline -------------------------------------------------------


def test_a_local_judge_out_of_time_is_a_server_error_naming_the_deadline(client: openai.OpenAI,
                                                                          tiny: TinyModels) -> None:  # fmt: skip
    grader = {
        "type": "score_model",
        "name": "j",
        "model": tiny.base,
        "input": [{"role": "user", "content": "reply with a number: {{sample.output_text}}"}],
        "openrft": {"timeout_s": 0.001},
    }
    out = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="hello")  # type: ignore[arg-type]
    errors = out.metadata.errors
    assert out.reward == 0.0 and errors.model_grader_server_error
    assert "0.001 s deadline (openrft.timeout_s)" in str(errors.model_grader_server_error_details)
    # The cancelled generation left the engine serving: the next request on the same model answers.
    answer = client.chat.completions.create(model=tiny.base, messages=[{"role": "user", "content": "hi"}], max_tokens=3)
    assert answer.choices[0].finish_reason in ("stop", "length")


def test_a_remote_judge_out_of_time_is_a_server_error_and_the_budget_is_bounded() -> None:
    from openrft.graders import GradingContext, Sample, grade_batch

    with fake_judge() as (url, state):
        settings = Settings(outbound_allow=["127.0.0.1"])
        grader = {**judge(url, timeout_s=0.1, max_retries=3), "input": [{"role": "user", "content": "SLOW 1"}]}
        result = grade_batch(grader, [Sample(output_text="x")], [{}], ctx=GradingContext("p", settings=settings))
    assert result.errors == ["model_grader_server_error"]
    assert "0.1 s deadline" in (result.error_details[0] or "")
    assert state.requests[0]["max_completion_tokens"] == 256  # the default budget of a judge
