"""Sandbox throughput: invocations/s and per-call overhead of a trivial reward on batches of 64 samples.

    python -m bench.bench_sandbox [--warm-calls 200] [--cold-calls 5] [--batch 64] [--mode rlimits]

Cold = a new sandboxed worker per call (namespace set-up + interpreter start + handler import); warm =
the same worker reused, as during a training step. Goal on the reference machine: >= 2,000 graded
samples/s warm. Prints a table and one JSON line with the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from openrft.functions.sandbox import CodeBundle, Limits, SandboxPool
from openrft.settings import Settings

LAMBDA_SOURCE = b"""
def lambda_handler(event, context):
    out = []
    for sample in event:
        text = sample["messages"][-1]["content"]
        score = 1.0 if text.strip() == str(sample.get("reference_answer", "")).strip() else 0.0
        out.append({"id": sample["id"], "aggregate_reward_score": score, "metrics_list": []})
    return out
"""
GRADER_SOURCE = b"""
def grade(sample, item):
    return 1.0 if sample["output_text"].strip() == item["reference_answer"] else 0.0
"""
LIMITS = Limits(timeout_s=30, memory_mb=512)


def lambda_batch(n: int) -> list[dict]:
    return [
        {
            "id": f"s{i}",
            "messages": [
                {"role": "user", "content": f"What is {i}+{i}?"},
                {"role": "assistant", "content": str(2 * i)},
            ],
            "reference_answer": str(2 * i),
            "metadata": {"reference_answer": str(2 * i)},
        }
        for i in range(n)
    ]


def grader_batch(n: int) -> list[list[dict]]:
    return [[{"output_text": str(2 * i)}, {"reference_answer": str(2 * i)}] for i in range(n)]


def timed(calls: int, one: Callable[[], None]) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        one()
        times.append(time.perf_counter() - started)
    return times


def run(pool: SandboxPool, kind: str, batch: int, warm_calls: int, cold_calls: int) -> dict[str, float]:
    source, entry, file = (
        (LAMBDA_SOURCE, "reward.lambda_handler", "reward.py")
        if kind == "lambda"
        else (GRADER_SOURCE, "grader.grade", "grader.py")
    )
    payload = lambda_batch(batch) if kind == "lambda" else grader_batch(batch)

    def call(key: str) -> None:
        result = pool.invoke(CodeBundle(key=key, files={file: source}), entry=entry, payload=payload,
                             limits=LIMITS, kind=kind)  # type: ignore[arg-type]  # fmt: skip
        assert result.ok and len(result.value) == batch, result.error

    cold = timed(cold_calls, lambda: call(f"bench/cold/{uuid.uuid4().hex}"))
    warm_key = f"bench/warm/{kind}"
    call(warm_key)  # start the warm worker
    warm = timed(warm_calls, lambda: call(warm_key))
    warm_total = sum(warm)
    return {
        "cold_ms_median": statistics.median(cold) * 1000,
        "warm_ms_median": statistics.median(warm) * 1000,
        "warm_ms_p95": sorted(warm)[int(0.95 * (len(warm) - 1))] * 1000,
        "warm_invocations_per_s": warm_calls / warm_total,
        "warm_samples_per_s": warm_calls * batch / warm_total,
        "cold_samples_per_s": cold_calls * batch / sum(cold),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-calls", type=int, default=200)
    parser.add_argument("--cold-calls", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--mode", choices=["auto", "bubblewrap", "rlimits"], default="auto", help="Sandbox mode.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        pool = SandboxPool(Settings(home=Path(home)), mode=args.mode)
        try:
            print(f"sandbox mode: {pool.mode} ({pool.mode_reason})")
            report = {
                kind: run(pool, kind, args.batch, args.warm_calls, args.cold_calls)
                for kind in ("lambda", "python_grader")
            }
        finally:
            pool.close()
    header = f"{'kind':<14}{'cold ms':>9}{'warm ms':>9}{'p95 ms':>8}{'calls/s':>9}{'samples/s':>11}"
    print(f"batch {args.batch} samples/call\n{header}")
    for kind, row in report.items():
        print(f"{kind:<14}{row['cold_ms_median']:>9.1f}{row['warm_ms_median']:>9.2f}{row['warm_ms_p95']:>8.2f}"
              f"{row['warm_invocations_per_s']:>9.0f}{row['warm_samples_per_s']:>11.0f}")  # fmt: skip
    print(json.dumps({"bench": "sandbox", "mode": pool.mode, "batch": args.batch, **report}))


if __name__ == "__main__":
    main()
