"""Evals throughput: a completions eval run vs a loop of sequential chat.completions calls, same server.

One real server (the API with its embedded eval runner) on the bundled smollm2-135m-instruct. The same
N items (questions) are answered twice with the same sampling (greedy, `--max-tokens` completion tokens):

- `evals run`: `client.evals.runs.create` with a completions data source over the N items, polled until
  completed (the runner submits each batch of 32 prompts to the engine at once; grading is one
  string_check, microseconds per item). Wall time from the create call to the completed status, so it
  includes the runner's poll delay (settings.poll_s) and writing the output items;
- `sequential chat.completions`: one `client.chat.completions.create` after another, the way a script
  without an eval API would score a model.

Prints items/s for both, their ratio, and how many answers agree (bf16 batching may round differently
than a lone sequence: see inference/hf_engine.py), then one JSON line. Usage:

    python -m bench.bench_evals [--items 200] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import openai

from openrft.api.server import start_in_thread
from openrft.inference.registry import DEFAULT_BASE_MODEL, ensure_base_model
from openrft.settings import Settings

ADMIN_KEY = "sk-admin-bench-evals-0123456789"
QUESTIONS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a prime number is in two sentences.",
    "List three fruits that are red.",
    "How many legs does a spider have?",
    "Give me a short tip for learning to cook.",
    "What does a compiler do?",
    "Name a famous painting and its painter.",
]
ANSWERED = {"type": "string_check", "name": "answered", "input": "{{sample.output_text}}", "reference": "",
            "operation": "ne"}  # fmt: skip


def questions(n: int) -> list[str]:
    """N distinct prompts: the list, cycled, each numbered (so no two requests are the same)."""
    return [f"{QUESTIONS[i % len(QUESTIONS)]} (question {i + 1})" for i in range(n)]


def sequential(client: openai.OpenAI, texts: list[str], max_tokens: int) -> tuple[float, list[str]]:
    start = time.perf_counter()
    answers = []
    for text in texts:
        out = client.chat.completions.create(
            model=DEFAULT_BASE_MODEL,
            messages=[{"role": "user", "content": text}],
            temperature=0,
            max_completion_tokens=max_tokens,
        )
        answers.append(out.choices[0].message.content or "")
    return time.perf_counter() - start, answers


def eval_run(client: openai.OpenAI, texts: list[str], max_tokens: int) -> tuple[float, list[str], Any]:
    ev = client.evals.create(
        name="bench",
        data_source_config={
            "type": "custom",
            "item_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
        testing_criteria=[ANSWERED],  # type: ignore[list-item]
    )
    source: Any = {
        "type": "completions",
        "model": DEFAULT_BASE_MODEL,
        "source": {"type": "file_content", "content": [{"item": {"q": t}} for t in texts]},
        "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.q}}"}]},
        "sampling_params": {"temperature": 0, "max_completion_tokens": max_tokens},
    }
    start = time.perf_counter()
    run: Any = client.evals.runs.create(ev.id, data_source=source, name="bench")
    while run.status in ("queued", "in_progress"):
        time.sleep(0.2)
        run = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    wall = time.perf_counter() - start
    if run.status != "completed":
        raise SystemExit(f"the eval run ended {run.status}: {run.error}")
    answers = [""] * len(texts)
    for item in client.evals.runs.output_items.list(run.id, eval_id=ev.id, limit=100):
        answers[item.datasource_item_id] = item.sample.output[0].content or "" if item.sample.output else ""
    return wall, answers, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    home = Path(tempfile.gettempdir()) / "openrft-bench-evals"
    settings = Settings(home=home, admin_key=ADMIN_KEY, embedded_worker=True)
    ensure_base_model(settings)  # dequantized once (about 30 s), outside the timings
    server = start_in_thread(settings, embedded_worker=True)
    try:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=ADMIN_KEY, max_retries=0, timeout=600)
        texts = questions(args.items)
        sequential(client, texts[:2], 4)  # warm-up: the model loads on its first request
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        run_wall, run_answers, run = eval_run(client, texts, args.max_tokens)
        print(f"evals run: {args.items} items in {run_wall:.1f} s; now the sequential loop", flush=True)
        seq_wall, seq_answers = sequential(client, texts, args.max_tokens)
    finally:
        server.stop(timeout_s=30)
    same = sum(a == b for a, b in zip(run_answers, seq_answers, strict=True))
    tokens = run.per_model_usage[0].completion_tokens if run.per_model_usage else 0
    rows = {"evals run (batched)": run_wall, "sequential chat.completions": seq_wall}
    print(
        f"{DEFAULT_BASE_MODEL}, {args.items} items, greedy, max_completion_tokens={args.max_tokens}; "
        f"{os.cpu_count()} CPUs, load average before: {load}"
    )
    print(f"{'mode':<30} | {'wall s':>8} | {'items/s':>8}")
    print("-" * 52)
    for name, wall in rows.items():
        print(f"{name:<30} | {wall:>8.1f} | {args.items / wall:>8.2f}")
    ratio = seq_wall / run_wall
    print(f"ratio x{ratio:.2f}; {same}/{args.items} answers identical; {tokens} completion tokens in the run")
    print(
        json.dumps(
            {
                "bench": "evals",
                "items": args.items,
                "max_completion_tokens": args.max_tokens,
                "evals_items_per_s": round(args.items / run_wall, 3),
                "sequential_items_per_s": round(args.items / seq_wall, 3),
                "ratio": round(ratio, 2),
                "identical_answers": same,
            }
        )
    )


if __name__ == "__main__":
    main()
