"""Reward function of the Aquila diagnostics example (AWS Lambda handler, Bedrock reward contract).

The event is a list of samples `{id, messages (the model's answer last), diagnosis, subsystem,
error_code, model, metadata}`; the answer is a list of `{id, aggregate_reward_score, metrics_list}`.
Standard library only, so the zip is just this file.

The business rule: a technician needs ONE diagnosis, the right one. Naming several ("drain pump or
filter") sends them out with the wrong parts, so hedging costs; naming the right subsystem at least
narrows the search, so it earns partial credit. The score:

    aggregate = clip(0.7 * diagnosis + 0.3 * subsystem - 0.25 * extra_diagnoses, 0, 1)
    diagnosis       = 1.0 if the expected diagnosis is named exactly ("drain pump failure"),
                      0.8 if only by its key term ("the drain pump has failed"), else 0.0
    subsystem       = 1.0 if a named diagnosis belongs to the expected subsystem, or the subsystem is
                      named by its own words ("something in the drainage"), else 0.0
    extra_diagnoses = number of diagnoses named beyond one

A sample missing its fields scores 0 without failing the batch.
"""

import re

# diagnosis -> (subsystem, key terms that name it); the exact name always counts too.
DIAGNOSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "inlet valve blocked": ("water inlet", ("inlet valve",)),
    "drain pump failure": ("drainage", ("drain pump",)),
    "drain filter clogged": ("drainage", ("drain filter", "filter clogged", "clogged filter")),
    "heater element failure": ("heating", ("heater", "heating element")),
    "temperature sensor fault": ("heating", ("temperature sensor", "temperature probe", "thermistor")),
    "door sensor fault": ("door", ("door sensor", "door switch")),
    "wash pump failure": ("wash circulation", ("wash pump", "circulation pump")),
    "spray arm blocked": ("wash circulation", ("spray arm", "wash arm")),
    "water leak in base": ("leak protection", ("leak",)),
    "detergent dispenser fault": ("dosing", ("detergent dispenser", "dosing pump", "dispenser")),
    "control board fault": ("electronics", ("control board", "main board")),
    "water softener fault": ("water treatment", ("softener",)),
}
# subsystem -> patterns naming it without naming a diagnosis
SUBSYSTEM_WORDS: dict[str, tuple[str, ...]] = {
    "water inlet": (r"\binlet\b", r"water supply", r"\bfill(?:ing)?\b"),
    "drainage": (r"\bdrain",),
    "heating": (r"\bheat", r"temperature"),
    "door": (r"\bdoor\b", r"\bhood\b"),
    "wash circulation": (r"circulation", r"\bspray", r"\bwash (?:pump|motor)"),
    "leak protection": (r"\bleak", r"base tray", r"float switch"),
    "dosing": (r"detergent", r"\bdosing\b", r"dispens"),
    "electronics": (r"\bboard\b", r"electronic", r"\bpcb\b"),
    "water treatment": (r"soften", r"\bsalt\b", r"hardness"),
}


def normalize(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def named_diagnoses(answer: str) -> set[str]:
    """Diagnoses the answer names, by exact name or key term."""
    text = normalize(answer)
    return {
        name
        for name, (_, terms) in DIAGNOSES.items()
        if f" {name} " in text or any(f" {term}" in text for term in terms)
    }


def score_sample(sample: dict) -> tuple[float, dict[str, float]]:
    """(aggregate, metrics) of one sample; raises KeyError/TypeError on a malformed one."""
    expected = sample.get("diagnosis") or (sample.get("metadata") or {}).get("diagnosis")
    if expected not in DIAGNOSES:
        raise KeyError("diagnosis")
    subsystem = DIAGNOSES[expected][0]
    content = sample["messages"][-1]["content"]
    answer = content if isinstance(content, str) else ""
    named = named_diagnoses(answer)
    exact = f" {expected} " in normalize(answer)
    diagnosis = 0.0 if expected not in named else 1.0 if exact else 0.8
    in_subsystem = any(DIAGNOSES[n][0] == subsystem for n in named) or any(
        re.search(p, answer.lower()) for p in SUBSYSTEM_WORDS[subsystem]
    )
    sub = 1.0 if in_subsystem else 0.0
    extra = float(max(0, len(named) - 1))
    aggregate = min(1.0, max(0.0, 0.7 * diagnosis + 0.3 * sub - 0.25 * extra))
    return aggregate, {"diagnosis": diagnosis, "subsystem": sub, "extra_diagnoses": extra}


def lambda_handler(event, context):
    samples = event if isinstance(event, list) else [event]
    results = []
    for i, sample in enumerate(samples):
        sample = sample if isinstance(sample, dict) else {}
        try:
            aggregate, metrics = score_sample(sample)
        except (KeyError, IndexError, TypeError, AttributeError):
            aggregate, metrics = 0.0, {"diagnosis": 0.0, "subsystem": 0.0, "extra_diagnoses": 0.0}
        results.append(
            {
                "id": str(sample.get("id", i)),
                "aggregate_reward_score": round(aggregate, 6),
                "metrics_list": [
                    {"name": "diagnosis", "value": metrics["diagnosis"], "type": "Reward"},
                    {"name": "subsystem", "value": metrics["subsystem"], "type": "Metric"},
                    {"name": "extra_diagnoses", "value": metrics["extra_diagnoses"], "type": "Metric"},
                ],
            }
        )
    return results
