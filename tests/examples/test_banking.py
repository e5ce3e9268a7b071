"""The banking example's reward function and its `multi` grader alternative, scored by hand."""

import json

import pytest

from openrft.graders import validate_grader
from openrft.graders.run import GradingContext, Sample, grade_batch
from tests.examples.loader import EXAMPLES, load_example_module

reward = load_example_module("banking", "reward_v1/lambda_function.py")
MULTI = json.loads((EXAMPLES / "banking" / "multi_grader.json").read_text())

EQUITY_FOR_DEPOSIT = {
    "product": "Beacon Global Equity Fund",
    "product_risk": "high",
    "key_benefit": "long-term growth",
    "disclaimer": "capital at risk",
    "risk_profile": "conservative",
    "goal": "house deposit",
    "verdict": "not suitable",
}
SAVER_FOR_EMERGENCIES = {
    "product": "Harbor Easy Saver",
    "product_risk": "low",
    "key_benefit": "instant access",
    "disclaimer": "not financial advice",
    "risk_profile": "conservative",
    "goal": "emergency fund",
    "verdict": "suitable",
}


def sample(answer: str, fields: dict, sid: str = "s1") -> dict:
    return {
        "id": sid,
        "messages": [
            {"role": "system", "content": "You are the customer assistant of Harbor & Beacon Bank."},
            {"role": "user", "content": f"Should I put my money in the {fields['product']}?"},
            {"role": "assistant", "content": answer},
        ],
        **fields,
        "metadata": dict(fields),
    }


@pytest.mark.parametrize(
    ("answer", "fields", "expected"),
    [
        (
            "The Beacon Global Equity Fund offers long-term growth, but for your house deposit it is not "
            "suitable for a conservative profile. Capital at risk.",
            EQUITY_FOR_DEPOSIT,
            1.0,  # 0.4 + 0.3 + 0.3
        ),
        ("", EQUITY_FOR_DEPOSIT, 0.0),
        ("Capital at risk.", EQUITY_FOR_DEPOSIT, 0.4),  # disclaimer only
        # recommends a high-risk fund to a conservative saver: profile_fit 0 despite naming the goal;
        # positioning 0.5 * 1/3 ("growth" of long, term, growth)
        ("Great growth fund, I recommend it for your house deposit. Capital at risk.", EQUITY_FOR_DEPOSIT, 0.45),
        ("It is too risky for your house deposit.", EQUITY_FOR_DEPOSIT, 0.3),  # profile_fit 1 only
        # positioning 1 ("long term growth"); goal 0.5 * 1/2 ("deposit"); verdict right: fit 0.625
        ("Long term growth, not suitable for a deposit.", EQUITY_FOR_DEPOSIT, 0.3 + 0.3 * 0.625),
        (
            "Instant access makes it suitable for your emergency fund. This is not financial advice.",
            SAVER_FOR_EMERGENCIES,
            1.0,
        ),
        # wrong verdict on a suitable product: fit 0.5 (goal only), no unsuitable-recommendation veto
        ("Instant access, but not suitable for an emergency fund.", SAVER_FOR_EMERGENCIES, 0.3 + 0.15),
        ("Not financial advice.", SAVER_FOR_EMERGENCIES, 0.4),
    ],
)
def test_scores_worked_by_hand(answer: str, fields: dict, expected: float) -> None:
    [result] = reward.lambda_handler([sample(answer, fields)], None)
    assert result["id"] == "s1"
    assert result["aggregate_reward_score"] == pytest.approx(expected, abs=1e-6)


def test_metrics_list_has_one_entry_per_criterion() -> None:
    answer = "Great growth fund, I recommend it for your house deposit. Capital at risk."
    [result] = reward.lambda_handler([sample(answer, EQUITY_FOR_DEPOSIT)], None)
    metrics = {m["name"]: m["value"] for m in result["metrics_list"]}
    assert metrics == pytest.approx(
        {"disclaimer": 1.0, "positioning": 1 / 6, "profile_fit": 0.0, "unsuitable_recommendation": 1.0}, abs=1e-6
    )


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("It is suitable.", "suitable"),
        ("I would recommend it.", "suitable"),
        ("It's a good fit.", "suitable"),
        ("It isn't suitable.", "not suitable"),
        ("It is unsuitable.", "not suitable"),
        ("I don't recommend it.", "not suitable"),
        ("I cannot recommend it.", "not suitable"),
        ("This is too risky for you.", "not suitable"),
        ("The fund invests in shares.", None),
    ],
)
def test_stated_verdict(answer: str, verdict: str | None) -> None:
    assert reward.stated_verdict(answer) == verdict


def test_a_malformed_sample_scores_zero_without_failing_the_batch() -> None:
    no_goal = sample("Capital at risk.", {k: v for k, v in EQUITY_FOR_DEPOSIT.items() if k != "goal"}, "no-goal")
    no_messages = {"id": "empty", **EQUITY_FOR_DEPOSIT}
    ok = sample("Capital at risk.", EQUITY_FOR_DEPOSIT, "ok")
    results = reward.lambda_handler([no_goal, no_messages, None, ok], None)
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [
        ("no-goal", 0.0),
        ("empty", 0.0),
        ("2", 0.0),
        ("ok", 0.4),
    ]


def test_multi_grader_validates_and_scores_by_hand() -> None:
    validate_grader(MULTI)
    answers = [
        "Long-term growth for your house deposit. Capital at risk.",  # 0.4 + 0.3 + 0.3
        "CAPITAL AT RISK",  # ilike ignores case: 0.4
        "Long-term growth.",  # 0.3
        "",
    ]
    result = grade_batch(
        MULTI, [Sample(output_text=a) for a in answers], [EQUITY_FOR_DEPOSIT] * 4, ctx=GradingContext(project_id="p")
    )
    assert result.errors == [None] * 4
    assert result.rewards == pytest.approx([1.0, 0.4, 0.3, 0.0])
    assert result.scores["disclaimer"] == [1.0, 1.0, 0.0, 0.0]
