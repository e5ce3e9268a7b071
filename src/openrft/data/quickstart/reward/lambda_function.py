"""Reward function of the quickstart: support-ticket triage.

A Lambda-style handler speaking Bedrock's reward contract: the event is a list of samples
`{id, messages (the model's answer last), category, metadata}`; the answer is a list of
`{id, aggregate_reward_score, metrics_list}`.

The business rule: a ticket must be routed with one word, the right category. The score gives
partial credit so that every group of samples carries some learning signal:

    aggregate = 0.7 * category + 0.3 * brevity
    category  = 1.0 if the answer's first word is the right category,
                0.5 if the right category is named somewhere and no other one is, else 0.0
    brevity   = 1.0 for up to 3 words, falling linearly to 0.0 at 30 words
"""

import re

CATEGORIES = ("billing", "technical", "account", "shipping")


def category_score(answer: str, expected: str) -> float:
    words = re.findall(r"[a-z]+", answer.lower())
    if not words:
        return 0.0
    if words[0] == expected:
        return 1.0
    named = {w for w in words if w in CATEGORIES}
    return 0.5 if named == {expected} else 0.0


def brevity_score(answer: str) -> float:
    n_words = len(answer.split())
    if n_words <= 3:
        return 1.0
    return max(0.0, 1.0 - (n_words - 3) / 27)


def lambda_handler(event, context):
    results = []
    for sample in event:
        answer = sample["messages"][-1]["content"]
        expected = sample.get("category") or sample.get("metadata", {}).get("category", "")
        category = category_score(answer, expected)
        brevity = brevity_score(answer)
        results.append(
            {
                "id": sample["id"],
                "aggregate_reward_score": round(0.7 * category + 0.3 * brevity, 6),
                "metrics_list": [
                    {"name": "category", "value": category, "type": "Reward"},
                    {"name": "brevity", "value": brevity, "type": "Reward"},
                ],
            }
        )
    return results
