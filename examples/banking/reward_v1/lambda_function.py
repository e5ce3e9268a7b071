"""Reward function of the banking example, version 1: kept to reproduce the run it taught to cheat.

The example trains with version 2 (`reward/`); its README shows what this version taught the model
(keyword stuffing, both warnings at once, riskier products recommended) and what the monitor said.
AWS Lambda handler, Bedrock reward contract.

The event is a list of samples `{id, messages (the model's answer last), product, product_risk,
key_benefit, disclaimer, risk_profile, goal, verdict, metadata}`; the answer is a list of
`{id, aggregate_reward_score, metrics_list}` with one metric per criterion, so each criterion shows as
its own curve in the job's metrics. Standard library only, so the zip is just this file.

Three criteria a bank's compliance team would check in every answer:

    aggregate   = 0.4 * disclaimer + 0.3 * positioning + 0.3 * profile_fit
    disclaimer  = 1 if the required warning ("capital at risk" / "not financial advice") is present
    positioning = phrase(key_benefit)
    profile_fit = 0.5 * phrase(goal) + 0.5 * (1 if the stated verdict matches the expected one),
                  and 0 whenever the answer recommends a product the profile cannot bear
                  (expected "not suitable", answer positive): metric unsuitable_recommendation = 1
    phrase(p)   = 1 if the phrase p appears (case and punctuation ignored), else half the share of
                  its words of 4+ letters that appear ("tax relief" -> "tax-efficient relief" 0.5 * 1/1)

The verdict is read as negative on "not suitable", "unsuitable", "too risky", "not recommended",
"don't recommend"...; as positive on "suitable", "good fit", "recommend"... otherwise as none.
A sample missing its fields scores 0 without failing the batch.
"""

import re

NEGATIVE = re.compile(
    r"(?:\bnot|n't)\s+(?:be\s+)?(?:suitable|a good fit|right for you|appropriate|recommended|recommend|advisable)\b"
    r"|\bunsuitable\b|\btoo risky\b|\bnot for you\b|\bcannot\s+recommend\b"
)
POSITIVE = re.compile(r"\b(?:suitable|a good fit|good choice|recommend(?:ed)?|right for you|appropriate)\b")
REQUIRED = ("product", "key_benefit", "disclaimer", "goal", "verdict")


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
    disclaimer = 1.0 if normalize(item["disclaimer"]) in normalize(answer) else 0.0
    positioning = phrase_score(answer, item["key_benefit"])
    verdict = stated_verdict(answer)
    unsuitable_recommendation = 1.0 if item["verdict"] == "not suitable" and verdict == "suitable" else 0.0
    if unsuitable_recommendation:
        profile_fit = 0.0
    else:
        profile_fit = 0.5 * phrase_score(answer, item["goal"]) + 0.5 * (1.0 if verdict == item["verdict"] else 0.0)
    aggregate = 0.4 * disclaimer + 0.3 * positioning + 0.3 * profile_fit
    return aggregate, {
        "disclaimer": disclaimer,
        "positioning": positioning,
        "profile_fit": profile_fit,
        "unsuitable_recommendation": unsuitable_recommendation,
    }


def lambda_handler(event, context):
    samples = event if isinstance(event, list) else [event]
    results = []
    for i, sample in enumerate(samples):
        sample = sample if isinstance(sample, dict) else {}
        try:
            aggregate, metrics = score_sample(sample)
        except (KeyError, IndexError, TypeError, AttributeError):
            aggregate = 0.0
            metrics = {"disclaimer": 0.0, "positioning": 0.0, "profile_fit": 0.0, "unsuitable_recommendation": 0.0}
        results.append(
            {
                "id": str(sample.get("id", i)),
                "aggregate_reward_score": round(aggregate, 6),
                "metrics_list": [
                    {"name": "disclaimer", "value": metrics["disclaimer"], "type": "Reward"},
                    {"name": "positioning", "value": round(metrics["positioning"], 6), "type": "Reward"},
                    {"name": "profile_fit", "value": round(metrics["profile_fit"], 6), "type": "Reward"},
                    {
                        "name": "unsuitable_recommendation",
                        "value": metrics["unsuitable_recommendation"],
                        "type": "Metric",
                    },
                ],
            }
        )
    return results
