"""The preflight of a reward function: its scores on samples before hours of training, summarized.

GRPO learns from the differences between the G samples of one prompt: a prompt whose samples all score
the same has advantage 0 everywhere and teaches nothing. So the summary is the distribution of the
scores (a histogram on [0, 1] when every score lies there, else on [min, max]) and the share of prompts
with several scored samples that all scored the same (`flat_share`). Pure functions, used by the CLI's
`openrft functions test` and by the API's preflight (openrft.api.preflight), which samples the base
model through an eval run.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

DEFAULT_BINS = 10


def summarize(rewards_by_prompt: Sequence[Sequence[float | None]], bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Distribution of the scored samples (None = an error) and the share of prompts without signal.

    `histogram` is [(low, high, count)] per bin, the last bin closed on the right.
    """
    scores = [r for group in rewards_by_prompt for r in group if r is not None]
    if not scores:
        return {"samples": 0}
    low, high = min(scores), max(scores)
    lo, hi = (0.0, 1.0) if low >= 0.0 and high <= 1.0 else (low, high)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, int((s - lo) / width))] += 1
    groups = [[r for r in g if r is not None] for g in rewards_by_prompt]
    multi = [g for g in groups if len(g) >= 2]
    flat = sum(1 for g in multi if max(g) == min(g))
    return {
        "samples": len(scores),
        "mean": statistics.fmean(scores),
        "std": statistics.pstdev(scores),
        "min": low,
        "max": high,
        "histogram": [(lo + i * width, lo + (i + 1) * width, c) for i, c in enumerate(counts)],
        "prompts_with_several_samples": len(multi),
        "flat_prompts": flat,
        "flat_share": flat / len(multi) if multi else None,
    }


def group_scores(scores: Sequence[float | None], samples_per_prompt: int) -> list[list[float | None]]:
    """Scores of items laid out prompt by prompt (each prompt's G samples contiguous) -> one list per prompt."""
    g = max(1, samples_per_prompt)
    return [list(scores[i : i + g]) for i in range(0, len(scores), g)]
