"""The quickstart's bundled reward function, scored by hand."""

import importlib.util
from pathlib import Path

import pytest

import openrft

PATH = Path(openrft.__file__).parent / "data" / "quickstart" / "reward" / "lambda_function.py"
spec = importlib.util.spec_from_file_location("quickstart_reward", PATH)
assert spec and spec.loader
reward = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reward)


def sample(answer: str, category: str = "billing") -> dict:
    return {
        "id": "s1",
        "messages": [{"role": "user", "content": "I was charged twice."}, {"role": "assistant", "content": answer}],
        "category": category,
        "metadata": {"category": category},
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Billing", 1.0),  # first word, case-insensitive: 0.7 * 1 + 0.3 * 1
        ("billing.", 1.0),
        ("It is about billing", 0.7 * 0.5 + 0.3 * (1 - 1 / 27)),  # 4 words: brevity 26/27
        ("billing or shipping maybe", 0.7 * 1.0 + 0.3 * (1 - 1 / 27)),  # first word wins
        ("shipping", 0.3),  # wrong category, brief
        ("Maybe shipping, maybe billing", 0.3 * (1 - 1 / 27)),  # two categories named: no credit
        ("", 0.3),
        (" ".join(["word"] * 30), 0.0),  # 30 words: brevity 0, no category
    ],
)
def test_scores_worked_by_hand(answer: str, expected: float) -> None:
    [result] = reward.lambda_handler([sample(answer)], None)
    assert result["id"] == "s1"
    assert result["aggregate_reward_score"] == pytest.approx(expected, abs=1e-6)


def test_metrics_list_names_each_criterion() -> None:
    [result] = reward.lambda_handler([sample("billing")], None)
    assert {m["name"]: m["value"] for m in result["metrics_list"]} == {"category": 1.0, "brevity": 1.0}


def test_category_read_from_metadata_when_absent_at_top_level() -> None:
    event = sample("account", "account")
    del event["category"]
    [result] = reward.lambda_handler([event], None)
    assert result["aggregate_reward_score"] == pytest.approx(1.0)
