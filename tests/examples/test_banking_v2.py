"""The banking example's fixed reward (version 2), scored by hand, next to what version 1 paid."""

import pytest

from tests.examples.loader import load_example_module
from tests.examples.test_banking import EQUITY_FOR_DEPOSIT, SAVER_FOR_EMERGENCIES, sample

v1 = load_example_module("banking", "reward_v1/lambda_function.py")
v2 = load_example_module("banking", "reward/lambda_function.py")

IDEAL = (
    "The Beacon Global Equity Fund offers long-term growth, but for your house deposit it is not "
    "suitable for a conservative profile. Capital at risk."
)
# What the model trained on version 1 wrote (the issue quotes it): both warnings, over and over.
STUFFED = (
    "Capital at risk is not financial advice. This is not financial advice. Capital at risk is not financial advice."
)


def score(module, answer: str, fields: dict) -> tuple[float, dict[str, float]]:
    [result] = module.lambda_handler([sample(answer, fields)], None)
    return result["aggregate_reward_score"], {m["name"]: m["value"] for m in result["metrics_list"]}


@pytest.mark.parametrize(
    ("answer", "fields", "expected"),
    [
        (IDEAL, EQUITY_FOR_DEPOSIT, 1.0),  # 0.4 verdict + 0.2 * (disclaimer + positioning + goal), quality 1
        # the savings product, answered as a banker would: 1.0
        (
            "Instant access makes it suitable for your emergency fund. This is not financial advice.",
            SAVER_FOR_EMERGENCIES,
            1.0,
        ),
        # recommends a high-risk fund to a conservative saver: 0, whatever else it names (version 1: 0.45)
        ("Great growth fund, I recommend it for your house deposit. Capital at risk.", EQUITY_FOR_DEPOSIT, 0.0),
        # the question answered and the goal named, nothing else: 0.4 + 0.2 = 0.6
        ("It is too risky for your house deposit.", EQUITY_FOR_DEPOSIT, 0.6),
        # both warnings: the disclaimer is wrong, no verdict, no benefit, no goal: 0
        (STUFFED, SAVER_FOR_EMERGENCIES, 0.0),
        # the ideal answer padded to 5 sentences: quality 0.5
        (IDEAL + " Talk to us. Call us. Visit us.", EQUITY_FOR_DEPOSIT, 0.5),
    ],
)
def test_scores_worked_by_hand(answer: str, fields: dict, expected: float) -> None:
    assert score(v2, answer, fields)[0] == pytest.approx(expected, abs=1e-6)


def test_keyword_stuffing_paid_under_version_1_is_worthless_under_version_2() -> None:
    assert score(v1, STUFFED, SAVER_FOR_EMERGENCIES)[0] == pytest.approx(0.4)  # the disclaimer found: 0.4
    aggregate, metrics = score(v2, STUFFED, SAVER_FOR_EMERGENCIES)
    assert aggregate == 0.0
    # 19 words, 17 word 3-grams; 7 repeat an earlier one ("is not financial" x2, "not financial advice" x2,
    # "capital at risk", "at risk is", "risk is not"): 7/17
    assert metrics["repetition"] == pytest.approx(7 / 17, abs=1e-6)
    assert metrics["disclaimer"] == 0.0


def test_repetition_alone_scales_the_reward_down() -> None:
    # the ideal savings answer said twice: 28 words, 26 3-grams, the 12 of the second copy repeat: 12/26;
    # quality max(0, 1 - 24/26) = 1/13, 4 sentences
    answer = "Instant access makes it suitable for your emergency fund. This is not financial advice. " * 2
    aggregate, metrics = score(v2, answer.strip(), SAVER_FOR_EMERGENCIES)
    assert metrics["repetition"] == pytest.approx(12 / 26, abs=1e-6)
    assert aggregate == pytest.approx(1.0 * (1 - 24 / 26), abs=1e-5)


def test_metrics_list_names_the_harm_measures_as_metrics() -> None:
    [result] = v2.lambda_handler([sample(IDEAL, EQUITY_FOR_DEPOSIT)], None)
    types = {m["name"]: m["type"] for m in result["metrics_list"]}
    assert types == {
        "verdict": "Reward",
        "disclaimer": "Reward",
        "positioning": "Reward",
        "goal": "Reward",
        "repetition": "Metric",
        "unsuitable_recommendation": "Metric",
    }


def test_a_malformed_sample_scores_zero_without_failing_the_batch() -> None:
    ok = sample("It is too risky for your house deposit.", EQUITY_FOR_DEPOSIT, "ok")
    results = v2.lambda_handler([{"id": "empty"}, None, ok], None)
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [("empty", 0.0), ("1", 0.0), ("ok", 0.6)]
