"""Lambda surface throughput: a trivial reward on batches of 64 samples, end to end.

    python -m bench.bench_lambda [--calls 50] [--batch 64]

Two paths, both warm after the first call (the sandbox keeps a worker per function version):
- `boto3 Invoke`: boto3 signs with SigV4, the server verifies it, resolves the function, runs it in the
  sandbox and answers over loopback HTTP (what a user's script or the AWS CLI pays);
- `call_reward_function`: what a training job's `lambda` grader pays in-process (registry look-up,
  Bedrock event, sandbox call, response parsing).
bench_sandbox.py measures the sandbox alone. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3
import botocore.config

from openrft.api.server import start_in_thread
from openrft.functions import reward
from openrft.settings import Settings
from openrft.store.blobs import BlobStore
from openrft.store.db import Store

ADMIN_KEY = "sk-bench-admin-0123456789"
SOURCE = """
def lambda_handler(event, context):
    return [{"id": s["id"], "aggregate_reward_score": float(s["messages"][-1]["content"] == s["reference_answer"])}
            for s in event]
"""


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", SOURCE)
    return buf.getvalue()


def events(n: int) -> list[dict]:
    return [
        reward.build_reward_event(
            [{"role": "user", "content": f"{i}+{i}?"}], {"reference_answer": str(2 * i)}, f"s{i}", str(2 * i)
        )
        for i in range(n)
    ]


def timed(calls: int, one: Callable[[], None]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    one()  # first call: may start the sandboxed worker (cold)
    cold = time.perf_counter() - started
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        one()
        times.append(time.perf_counter() - started)
    return cold, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="openrft-bench-"))
    settings = Settings(home=home, admin_key=ADMIN_KEY)
    server = start_in_thread(settings, embedded_worker=False)
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=server.base_url,
            region_name="us-east-1",
            aws_access_key_id="admin",
            aws_secret_access_key=ADMIN_KEY,
            config=botocore.config.Config(retries={"max_attempts": 0}),
        )
        client.create_function(
            FunctionName="bench", Runtime="python3.12", Role="r", Handler="lambda_function.lambda_handler",
            Code={"ZipFile": code_zip()}, Timeout=30, MemorySize=512, Publish=True,
        )  # fmt: skip
        batch = events(args.batch)
        payload = json.dumps(batch).encode()

        def via_boto3() -> None:
            out = client.invoke(FunctionName="bench:1", Payload=payload)
            assert "FunctionError" not in out, out["Payload"].read()
            out["Payload"].read()

        store = Store.from_settings(settings)
        ctx = type("Ctx", (), {"settings": settings, "store": store, "blobs": BlobStore(settings.blobs_dir)})()

        def via_grader() -> None:
            result = reward.call_reward_function(ctx, "proj_default", "bench:1", batch, batch_size=args.batch)
            assert result.error_count == 0, result.details[:1]

        rows = {}
        for label, fn in (("boto3 Invoke", via_boto3), ("call_reward_function", via_grader)):
            cold, times = timed(args.calls, fn)
            median = statistics.median(times)
            rows[label] = {
                "cold_call_ms": round(cold * 1000, 1),
                "warm_median_ms": round(median * 1000, 2),
                "warm_p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))] * 1000, 2),
                "warm_samples_per_s": round(args.batch / median),
                "warm_calls_per_s": round(1 / median, 1),
            }
        store.dispose()
    finally:
        server.stop(timeout_s=10)
    print(f"{'path':<22} {'cold ms':>9} {'warm med ms':>12} {'p95 ms':>8} {'samples/s':>10} (batch {args.batch})")
    for label, r in rows.items():
        print(
            f"{label:<22} {r['cold_call_ms']:>9} {r['warm_median_ms']:>12} {r['warm_p95_ms']:>8} "
            f"{r['warm_samples_per_s']:>10}"
        )
    print(json.dumps({"bench": "lambda", "batch": args.batch, "calls": args.calls, **rows}))


if __name__ == "__main__":
    main()
