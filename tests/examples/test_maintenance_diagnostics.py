"""The Aquila diagnostics example's reward function, scored by hand."""

import pytest

from tests.examples.loader import EXAMPLES, load_example_module

reward = load_example_module("maintenance_diagnostics", "reward/lambda_function.py")
catalog = load_example_module("maintenance_diagnostics", "catalog.py")


def sample(answer: str, diagnosis: str = "drain pump failure", sid: str = "s1") -> dict:
    fields = {
        "diagnosis": diagnosis,
        "subsystem": catalog.FAULTS[diagnosis][0],
        "error_code": catalog.FAULTS[diagnosis][1],
        "model": "Aquila D40",
    }
    return {
        "id": sid,
        "messages": [
            {"role": "system", "content": "Reply with the single most likely diagnosis."},
            {"role": "user", "content": "Water stays in the tank at the end of the cycle and E21 appears."},
            {"role": "assistant", "content": answer},
        ],
        **fields,
        "metadata": dict(fields),
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("drain pump failure", 1.0),  # 0.7 * 1 + 0.3 * 1
        ("Drain pump failure.", 1.0),
        ("The drain pump has failed.", 0.7 * 0.8 + 0.3),  # key term only
        ("drain filter clogged", 0.3),  # wrong diagnosis, right subsystem
        ("Something in the drainage.", 0.3),  # subsystem named by its own words
        ("drain pump failure or drain filter clogged", 0.75),  # 1.0 - 0.25 for one extra diagnosis
        ("drain pump failure, heater element failure or door sensor fault", 0.5),  # two extra
        ("heater element failure", 0.0),
        ("heater element failure or door sensor fault", 0.0),  # 0 - 0.25, clipped
        ("The dishwasher is broken.", 0.0),
        ("", 0.0),
    ],
)
def test_scores_worked_by_hand(answer: str, expected: float) -> None:
    [result] = reward.lambda_handler([sample(answer)], None)
    assert result["id"] == "s1"
    assert result["aggregate_reward_score"] == pytest.approx(expected, abs=1e-6)


def test_metrics_list_names_each_criterion() -> None:
    [result] = reward.lambda_handler([sample("drain pump failure or drain filter clogged")], None)
    metrics = {m["name"]: m["value"] for m in result["metrics_list"]}
    assert metrics == {"diagnosis": 1.0, "subsystem": 1.0, "extra_diagnoses": 1.0}


@pytest.mark.parametrize("diagnosis", list(reward.DIAGNOSES))
def test_each_exact_name_names_only_itself(diagnosis: str) -> None:
    assert reward.named_diagnoses(f"Diagnosis: {diagnosis}.") == {diagnosis}
    [result] = reward.lambda_handler([sample(diagnosis, diagnosis)], None)
    assert result["aggregate_reward_score"] == 1.0


def test_leak_subsystem_words() -> None:
    [result] = reward.lambda_handler([sample("Check the base tray float switch.", "water leak in base")], None)
    assert result["aggregate_reward_score"] == pytest.approx(0.3)


def test_reward_table_matches_the_catalog() -> None:
    assert {d: s for d, (s, _) in reward.DIAGNOSES.items()} == {d: f[0] for d, f in catalog.FAULTS.items()}
    assert set(reward.SUBSYSTEM_WORDS) == {f[0] for f in catalog.FAULTS.values()}


def test_fields_read_from_metadata_when_absent_at_top_level() -> None:
    event = sample("drain pump failure")
    del event["diagnosis"]
    [result] = reward.lambda_handler([event], None)
    assert result["aggregate_reward_score"] == 1.0


def test_a_malformed_sample_scores_zero_without_failing_the_batch() -> None:
    unknown = sample("drain pump failure", sid="unknown")
    unknown["diagnosis"] = unknown["metadata"]["diagnosis"] = "flux capacitor"
    no_messages = {"id": "empty", "diagnosis": "drain pump failure", "messages": []}
    results = reward.lambda_handler([unknown, no_messages, "not a sample", sample("drain pump failure")], None)
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [
        ("unknown", 0.0),
        ("empty", 0.0),
        ("2", 0.0),
        ("s1", 1.0),
    ]


def test_readme_code_table_matches_the_catalog() -> None:
    readme = (EXAMPLES / "maintenance_diagnostics" / "README.md").read_text()
    for diagnosis, (subsystem, code, check) in catalog.FAULTS.items():
        assert f"| {code} | {check} | {diagnosis} | {subsystem} |" in readme
