"""Grader throughput: graded samples per second of the in-process graders, through `grade_batch`.

    python -m bench.bench_graders [--samples 2000] [--repeats 3] [--no-cosine]

Each row grades `--samples` completions (about 20 words, against a 20-word reference) as the trainer
does, templates included, and reports the best of `--repeats` runs. `cosine` runs the local
all-MiniLM-L6-v2 model on CPU (skipped when not installed). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from openrft.graders import GradingContext, Sample, grade_batch
from openrft.graders.embeddings import model_zip

SENTENCE = (
    "the model answered that the capital of france is paris and the river seine runs through the city "
    "while lyon sits on the rhone and marseille faces the mediterranean sea in the south"
)
WORDS = SENTENCE.split()
METRICS = ["fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l"]


def corpus(n: int, seed: int = 0) -> tuple[list[Sample], list[dict[str, Any]]]:
    rng = random.Random(seed)
    samples, items = [], []
    for _ in range(n):
        reference = " ".join(rng.choices(WORDS, k=20))
        words = reference.split()
        for i in rng.sample(range(20), 5):  # a quarter of the words changed
            words[i] = rng.choice(WORDS)
        samples.append(Sample(output_text=" ".join(words), output_json={"answer": words[0]}))
        items.append({"reference": reference, "answer": reference.split()[0]})
    return samples, items


def graders(with_cosine: bool) -> list[tuple[str, dict[str, Any]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    for op in ("eq", "ne", "like", "ilike"):
        rows.append(
            (
                f"string_check {op}",
                {
                    "type": "string_check",
                    "name": "s",
                    "operation": op,
                    "input": "{{ sample.output_json.answer }}",
                    "reference": "{{ item.answer }}",
                },
            )
        )
    for metric in METRICS + (["cosine"] if with_cosine else []):
        rows.append(
            (
                f"text_similarity {metric}",
                {
                    "type": "text_similarity",
                    "name": "t",
                    "evaluation_metric": metric,
                    "input": "{{ sample.output_text }}",
                    "reference": "{{ item.reference }}",
                },
            )
        )
    multi = {
        "type": "multi",
        "name": "m",
        "calculate_output": "0.5 * exact + 0.5 * overlap",
        "graders": {
            "exact": rows[0][1] | {"name": "exact"},
            "overlap": rows[4 + METRICS.index("rouge_l")][1] | {"name": "overlap"},
        },
    }
    rows.append(("multi (string_check + rouge_l)", multi))
    return rows


def measure(
    grader: dict[str, Any], samples: list[Sample], items: list[dict[str, Any]], ctx: GradingContext, repeats: int
) -> tuple[float, float]:
    grade_batch(grader, samples[:8], items[:8], ctx=ctx)  # warm-up: imports, model load, caches
    best = float("inf")
    mean_reward = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        result = grade_batch(grader, samples, items, ctx=ctx)
        best = min(best, time.perf_counter() - start)
        mean_reward = sum(result.rewards) / len(result.rewards)
        assert not result.error_counts, result.error_details[:1]
    return len(samples) / best, mean_reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cosine", action="store_true")
    args = parser.parse_args()
    samples, items = corpus(args.samples)
    settings: Any = type("S", (), {"models_dir": Path(tempfile.gettempdir()) / "openrft-bench-models"})()
    ctx = GradingContext(project_id="bench", settings=settings)
    with_cosine = not args.no_cosine and model_zip() is not None
    results = {}
    print(f"{'grader':<34} {'samples/s':>12} {'mean reward':>12}")
    for label, grader in graders(with_cosine):
        rate, mean = measure(grader, samples, items, ctx, args.repeats)
        results[label] = round(rate, 1)
        print(f"{label:<34} {rate:>12,.0f} {mean:>12.3f}", flush=True)
    print(json.dumps({"bench": "graders", "samples": args.samples, "samples_per_s": results}))


if __name__ == "__main__":
    main()
