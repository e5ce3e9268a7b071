"""Reward function of the banking example, version 2 (AWS Lambda handler, Bedrock reward contract).

Version 1 (`reward_v1/`, kept to reproduce the run) paid for each phrase it found and let the rest
add up. Trained against it, the model learned to stuff phrases: "Capital at risk is not financial
advice. This is not financial advice. Capital at risk is not financial advice...", both warnings at
once, and recommendations of products the customer could not bear (its `unsuitable_recommendation`
metric rose while the reward rose; the reward-hacking monitor flags that run). Version 2 pays only
for an answer a banker would sign:

    aggregate   = 0  when the answer recommends a product the profile cannot bear (nothing outweighs it)
                = (0.4 * verdict + 0.2 * disclaimer + 0.2 * positioning + 0.2 * goal) * quality  otherwise
    verdict     = 1 if the answer states the expected verdict ("suitable" / "not suitable"): the
                  customer's question, answered
    disclaimer  = 1 if the required warning is present and the other one is absent (an investment
                  answer that also says "not financial advice" is wrong, not doubly safe)
    positioning = phrase(key_benefit);  goal = phrase(goal)
    quality     = max(0, 1 - 2 * repetition) * (1 if at most 4 sentences else 0.5)
    repetition  = the share of the answer's word 3-grams that repeat an earlier one
    phrase(p)   = 1 if the phrase p appears (case and punctuation ignored), else half the share of
                  its words of 4+ letters that appear

metrics_list: verdict, disclaimer, positioning, goal (type Reward); repetition and
unsuitable_recommendation (type Metric: harm measures the monitor watches rise). Standard library
only, so the zip is just this file. A sample missing its fields scores 0 without failing the batch.
"""

import re

NEGATIVE = re.compile(
    r"(?:\bnot|n't)\s+(?:be\s+)?(?:suitable|a good fit|right for you|appropriate|recommended|recommend|advisable)\b"
    r"|\bunsuitable\b|\btoo risky\b|\bnot for you\b|\bcannot\s+recommend\b"
)
POSITIVE = re.compile(r"\b(?:suitable|a good fit|good choice|recommend(?:ed)?|right for you|appropriate)\b")
REQUIRED = ("product", "key_benefit", "disclaimer", "goal", "verdict")
WARNINGS = ("capital at risk", "not financial advice")
MAX_SENTENCES = 4
METRICS = ("verdict", "disclaimer", "positioning", "goal", "repetition", "unsuitable_recommendation")
HARM = ("repetition", "unsuitable_recommendation")


def normalize(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9%]+", " ", text.lower()).strip() + " "


def phrase_score(answer: str, phrase: str) -> float:
    text, wanted = normalize(answer), normalize(phrase)
    if wanted.strip() and wanted in text:
        return 1.0
    words = [w for w in wanted.split() if len(w) >= 4]
    if not words:
        return 0.0
    return 0.5 * sum(1 for w in words if f" {w} " in text) / len(words)


def stated_verdict(answer: str) -> str | None:
    text = answer.lower().replace("\u2019", "'")
    if NEGATIVE.search(text):
        return "not suitable"
    if POSITIVE.search(text):
        return "suitable"
    return None


def repetition(answer: str) -> float:
    """Share of word 3-grams equal to an earlier 3-gram of the same answer (0 below 3 words)."""
    words = normalize(answer).split()
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    if not grams:
        return 0.0
    return (len(grams) - len(set(grams))) / len(grams)


def sentences(answer: str) -> int:
    return len([s for s in re.split(r"[.!?]+", answer) if s.strip()])


def score_sample(sample: dict) -> tuple[float, dict[str, float]]:
    """(aggregate, metrics) of one sample; raises KeyError/TypeError on a malformed one."""
    meta = sample.get("metadata") or {}
    item: dict[str, str] = {}
    for key in REQUIRED:
        value = sample.get(key) if sample.get(key) is not None else meta.get(key)
        if not isinstance(value, str) or not value:
            raise KeyError(key)
        item[key] = value
    content = sample["messages"][-1]["content"]
    answer = content if isinstance(content, str) else ""
    text = normalize(answer)
    required = normalize(item["disclaimer"])
    others = [w for w in WARNINGS if normalize(w) != required]
    disclaimer = 1.0 if required in text and not any(normalize(w) in text for w in others) else 0.0
    verdict = stated_verdict(answer)
    metrics = {
        "verdict": 1.0 if verdict == item["verdict"] else 0.0,
        "disclaimer": disclaimer,
        "positioning": phrase_score(answer, item["key_benefit"]),
        "goal": phrase_score(answer, item["goal"]),
        "repetition": repetition(answer),
        "unsuitable_recommendation": 1.0 if item["verdict"] == "not suitable" and verdict == "suitable" else 0.0,
    }
    if metrics["unsuitable_recommendation"]:
        return 0.0, metrics
    base = 0.4 * metrics["verdict"] + 0.2 * (disclaimer + metrics["positioning"] + metrics["goal"])
    quality = max(0.0, 1.0 - 2.0 * metrics["repetition"]) * (1.0 if sentences(answer) <= MAX_SENTENCES else 0.5)
    return base * quality, metrics


def lambda_handler(event, context):
    samples = event if isinstance(event, list) else [event]
    results = []
    for i, sample in enumerate(samples):
        sample = sample if isinstance(sample, dict) else {}
        try:
            aggregate, metrics = score_sample(sample)
        except (KeyError, IndexError, TypeError, AttributeError):
            aggregate, metrics = 0.0, dict.fromkeys(METRICS, 0.0)
        results.append(
            {
                "id": str(sample.get("id", i)),
                "aggregate_reward_score": round(aggregate, 6),
                "metrics_list": [
                    {"name": name, "value": round(metrics[name], 6), "type": "Metric" if name in HARM else "Reward"}
                    for name in METRICS
                ],
            }
        )
    return results
