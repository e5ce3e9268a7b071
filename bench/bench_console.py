"""The console's job page and samples page with a big job: time to first paint and to the data drawn.

One real server (no worker) on a fresh OPENRFT_HOME. The job is seeded through the store as the trainer
writes it: `--steps` metrics events (training/metrics.py step_event: a lambda grader with two metrics_list
components, the monitor's signals and detectors, a validation every `--eval-every` steps), a reward-hacking
warning every 500 steps, the audit event, and `--groups` sample groups of `--completions` completions for
each of the last `--sample-steps` steps (the trainer keeps at most Settings.samples_per_job = 20,000 groups
per job, so 200 groups a step fit in 100 steps).

Chromium (Debian's /usr/bin/chromium, through Playwright) signs in, then opens each page `--runs` times in a
fresh tab and reads `performance.getEntriesByType('paint')` (first paint, first contentful paint), the
navigation timing (HTML received) and the page's own marks: `openrft:curves-drawn` (job.js: every chart has
all the steps) and `openrft:samples-shown` (samples.js: the step's groups and histogram are in the page).
Also timed: GET /v1/fine_tuning/jobs/{id}/metrics (all steps) and /samples?step=N, from Python.

    python -m bench.bench_console [--steps 10000] [--groups 200] [--completions 4] [--sample-steps 100] [--runs 3]

Prints a table of medians (ms) and one JSON line. Target: first paint under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from openrft.api.server import start_in_thread
from openrft.auth.keys import authenticate_bearer
from openrft.ids import new_id, now_s
from openrft.settings import Settings
from openrft.store import schema
from openrft.store.db import Store
from openrft.training.metrics import StepStats, step_event

ADMIN_KEY = "sk-admin-bench-console-0123456789"
CHROMIUM = os.environ.get("OPENRFT_CHROMIUM", "/usr/bin/chromium")
DETECTORS = ["collapse", "length_drift", "component_dominance", "entropy_collapse", "no_signal", "degeneration",
             "penalty_rising", "train_valid_divergence", "guard_divergence", "kl_drift"]  # fmt: skip
SIGNALS = ["distinct_within_groups", "distinct_across_prompts", "repeated_ngram_rate", "cross_prompt_phrase_share",
           "similarity_within_groups", "similarity_across_prompts"]  # fmt: skip


def metrics_event(step: int, total: int, eval_every: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A metrics event as a lambda-graded job writes it (the shape of training/trainer.py's)."""
    progress = step / total
    reward = min(1.0, 0.2 + 0.6 * progress + rng.gauss(0, 0.05))
    valid = reward - 0.05 if step % eval_every == 0 else None
    stats = StepStats(
        reward_mean=reward,
        advantage_mean=rng.gauss(0, 0.01),
        pg_loss=rng.gauss(0, 0.1),
        kl=0.02 * progress + abs(rng.gauss(0, 0.002)),
        entropy=2.5 - progress + rng.gauss(0, 0.05),
        grad_norm=abs(rng.gauss(1.0, 0.3)),
        response_length_mean=60 + 40 * progress + rng.gauss(0, 3),
        frac_reward_zero_std=max(0.0, 0.3 - 0.2 * progress),
        learning_rate=1e-5,
    )
    head = {"name": "reward", "type": "lambda"}
    train = {
        "scores": {"train_reward_mean": reward, "graders": [head | {"train_reward_mean": reward}]},
        "errors": {"graders": [head | {"train_python_grader_runtime_error_mean": 0.0}]},
        "timing": {"graders": [head | {"train_execution_latency_mean": 0.01}]},
    }
    fragments = {"scores": {"graders": [head | {"valid_reward_mean": valid}]}} if valid is not None else None
    parts = {"correct": reward, "format": min(1.0, reward + 0.1)}
    signals = {name: rng.random() for name in SIGNALS} | {"components": parts, "penalties": {"length": 0.1 * progress}}
    return step_event(
        step=step,
        total_steps=total,
        stats=stats,
        train_fragments=train,
        valid_fragments=fragments,
        valid_reward_mean=valid,
        timing_s={
            "sampling": 2.0,
            "grading": 0.3,
            "training": 1.1,
            "eval": 0.0,
            "samples": 0.01,
            "full_iteration": 3.4,
        },
        extra=parts | {"length": 0.1 * progress},
        reward_hacking={name: rng.random() for name in DETECTORS},
        signals=signals,
        kl_eval=0.03 * progress if valid is not None else None,
    )


def seed_job(store: Store, project_id: str, args: argparse.Namespace) -> str:
    """The job row, its events and its samples, written as the API and the trainer write them."""
    rng = random.Random(0)
    job_id = "ftjob-bench" + new_id("")[:12]
    created = now_s() - 3600
    grader = {"type": "lambda", "name": "reward", "lambda": {"function": "bench-reward:live"}}
    with store.begin() as conn:
        conn.execute(
            schema.jobs.insert().values(
                id=job_id, project_id=project_id, model="smollm2-135m-instruct", training_file="file-bench",
                seed=1, method={"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters":
                {"batch_size": 8, "samples_per_prompt": args.completions, "n_epochs": 1}}},
                status="running", result_files=[], created_at=created, attempts=1,
                estimated_finish=now_s() + 600,
            )
        )  # fmt: skip
    events = []

    def event(message: str, *, level: str = "info", type: str = "message", data: Any = None) -> None:
        events.append({"id": new_id("ftevent-"), "job_id": job_id, "created_at": created, "level": level,
                       "message": message, "type": type, "data": data})  # fmt: skip

    audit = {"function_name": "bench-reward", "version": "3", "code_sha256": "q1w2e3r4t5y6u7i8o9p0=", "alias": "live"}
    event("Grading with lambda grader 'reward': ...", data={"grader": grader, "audit": [audit]})
    for step in range(1, args.steps + 1):
        message, data = metrics_event(step, args.steps, args.eval_every, rng)
        event(message, type="metrics", data=data)
        if step % 500 == 0:
            event(f"Reward hacking signal length_drift: step {step}.", level="warn",
                  data={"signal": "length_drift", "step": step, "values": {"step": step, "length_change": 0.4},
                        "fix": "Cap the length.", "sample_ids": []})  # fmt: skip
    with store.begin() as conn:
        for i in range(0, len(events), 2000):
            conn.execute(schema.job_events.insert(), events[i : i + 2000])
    text = "The answer is 42 because six times seven is forty-two; checking the arithmetic once more. " * 3
    first = args.steps - args.sample_steps + 1
    for step in range(first, args.steps + 1):
        rows = []
        for g in range(args.groups):
            rewards = [rng.choice([0.0, 0.5, 1.0]) for _ in range(args.completions)]
            mean = statistics.fmean(rewards)
            completions = [
                {"text": text, "reward": r, "components": {"correct": r, "format": 1.0}, "advantage": r - mean,
                 "completion_tokens": 60, "error": None}
                for r in rewards
            ]  # fmt: skip
            rows.append({"id": new_id("ftsample-"), "job_id": job_id, "step": step, "group_index": g,
                         "prompt": [{"role": "user", "content": f"Question {g}: what is six times seven?"}],
                         "completions": completions, "reward_mean": mean,
                         "reward_std": statistics.stdev(rewards) if len(rewards) > 1 else 0.0,
                         "created_at": created})  # fmt: skip
        with store.begin() as conn:
            conn.execute(schema.job_samples.insert(), rows)
    return job_id


def timed_get(client: httpx.Client, path: str, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        response.raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
        size = len(response.content)
    return statistics.median(times), size


PAINT_JS = """mark => {
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  const done = performance.getEntriesByName(mark)[0];
  const api = performance.getEntriesByType('resource')
    .filter(e => /\/v1\/fine_tuning\/jobs\/[^/]+\/(metrics|samples)/.test(e.name));
  return {first_paint: paint['first-paint'], first_contentful_paint: paint['first-contentful-paint'],
          html_received: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd,
          data_received: api.length ? api[api.length - 1].responseEnd : null, data_drawn: done ? done.startTime : null};
}"""


def measure(context: Any, url: str, mark: str, runs: int) -> dict[str, float]:
    """Medians over `runs` fresh tabs of the paint entries and the time to the page's `mark`."""
    results = []
    for _ in range(runs):
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_function("m => performance.getEntriesByName(m).length > 0", arg=mark, timeout=120_000)
        results.append(page.evaluate(PAINT_JS, mark))
        page.close()
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def shoot(context: Any, folder: Path, pages: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, url in pages.items():
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("() => performance.getEntriesByType('mark').length > 0", timeout=120_000)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=name == "job")
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--groups", type=int, default=200, help="sample groups (prompts) stored per step")
    parser.add_argument("--completions", type=int, default=4, help="completions per group (G)")
    parser.add_argument("--sample-steps", type=int, default=100, help="the last N steps have samples")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shots", type=Path, default=None, help="save a screenshot of each page into this folder")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="openrft-bench-console-") as home:
        settings = Settings(home=Path(home), admin_key=ADMIN_KEY)
        server = start_in_thread(settings, embedded_worker=False)
        try:
            store = Store.from_settings(settings)
            project_id = authenticate_bearer(store, ADMIN_KEY).project_id
            t0 = time.perf_counter()
            job_id = seed_job(store, project_id, args)
            seed_s = time.perf_counter() - t0
            with store.begin() as conn:
                n_events = conn.execute(sa.select(sa.func.count()).select_from(schema.job_events)).scalar_one()
                n_groups = conn.execute(sa.select(sa.func.count()).select_from(schema.job_samples)).scalar_one()
            store.dispose()
            base = server.base_url
            sample_step = args.steps
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120) as c:
                metrics_ms, metrics_bytes = timed_get(c, f"/v1/fine_tuning/jobs/{job_id}/metrics", args.runs)
                samples_ms, _ = timed_get(c, f"/v1/fine_tuning/jobs/{job_id}/samples?step={sample_step}&limit=100", 3)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                context = browser.new_context(viewport={"width": 1360, "height": 900})
                page = context.new_page()
                page.goto(base + "/signin")
                page.get_by_label("API key").fill(ADMIN_KEY)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/jobs")
                page.close()
                job_page = measure(context, f"{base}/jobs/{job_id}", "openrft:curves-drawn", args.runs)
                samples_page = measure(
                    context, f"{base}/jobs/{job_id}/samples?step={sample_step}", "openrft:samples-shown", args.runs
                )
                if args.shots:
                    shoot(
                        context,
                        args.shots,
                        {"job": f"{base}/jobs/{job_id}", "samples": f"{base}/jobs/{job_id}/samples"},
                    )
                browser.close()
        finally:
            server.stop(timeout_s=10)

    print(f"seeded {args.steps} steps ({n_events} events) and {n_groups} sample groups x {args.completions} "
          f"completions ({args.groups} per step, last {args.sample_steps} steps) in {seed_s:.1f} s")  # fmt: skip
    print(f"GET /metrics (all {args.steps} steps): {metrics_ms:.0f} ms, {metrics_bytes / 1e6:.1f} MB; "
          f"GET /samples?step=N&limit=100: {samples_ms:.0f} ms")  # fmt: skip
    print(f"{'page':<28}{'HTML':>8}{'first paint':>13}{'FCP':>8}{'DOM ready':>11}{'data in':>9}{'drawn':>8}  (ms)")
    for name, r in (("/jobs/{id}", job_page), ("/jobs/{id}/samples?step=N", samples_page)):
        print(f"{name:<28}{r['html_received']:>8.0f}{r['first_paint']:>13.0f}{r['first_contentful_paint']:>8.0f}"
              f"{r['dom_content_loaded']:>11.0f}{r['data_received']:>9.0f}{r['data_drawn']:>8.0f}")  # fmt: skip
    target = all(r["first_paint"] < 1000 for r in (job_page, samples_page))
    print(f"first paint under 1 s: {'yes' if target else 'NO'}")
    record = {
        "bench": "console",
        "steps": args.steps,
        "sample_groups": n_groups,
        "completions_per_group": args.completions,
        "metrics_api_ms": round(metrics_ms, 1),
        "metrics_api_bytes": metrics_bytes,
        "samples_api_ms": round(samples_ms, 1),
        "job_page_ms": {k: round(v, 1) for k, v in job_page.items()},
        "samples_page_ms": {k: round(v, 1) for k, v in samples_page.items()},
        "first_paint_under_1s": target,
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
