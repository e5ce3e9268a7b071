"""The Bedrock reward contract: the event built, every malformed response, and the three targets."""

from __future__ import annotations

import io
import json
import math
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from openrft.functions import registry
from openrft.functions import reward as rw
from openrft.settings import Settings
from openrft.store.blobs import BlobStore
from openrft.store.db import Store

IDS = ["a", "b"]


def ok(sample_id: str, score: Any, **extra: Any) -> dict[str, Any]:
    return {"id": sample_id, "aggregate_reward_score": score, **extra}


def test_build_event_puts_fields_top_level_and_under_metadata() -> None:
    item = {"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": {"x": 4}, "id": "row-7", "k": 1}
    event = rw.build_reward_event(item["messages"], item, "s-1", completion="4")
    assert event == {
        "id": "s-1",
        "messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
        "reference_answer": {"x": 4},
        "k": 1,
        "metadata": {"reference_answer": {"x": 4}, "id": "row-7", "k": 1},
    }
    assert item["messages"] == [{"role": "user", "content": "2+2?"}]  # the caller's list is untouched


def test_parse_good_response_with_metrics_and_wrapper() -> None:
    metrics = [{"name": "acc", "value": 1, "type": "Reward"}, {"name": "len", "value": 0.5, "type": "Metric"}]
    body = [ok("b", 0.25), ok("a", 1, metrics_list=metrics)]  # order does not matter, ids do
    for raw in (body, json.dumps(body).encode(), {"statusCode": 200, "body": json.dumps(body)}):
        parsed = rw.parse_reward_response(raw, IDS)
        assert parsed.rewards == [1.0, 0.25] and parsed.errors == [None, None]
        assert parsed.metrics == [{"acc": 1.0, "len": 0.5}, {}]
        assert parsed.metric_types == [{"acc": "Reward", "len": "Metric"}, {}]  # the monitor reads the types
    assert rw.metric_means([{"acc": 1.0}, {"acc": 0.0, "len": 2.0}]) == {"acc": 0.5, "len": 2.0}


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (b"not json", [rw.E_INVALID_RESPONSE] * 2),
        ({"scores": []}, [rw.E_INVALID_RESPONSE] * 2),
        ({"statusCode": 500, "body": "[]"}, [rw.E_INVALID_RESPONSE] * 2),
        ({"errorMessage": "boom", "errorType": "ValueError"}, [rw.E_FUNCTION_ERROR] * 2),
        ([ok("a", 1.0)], [rw.E_WRONG_COUNT] * 2),
        ([ok("a", 1.0), ok("b", 1.0), ok("c", 1.0)], [rw.E_WRONG_COUNT] * 2),
        ([ok("a", 1.0), ok("zzz", 1.0)], [None, rw.E_MISSING_ID]),
        ([ok("a", 1.0), {"aggregate_reward_score": 1.0}], [None, rw.E_MISSING_ID]),
        ([ok("a", 1.0), ok("a", 0.0)], [rw.E_DUPLICATE_ID, rw.E_MISSING_ID]),
        ([ok("a", "0.9"), ok("b", None)], [rw.E_INVALID_SCORE] * 2),
        ([ok("a", True), {"id": "b"}], [rw.E_INVALID_SCORE] * 2),
        ([ok("a", math.nan), ok("b", math.inf)], [rw.E_NON_FINITE] * 2),
        ([ok("a", 0.5), "b"], [None, rw.E_MISSING_ID]),
    ],
)
def test_malformed_responses_are_per_sample_errors(raw: Any, errors: list[str | None]) -> None:
    parsed = rw.parse_reward_response(raw, IDS)
    assert parsed.errors == errors
    assert all(r == 0.0 for r, e in zip(parsed.rewards, errors, strict=True) if e is not None)
    assert all(d for d, e in zip(parsed.details, errors, strict=True) if e is not None)


def test_nan_in_json_text_is_non_finite() -> None:
    parsed = rw.parse_reward_response(
        b'[{"id": "a", "aggregate_reward_score": NaN}, {"id": "b", "aggregate_reward_score": 1}]', IDS
    )
    assert parsed.errors == [rw.E_NON_FINITE, None] and parsed.rewards == [0.0, 1.0]


def test_malformed_metrics_are_skipped_not_fatal() -> None:
    bad = [
        {"name": "x", "value": "high"},
        {"value": 1},
        "m",
        {"name": "y", "value": math.inf},
        {"name": "z", "value": 2},
    ]
    parsed = rw.parse_reward_response([ok("a", 1, metrics_list=bad), ok("b", 0, metrics_list="no")], IDS)
    assert parsed.errors == [None, None] and parsed.metrics == [{"z": 2.0}, {}]


# ---- targets ---------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        events = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path == "/fail":
            self.send_response(500)
            self.end_headers()
            return
        body = json.dumps([ok(e["id"], len(e["messages"][-1]["content"]) / 10) for e in events]).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(5)


def events(n: int) -> list[dict[str, Any]]:
    return [
        rw.build_reward_event([{"role": "user", "content": "q"}], {"answer": i}, f"s{i}", "x" * i) for i in range(n)
    ]


@dataclass
class EgressOnly:
    settings: Settings


LOOPBACK = EgressOnly(Settings(outbound_allow=["127.0.0.1"]))


def test_http_target_in_batches(http_endpoint: str) -> None:
    denied = rw.call_reward_function(None, "proj_default", http_endpoint + "/score", events(2))
    assert denied.errors == [rw.E_INVOCATION] * 2 and "OPENRFT_OUTBOUND_ALLOW" in str(denied.details[0])
    result = rw.call_reward_function(LOOPBACK, "proj_default", http_endpoint + "/score", events(5), batch_size=2)
    assert result.rewards == [0.0, 0.1, 0.2, 0.3, 0.4] and result.errors == [None] * 5
    assert result.audit["function_name"].endswith("/score")
    failed = rw.call_reward_function(LOOPBACK, "proj_default", http_endpoint + "/fail", events(3))
    assert failed.errors == [rw.E_INVOCATION] * 3 and "HTTP 500" in str(failed.details[0])
    unreachable = rw.call_reward_function(LOOPBACK, "proj_default", "http://127.0.0.1:1/x", events(1))
    assert unreachable.errors == [rw.E_INVOCATION]


def test_foreign_arn_without_boto3_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_boto3(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "boto3":
            raise ImportError("no boto3")
        return real_import(name, *args, **kwargs)

    arn = "arn:aws:lambda:us-west-2:999999999999:function:f"
    refused = rw.call_reward_function(None, "proj_default", arn, events(1))  # the server's AWS identity: opt-in
    assert refused.errors == [rw.E_INVOCATION] and "OPENRFT_OUTBOUND_AWS_ACCOUNTS" in str(refused.details[0])
    monkeypatch.setattr(builtins, "__import__", no_boto3)
    allowed = EgressOnly(Settings(outbound_aws_accounts=["999999999999"]))
    with pytest.raises(RuntimeError, match=r"openrft\[aws\]"):
        rw.call_reward_function(allowed, "proj_default", arn, events(1))


@dataclass
class Ctx:
    settings: Settings
    store: Store
    blobs: BlobStore


SOURCE = """
import time
def lambda_handler(event, context):
    out = []
    for e in event:
        text = e["messages"][-1]["content"]
        if text == "sleep":
            time.sleep(30)
        if text == "raise":
            raise RuntimeError("bad sample")
        score = {"nan": float("nan"), "str": "high"}.get(text, 1.0 if text == str(e["reference_answer"]) else 0.0)
        out.append({"id": e["id"], "aggregate_reward_score": score,
                    "metrics_list": [{"name": "exact", "value": 1.0 if score == 1.0 else 0.0, "type": "Metric"}]})
    return out
"""


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", source)
    return buf.getvalue()


def _sandbox_missing() -> str | None:
    try:
        from openrft.functions.sandbox import detect_mode
    except Exception as exc:  # absent or half-built
        return f"sandbox runtime not importable: {exc!r}"
    mode, why = detect_mode()
    return f"no sandbox on this host: {why}" if mode == "unavailable" else None


@pytest.mark.skipif(_sandbox_missing() is not None, reason=str(_sandbox_missing()))
def test_local_function_scores_errors_and_audit(settings: Settings) -> None:
    ctx = Ctx(settings, Store.from_settings(settings), BlobStore(settings.blobs_dir))
    from openrft.auth.keys import ensure_bootstrap

    ensure_bootstrap(ctx.store, settings)
    spec = registry.FunctionSpec(runtime="python3.12", handler="lambda_function.lambda_handler", timeout_s=2)
    created = registry.create_function(ctx.store, ctx.blobs, "proj_default", "grade", spec, _zip(SOURCE), publish=True)
    item = {"reference_answer": "4"}
    good = [rw.build_reward_event([], item, f"g{i}", c) for i, c in enumerate(["4", "5", "nan", "str"])]
    result = rw.call_reward_function(ctx, "proj_default", "grade:1", good, batch_size=4)
    assert result.rewards == [1.0, 0.0, 0.0, 0.0]
    assert result.errors == [None, None, rw.E_NON_FINITE, rw.E_INVALID_SCORE]
    assert result.metric_means == {"exact": 0.5}
    assert result.audit == {
        "function_name": "grade",
        "version": "1",
        "code_sha256": created["code_sha256"],
        "arn": created and registry.resolve_function(ctx.store, "proj_default", "grade:1", ctx.blobs).arn,
    }
    raised = rw.call_reward_function(ctx, "proj_default", "grade", [rw.build_reward_event([], item, "r", "raise")])
    assert raised.errors == [rw.E_FUNCTION_ERROR] and "bad sample" in str(raised.details[0])
    slow = rw.call_reward_function(ctx, "proj_default", "grade", [rw.build_reward_event([], item, "t", "sleep")])
    assert slow.errors == [rw.E_TIMEOUT]
    ctx.store.dispose()
