"""The three examples' datasets: valid fine-tune files, big enough, disjoint, scoreable by their reward.

For each row the reward must give an ideal answer built from the row's own fields the maximum (1.0)
and an empty answer the minimum (0.0); so a field the reward needs can't be missing or misspelled.
"""

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from rapidfuzz import fuzz

from openrft.datasets import DatasetRow, parse_finetune_jsonl
from openrft.graders.run import GradingContext, Sample, grade_batch
from tests.examples.loader import EXAMPLES, load_example_module


def ideal_legal(item: dict[str, Any]) -> str:
    return f"Article {item['article']} of the GDPR governs this."


def ideal_diagnosis(item: dict[str, Any]) -> str:
    return item["diagnosis"]


def ideal_banking(item: dict[str, Any]) -> str:
    warning = "Capital at risk." if item["disclaimer"] == "capital at risk" else "This is not financial advice."
    return (
        f"The {item['product']} offers {item['key_benefit']}; for your {item['goal']} it is {item['verdict']} "
        f"for a {item['risk_profile']} profile. {warning}"
    )


IDEAL: dict[str, Callable[[dict[str, Any]], str]] = {
    "legal_compliance": ideal_legal,
    "maintenance_diagnostics": ideal_diagnosis,
    "banking": ideal_banking,
}
FIELDS = {
    "legal_compliance": {"article", "accepted_articles", "topic"},
    "maintenance_diagnostics": {"diagnosis", "subsystem", "error_code", "model"},
    "banking": {
        "product",
        "product_risk",
        "key_benefit",
        "disclaimer",
        "risk_profile",
        "goal",
        "verdict",
        "reference_answer",
    },
}


def rows(example: str, split: str) -> list[DatasetRow]:
    return parse_finetune_jsonl((EXAMPLES / example / "data" / f"{split}.jsonl").read_bytes())


def prompt(row: DatasetRow) -> str:
    return row.messages[-1]["content"]


def rewards(example: str, data: list[DatasetRow], answers: list[str]) -> list[float]:
    handler = load_example_module(example, "reward/lambda_function.py").lambda_handler
    events = [
        {
            "id": f"s{i}",
            "messages": [*row.messages, {"role": "assistant", "content": answer}],
            **row.item,
            "metadata": dict(row.item),
        }
        for i, (row, answer) in enumerate(zip(data, answers, strict=True))
    ]
    results = handler(json.loads(json.dumps(events)), None)
    assert [r["id"] for r in results] == [e["id"] for e in events]
    return [r["aggregate_reward_score"] for r in results]


@pytest.mark.parametrize("example", list(IDEAL))
def test_files_are_valid_and_big_enough(example: str) -> None:
    train, valid = rows(example, "train"), rows(example, "valid")
    assert len(train) >= 100
    assert len(valid) >= 24
    for row in [*train, *valid]:
        assert set(row.item) == FIELDS[example], row.line
        assert row.messages[0]["role"] == "system"


@pytest.mark.parametrize("example", list(IDEAL))
def test_prompts_are_unique_and_train_valid_disjoint(example: str) -> None:
    train = [prompt(r) for r in rows(example, "train")]
    valid = [prompt(r) for r in rows(example, "valid")]
    assert len(set(train)) == len(train)
    assert len(set(valid)) == len(valid)
    assert not set(train) & set(valid)


@pytest.mark.parametrize("example", ["legal_compliance", "maintenance_diagnostics"])
def test_no_near_duplicate_prompts(example: str) -> None:
    texts = [prompt(r) for split in ("train", "valid") for r in rows(example, split)]
    # the instruction every prompt ends with (characters, not paths: commonprefix is what is wanted)
    suffix = len(os.path.commonprefix([t[::-1] for t in texts]))  # noqa: RUF071
    texts = [t[: len(t) - suffix] for t in texts]
    close = [
        (a, b) for i, a in enumerate(texts) for b in texts[i + 1 :] if fuzz.ratio(a, b) > 85
    ]  # same question reworded by one word or two
    assert not close


@pytest.mark.parametrize("example", list(IDEAL))
@pytest.mark.parametrize("split", ["train", "valid"])
def test_ideal_answer_scores_max_and_empty_answer_min(example: str, split: str) -> None:
    data = rows(example, split)
    assert rewards(example, data, [IDEAL[example](r.item) for r in data]) == [1.0] * len(data)
    assert rewards(example, data, [""] * len(data)) == [0.0] * len(data)


@pytest.mark.parametrize("example", list(IDEAL))
def test_files_match_their_generator(example: str) -> None:
    train, valid = load_example_module(example, "make_data.py").build()
    for split, expected in (("train", train), ("valid", valid)):
        lines = (EXAMPLES / example / "data" / f"{split}.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in lines] == expected, f"rerun examples/{example}/make_data.py"


def test_banking_multi_grader_scores_ideal_max_and_empty_min() -> None:
    grader = json.loads((EXAMPLES / "banking" / "multi_grader.json").read_text())
    data = rows("banking", "valid")
    samples = [Sample(output_text=ideal_banking(r.item)) for r in data] + [Sample(output_text="")] * len(data)
    result = grade_batch(grader, samples, [r.item for r in data] * 2, ctx=GradingContext(project_id="p"))
    assert result.rewards == [1.0] * len(data) + [0.0] * len(data)


def test_banking_labels_follow_the_risk_rule() -> None:
    tolerance = {"conservative": 0, "balanced": 1, "adventurous": 2}
    risk = {"low": 0, "medium": 1, "high": 2}
    for row in rows("banking", "train") + rows("banking", "valid"):
        fits = risk[row.item["product_risk"]] <= tolerance[row.item["risk_profile"]]
        assert row.item["verdict"] == ("suitable" if fits else "not suitable")
        investment = row.item["product"].startswith("Beacon")
        assert row.item["disclaimer"] == ("capital at risk" if investment else "not financial advice")


# -- the legal example's supervised warm start (data/sft_train.jsonl, data/sft_valid.jsonl) ------------


def legal_sft(split: str) -> list[dict[str, Any]]:
    lines = (EXAMPLES / "legal_compliance" / "data" / f"sft_{split}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_legal_sft_files_match_their_generator() -> None:
    train, valid = load_example_module("legal_compliance", "make_data.py").build_sft()
    assert legal_sft("train") == train, "rerun examples/legal_compliance/make_data.py"
    assert legal_sft("valid") == valid, "rerun examples/legal_compliance/make_data.py"


@pytest.mark.parametrize("split", ["train", "valid"])
def test_legal_sft_rows_are_the_rft_prompts_answered_with_the_right_article(split: str) -> None:
    """Row i of sft_<split> is row i of <split> plus one assistant answer, which scores 1.0 on the reward."""
    demos, data = legal_sft(split), rows("legal_compliance", split)
    assert len(demos) == len(data)
    for demo, row in zip(demos, data, strict=True):
        assert set(demo) == {"messages"}  # OpenAI's chat SFT format: no RFT fields
        assert demo["messages"][:-1] == row.messages
        assert demo["messages"][-1]["role"] == "assistant"
        assert demo["messages"][-1]["content"].startswith(f"Article {row.item['article']}")
    answers = [d["messages"][-1]["content"] for d in demos]
    assert rewards("legal_compliance", data, answers) == [1.0] * len(data)


def test_legal_sft_training_demonstrations_never_ask_a_held_out_question() -> None:
    held_out = {prompt(r) for r in rows("legal_compliance", "valid")}
    trained = [d["messages"][-2]["content"] for d in legal_sft("train")]
    assert len(trained) >= 60
    assert not held_out & set(trained)


@pytest.mark.parametrize("split", ["train", "valid"])
def test_legal_sft_files_validate_as_supervised(split: str) -> None:
    data = (EXAMPLES / "legal_compliance" / "data" / f"sft_{split}.jsonl").read_bytes()
    parsed = parse_finetune_jsonl(data, method="supervised")
    assert len(parsed) == len(legal_sft(split))
