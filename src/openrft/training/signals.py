"""Rollout signals of one step: how varied and how repetitive the sampled answers are.

Pure functions over the step's completion texts, grouped by prompt (the trainer's layout: `group_size`
consecutive completions per prompt). The reward-hacking monitor (training/monitor.py) watches them:

- distinct_within_groups: mean over prompts of (distinct normalized answers among its G completions) / G.
  1.0 = every sample differs; 1/G = the G samples agree.
- distinct_across_prompts: distinct normalized answers among the prompts' most common answers / number of
  prompts. 1/B (B prompts) = the policy gives the same answer to every prompt (collapse).
- repeated_ngram_rate: mean over completions of the share of word 3-grams that repeat an earlier 3-gram of the
  same completion (keyword stuffing, loops). 0 for a completion with fewer than 3 words (it has no 3-gram).
- cross_prompt_phrase_share: the largest share of prompts in which a single word 4-gram appears in at least one
  completion (the same phrase pasted into every answer). 0 with fewer than 2 prompts (nothing to compare).
- similarity_within_groups / similarity_across_prompts: mean word-set (Jaccard) similarity of two completions
  of the same prompt / of two different prompts, over the first SIMILARITY_SAMPLES completions of each group.
  Across close to within = the answers no longer depend on the prompt (collapse without identical answers).

Normalization (answers): lowercased, whitespace collapsed to single spaces, leading/trailing whitespace and
trailing punctuation stripped ("Billing." == "billing"). Words (n-grams): lowercased runs of letters, digits and
apostrophes (`[a-z0-9']+`), so punctuation and line breaks don't split or join phrases.

Simplification: cross_prompt_phrase_share does not exclude 4-grams of the prompts themselves (the function sees
only completions); a phrase copied from a shared system prompt counts. The monitor compares it with its own
starting value, so a phrase present from the first steps does not fire.
"""

from __future__ import annotations

import itertools
import re
import string
from collections import Counter

WORD = re.compile(r"[a-z0-9']+")
SIMILARITY_SAMPLES = 4  # completions per group the similarities compare: bounded cost at any group size
TRAILING = string.punctuation + " "


def normalize_answer(text: str) -> str:
    """Lowercased, whitespace collapsed, trailing punctuation stripped: 'Billing. ' -> 'billing'."""
    return " ".join(text.lower().split()).rstrip(TRAILING)


def words(text: str) -> list[str]:
    """The lowercased words of a text (runs of letters, digits and apostrophes)."""
    return WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of a word list, in order (empty when it has fewer than n words)."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def groups(texts: list[str], group_size: int) -> list[list[str]]:
    """Split the step's completions into consecutive groups of `group_size`, one per prompt."""
    if group_size < 1 or len(texts) % group_size:
        raise ValueError(f"{len(texts)} completions do not split into groups of {group_size}")
    return [texts[i : i + group_size] for i in range(0, len(texts), group_size)]


def distinct_within_groups(grouped: list[list[str]]) -> float:
    """Mean over groups of (distinct normalized answers / group size)."""
    if not grouped:
        return 0.0
    return sum(len({normalize_answer(t) for t in g}) / len(g) for g in grouped) / len(grouped)


def most_common_answer(group: list[str]) -> str:
    """The group's most common normalized answer (ties: the one sampled first)."""
    counts = Counter(normalize_answer(t) for t in group)
    return max(counts, key=lambda a: counts[a])  # max keeps the first of equal counts, i.e. insertion order


def distinct_across_prompts(grouped: list[list[str]]) -> float:
    """Distinct answers among the groups' most common answers / number of groups."""
    if not grouped:
        return 0.0
    return len({most_common_answer(g) for g in grouped}) / len(grouped)


def repeated_ngram_share(text: str, n: int = 3) -> float:
    """Share of the text's word n-grams that repeat an earlier n-gram of the same text (0 without any n-gram).

    "a b c a b c" has 3-grams abc, bca, cab, abc: one of four repeats an earlier one -> 0.25.
    """
    grams = ngrams(words(text), n)
    if not grams:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def repeated_ngram_rate(texts: list[str], n: int = 3) -> float:
    """Mean over completions of repeated_ngram_share (completions with fewer than n words count as 0)."""
    if not texts:
        return 0.0
    return sum(repeated_ngram_share(t, n) for t in texts) / len(texts)


def cross_prompt_phrase_share(grouped: list[list[str]], n: int = 4) -> float:
    """The largest share of prompts in which one word n-gram appears in at least one of their completions.

    0 with fewer than 2 prompts, or when no completion has n words.
    """
    if len(grouped) < 2:
        return 0.0
    prompts_with: Counter[tuple[str, ...]] = Counter()
    for group in grouped:
        prompts_with.update({gram for text in group for gram in ngrams(words(text), n)})
    if not prompts_with:
        return 0.0
    return max(prompts_with.values()) / len(grouped)


def word_set_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word sets: |A & B| / |A | B| (1.0 when both have no words)."""
    wa, wb = set(words(a)), set(words(b))
    union = wa | wb
    return len(wa & wb) / len(union) if union else 1.0


def similarity_within_groups(grouped: list[list[str]]) -> float:
    """Mean word-set similarity of two completions of the same prompt (over the first SIMILARITY_SAMPLES of each)."""
    pairs = [word_set_similarity(a, b) for g in grouped for a, b in itertools.combinations(g[:SIMILARITY_SAMPLES], 2)]
    return sum(pairs) / len(pairs) if pairs else 0.0


def similarity_across_prompts(grouped: list[list[str]]) -> float:
    """Mean word-set similarity of two completions of different prompts (over the first SIMILARITY_SAMPLES of each).

    Next to similarity_within_groups it says whether the answers still depend on the prompt: when answers to
    different prompts are as alike as answers to the same prompt, the policy answers the same whatever it is
    asked, even when no two answers are identical ("Billing: billing", "Billing ticketing on billing.").
    """
    heads = [g[:SIMILARITY_SAMPLES] for g in grouped]
    pairs = [word_set_similarity(a, b) for g1, g2 in itertools.combinations(heads, 2) for a in g1 for b in g2]
    return sum(pairs) / len(pairs) if pairs else 0.0


def rollout_signals(texts: list[str], group_size: int) -> dict[str, float]:
    """The rollout signals of a step whose completions come in groups of `group_size` per prompt."""
    grouped = groups(texts, group_size)
    return {
        "distinct_within_groups": distinct_within_groups(grouped),
        "distinct_across_prompts": distinct_across_prompts(grouped),
        "repeated_ngram_rate": repeated_ngram_rate(texts),
        "cross_prompt_phrase_share": cross_prompt_phrase_share(grouped),
        "similarity_within_groups": similarity_within_groups(grouped),
        "similarity_across_prompts": similarity_across_prompts(grouped),
    }
