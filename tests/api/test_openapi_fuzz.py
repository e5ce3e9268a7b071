"""schemathesis against a real server: no 5xx, no undocumented status code, every response in its schema.

The server is `live_server` (no worker) with the tiny random model registered and a few objects made
first (a file, a job, a function with a version and an alias, a service account), whose ids are the
path parameters' examples, so the fuzzer reaches the answers of real objects and not only 404s. The
generation endpoints run on the tiny model with a small token budget (the fuzzed copy of the document
caps `max_tokens`, `n` and the prompts). schemathesis's examples, coverage and fuzzing phases run with a
fixed seed and bounded examples: about 3,200 requests, 75-110 s on a shared 2-core machine.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import events

from tests.conftest import LiveServer
from tests.inference.tiny import TinyModels, tiny_dirs_fixture, tiny_fixture  # noqa: F401

pytestmark = pytest.mark.timeout(420)  # a hung request fails the run instead of stalling the suite

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",
)
MAX_EXAMPLES = 25  # per operation, fuzzing phase (the examples and coverage phases add their own cases)
GENERATION_MAX_EXAMPLES = 8
GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions")
TRAIN = b"".join(
    json.dumps({"messages": [{"role": "user", "content": f"{i}+1?"}], "answer": str(i + 1)}).encode() + b"\n"
    for i in range(4)
)
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "x",
    "operation": "eq",
}
REWARD = "def lambda_handler(event, context):\n    return {'reward': 1.0}\n"


def _zip_b64(source: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", source)
    return base64.b64encode(buf.getvalue()).decode()


FUNCTION = {
    "FunctionName": "reward",
    "Runtime": "python3.12",
    "Handler": "lambda_function.lambda_handler",
    "Code": {"ZipFile": _zip_b64(REWARD)},
    "Publish": True,
}


def seed_objects(server: LiveServer, tiny: TinyModels) -> dict[str, str]:
    """Make one object of each kind; returns path parameter name -> an id that exists."""
    client = server.openai_client()
    file_id = client.files.create(file=("train.jsonl", TRAIN), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model=tiny.base,
        training_file=file_id,
        method={"type": "reinforcement", "reinforcement": {"grader": GRADER}},
    )
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    lam = f"{server.base_url}/2015-03-31/functions"
    httpx.post(lam, json=FUNCTION, headers=admin).raise_for_status()
    httpx.post(f"{lam}/reward/aliases", json={"Name": "live", "FunctionVersion": "1"}, headers=admin).raise_for_status()
    project = httpx.post(f"{server.v1}/organization/projects", json={"name": "fuzz"}, headers=admin).json()
    account = httpx.post(
        f"{server.v1}/organization/projects/{project['id']}/service_accounts", json={"name": "ci"}, headers=admin
    ).json()
    permission = {"StatementId": "fuzz", "Action": "lambda:InvokeFunction", "Principal": "bedrock.amazonaws.com"}
    httpx.post(f"{lam}/reward/policy", json=permission, headers=admin).raise_for_status()
    iam = f"{server.v1}/organization/projects/{project['id']}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    httpx.post(f"{iam}/roles", json={"name": "fuzz-role", "trust_policy": trust}, headers=admin).raise_for_status()
    grant = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "models:ListModels", "Resource": "*"}],
    }
    httpx.post(f"{iam}/policies", json={"name": "fuzz-policy", "document": grant}, headers=admin).raise_for_status()
    evals = seed_eval(server)
    preflight = httpx.post(
        f"{server.v1}/preflights",
        json={"function": "reward:live", "training_file": file_id, "model": tiny.base},
        headers=admin,
    )
    preflight.raise_for_status()  # stays queued: this server has no worker
    return {
        **evals,
        "preflight_id": preflight.json()["id"],
        "file_id": file_id,
        "job_id": job.id,
        "model_id": tiny.fine_tuned,
        "function_name": "reward",
        "alias": "live",
        "project_id": project["id"],
        "service_account_id": account["id"],
        "key_id": account["api_key"]["id"],
        "statement_id": "fuzz",
        "role_name": "fuzz-role",
        "policy_ref": "fuzz-policy",
        "policy_name": "fuzz-inline",
    }


EVAL = {
    "name": "fuzz",
    "data_source_config": {"type": "custom", "item_schema": {"type": "object"}},
    "testing_criteria": [GRADER],
}
EVAL_RUN = {
    "data_source": {
        "type": "jsonl",
        "source": {"type": "file_content", "content": [{"item": {}, "sample": {"output_text": "x"}}]},
    }
}


def seed_eval(server: LiveServer) -> dict[str, str]:
    """An eval, a queued run of it and one output item (written as the runner would)."""
    from openrft.evals.records import new_output_item_id
    from openrft.ids import now_s
    from openrft.store import schema
    from openrft.store.db import Store

    client = server.openai_client()
    eval_id = client.evals.create(**EVAL).id  # type: ignore[arg-type]
    run_id = client.evals.runs.create(eval_id, **EVAL_RUN).id  # type: ignore[arg-type]
    item_id = new_output_item_id()
    result = {"name": "exact", "type": "string_check", "score": 1.0, "passed": True, "sample": None}
    store = Store(server.settings.db_url)
    with store.begin() as conn:
        conn.execute(
            schema.eval_output_items.insert().values(
                id=item_id,
                run_id=run_id,
                eval_id=eval_id,
                datasource_item_id=0,
                datasource_item={},
                results=[result],
                sample={"output": [{"role": "assistant", "content": "x"}]},
                status="pass",
                created_at=now_s(),
            )
        )
    store.dispose()
    return {"eval_id": eval_id, "run_id": run_id, "output_item_id": item_id}


def body_examples(ids: dict[str, str], model: str) -> dict[str, list[Any]]:
    """Request bodies that succeed, by "METHOD path", so the examples phase checks real answers too."""
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "logprobs": True}
    text = {"model": model, "prompt": "the quick", "max_tokens": 4, "logprobs": 2}
    stream = {"stream": True, "stream_options": {"include_usage": True}}
    job = {
        "model": model,
        "training_file": ids["file_id"],
        "method": {"type": "reinforcement", "reinforcement": {"grader": GRADER}},
    }
    lam = "/2015-03-31/functions/{function_name}"
    return {
        "POST /v1/files": [{"file": TRAIN.decode(), "purpose": "fine-tune"}],
        "POST /v1/fine_tuning/jobs": [job],
        "POST /v1/evals": [EVAL],
        "POST /v1/evals/{eval_id}/runs": [EVAL_RUN],
        "POST /v1/evals/{eval_id}": [{"name": "renamed"}],
        "POST /v1/fine_tuning/alpha/graders/validate": [{"grader": GRADER}],
        "POST /v1/fine_tuning/alpha/graders/run": [{"grader": GRADER, "model_sample": "x", "item": {}}],
        "POST /v1/chat/completions": [chat, chat | stream],
        "POST /v1/completions": [text, text | stream],
        "POST /2015-03-31/functions": [FUNCTION | {"FunctionName": "second"}],
        f"PUT {lam}/code": [{"ZipFile": _zip_b64(REWARD)}],
        f"PUT {lam}/configuration": [{"Timeout": 5}],
        f"POST {lam}/versions": [{}],
        f"POST {lam}/aliases": [{"Name": "beta", "FunctionVersion": "1"}],
        f"PUT {lam}/aliases/{{alias}}": [{"FunctionVersion": "1"}],
        f"POST {lam}/invocations": [{"score": 1}],
    }


def fuzzed_document(raw: dict[str, Any], ids: dict[str, str], model: str) -> dict[str, Any]:
    """The served document with examples (path parameters, bodies) and small generation budgets."""
    doc = copy.deepcopy(raw)
    bodies = body_examples(ids, model)
    for path, path_item in doc["paths"].items():
        for method, operation in path_item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in ids:
                    parameter["example"] = ids[parameter["name"]]
            values = bodies.get(f"{method.upper()} {path}", [])
            for media in operation.get("requestBody", {}).get("content", {}).values() if values else ():
                media["examples"] = {f"ok{i}": {"value": value} for i, value in enumerate(values)}
    schemas = doc["components"]["schemas"]
    for name in ("ChatCompletionCreate", "CompletionCreate"):
        props = schemas[name]["properties"]
        props["model"] = {"type": "string", "enum": [model]}
        props["n"] = {"type": "integer", "minimum": 1, "maximum": 2}
        for budget in ("max_tokens", "max_completion_tokens"):
            if budget in props:
                props[budget] = {"type": "integer", "minimum": 1, "maximum": 4}
    schemas["ChatCompletionCreate"]["properties"]["messages"]["maxItems"] = 2
    schemas["CompletionCreate"]["properties"]["prompt"] = {
        "anyOf": [{"type": "string", "maxLength": 40}, {"type": "array", "items": {"type": "string"}, "maxItems": 2}]
    }
    return doc


def fuzz_config(base_url: str, admin_key: str) -> schemathesis.Config:
    """Every phase but stateful, bounded and derandomized; only the contract checks."""
    checks: dict[str, Any] = {"enabled": False} | {name: {"enabled": True} for name in CHECKS}
    config = schemathesis.Config.from_dict(
        {
            "seed": 11,
            "base-url": base_url,
            "headers": {"Authorization": f"Bearer {admin_key}"},
            "request-timeout": 30,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}, "examples": {"fill-missing": True}},
            "checks": checks,
            "operations": [
                {"include-path": list(GENERATION_PATHS), "generation": {"max-examples": GENERATION_MAX_EXAMPLES}}
            ],
        }
    )
    return config


@dataclass
class FuzzRun:
    failures: list[str] = field(default_factory=list)  # readable, with a curl command to reproduce
    requests: dict[str, int] = field(default_factory=dict)  # operation -> requests sent
    succeeded: set[str] = field(default_factory=set)  # operations that answered 2xx at least once
    stop_reason: str | None = None


def run_engine(schema: Any) -> FuzzRun:
    """Run schemathesis's engine (examples, coverage and fuzzing phases) and collect what it found."""
    run = FuzzRun()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            run.requests[recorder.label] = run.requests.get(recorder.label, 0) + len(recorder.interactions)
            if any(i.response is not None and i.response.status_code < 300 for i in recorder.interactions.values()):
                run.succeeded.add(recorder.label)
            for node in (node for nodes in recorder.checks.values() for node in nodes):
                if node.failure_info is not None:
                    failure, curl = node.failure_info.failure, node.failure_info.code_sample
                    run.failures.append(f"{recorder.label}: {failure.title}\n{failure.message}\n{curl}")
        elif isinstance(event, events.NonFatalError):
            run.failures.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            run.stop_reason = str(event.stop_reason)
    return run


def test_api_answers_as_documented(live_server: LiveServer, tiny: TinyModels) -> None:
    ids = seed_objects(live_server, tiny)
    raw = httpx.get(f"{live_server.base_url}/openapi.json").json()
    config = fuzz_config(live_server.base_url, live_server.admin_key)
    started = time.monotonic()
    run = run_engine(schemathesis.openapi.from_dict(fuzzed_document(raw, ids, tiny.base), config=config))
    operations = {f"{method.upper()} {path}" for path, item in raw["paths"].items() for method in item}
    print(
        f"schemathesis: {len(run.requests)}/{len(operations)} operations, {sum(run.requests.values())} requests, "
        f"{len(run.succeeded)} operations answered 2xx, {time.monotonic() - started:.0f} s"
    )
    assert not run.failures, "\n\n".join(dict.fromkeys(run.failures))
    assert run.stop_reason == "completed"
    assert set(run.requests) == operations
    # The seeded ids reach real objects: every read answered 2xx at least once.
    assert {op for op in operations if op.startswith("GET ")} <= run.succeeded
