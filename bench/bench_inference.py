"""Inference benchmark: continuous batching vs plain transformers `generate`, one request at a time.

Runs directly against the engine in-process (no HTTP), on the bundled smollm2-135m-instruct:
for 1, 4 and 16 concurrent chat requests it reports aggregate completion tokens per second and time to
first token (TTFT), beside a baseline that serves the same requests one after another with
`model.generate` (greedy, same max tokens), both on the device openrft picks (the GPU when torch sees one). Usage:

    python bench/bench_inference.py [--max-tokens 64] [--levels 1,4,16] [--threads N] [--dtype auto]

The engine runs in the server's default dtype (`auto`: bf16 on CPUs with native bf16 matmuls); the
baseline runs in fp32 (transformers' default for this model) and, when it differs, in the engine's dtype.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import tempfile
import time
from pathlib import Path

import torch

from openrft.inference.engine import Delta, Engine, Finished, SamplingParams
from openrft.inference.hf_engine import DTYPES, HFEngine, resolve_dtype
from openrft.inference.registry import DEFAULT_BASE_MODEL, ResolvedModel, ensure_base_model
from openrft.settings import Settings

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


def prompts(tokenizer: object, count: int) -> list[list[int]]:
    out = []
    for i in range(count):
        messages = [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)  # type: ignore[attr-defined]
        out.append(list(tokenizer.encode(text, add_special_tokens=False)))  # type: ignore[attr-defined]
    return out


def run_engine(
    engine: Engine, model: ResolvedModel, batch: list[list[int]], max_tokens: int
) -> tuple[float, list[float], int]:
    """All of `batch` at once -> (wall seconds, TTFT per request, completion tokens)."""
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    done: queue.Queue[int] = queue.Queue()
    ttft: list[float] = [0.0] * len(batch)
    start = time.perf_counter()

    for i, ids in enumerate(batch):

        def sink(ev: Delta | Finished, i: int = i) -> None:
            if isinstance(ev, Delta) and ttft[i] == 0.0:
                ttft[i] = time.perf_counter() - start
            elif isinstance(ev, Finished):
                done.put(ev.completion_tokens)

        engine.submit(model, ids, params, sink)
    tokens = sum(done.get() for _ in batch)
    return time.perf_counter() - start, ttft, tokens


def run_sequential(hf_model: object, batch: list[list[int]], max_tokens: int) -> tuple[float, list[float], int]:
    """The same requests served one at a time by `generate` (TTFT includes waiting for earlier ones)."""
    ttft: list[float] = []
    tokens = 0
    start = time.perf_counter()
    for ids in batch:
        first: list[float] = []

        def mark(_ids: torch.Tensor, scores: torch.Tensor, first: list[float] = first) -> torch.Tensor:
            if not first:
                first.append(time.perf_counter() - start)
            return scores

        inputs = torch.tensor([ids], device=hf_model.device)  # type: ignore[attr-defined]
        with torch.inference_mode():
            out = hf_model.generate(  # type: ignore[attr-defined]
                inputs,
                attention_mask=torch.ones_like(inputs),
                max_new_tokens=max_tokens,
                do_sample=False,
                logits_processor=[mark],
            )
        tokens += out.shape[1] - inputs.shape[1]
        ttft.append(first[0])
    return time.perf_counter() - start, ttft, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--dtype", choices=["auto", *sorted(DTYPES)], default="auto", help="the engine's weights dtype")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM

    settings = Settings(home=Path(tempfile.gettempdir()) / "openrft-bench")
    path = ensure_base_model(settings, DEFAULT_BASE_MODEL)
    model = ResolvedModel(DEFAULT_BASE_MODEL, "base", DEFAULT_BASE_MODEL, path, None)
    dtype = resolve_dtype(args.dtype)
    engine = HFEngine(dtype=dtype)
    tokenizer = engine.tokenizer(model)
    # Baselines: `generate` in fp32 (transformers' default for this model) and in the engine's dtype.
    baselines = {
        f"sequential generate {d}": AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[d]).to(engine.device).eval()
        for d in dict.fromkeys(["float32", dtype])
    }
    run_engine(engine, model, prompts(tokenizer, 2), 4)  # warm-up: load, first-call overheads
    for hf_model in baselines.values():
        run_sequential(hf_model, prompts(tokenizer, 1), 4)

    threads = torch.get_num_threads()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"smollm2-135m-instruct, engine {dtype} on {engine.device}, torch threads={threads}, greedy, "
        f"max_tokens={args.max_tokens}"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average before the run: {load}")
    header = ["concurrency", "mode", "tokens", "wall s", "agg tok/s", "TTFT mean s", "TTFT p50 s"]
    print(f"{header[0]:>11} | {header[1]:<34} | " + " | ".join(f"{h:>9}" for h in header[2:]))
    print("-" * 106)
    for level in [int(x) for x in args.levels.split(",")]:
        batch = prompts(tokenizer, level)
        rows = {name: run_sequential(hf_model, batch, args.max_tokens) for name, hf_model in baselines.items()}
        rows[f"openrft engine {dtype} (batched)"] = run_engine(engine, model, batch, args.max_tokens)
        rates = {}
        for name, (wall, ttft, tokens) in rows.items():
            rates[name] = tokens / wall
            print(
                f"{level:>11} | {name:<34} | {tokens:>9} | {wall:>9.2f} | {tokens / wall:>9.1f} | "
                f"{statistics.mean(ttft):>9.3f} | {statistics.median(ttft):>9.3f}"
            )
        engine_rate = rates.pop(f"openrft engine {dtype} (batched)")
        speedups = ", ".join(f"x{engine_rate / rate:.2f} vs {name}" for name, rate in rates.items())
        print(f"{'':>11} | speedup {speedups}")


if __name__ == "__main__":
    main()
