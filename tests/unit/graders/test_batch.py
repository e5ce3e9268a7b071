"""grade_batch: rewards, per-grader scores, error counts and the metrics-event fragments (api-spec 4.9)."""

from __future__ import annotations

import pytest

from openrft.graders import ERROR_FAMILIES, GraderValidationError, GradingContext, Sample, grade_batch

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_json.answer }}",
    "reference": "{{ item.answer }}",
    "operation": "eq",
}
OVERLAP = {
    "type": "text_similarity",
    "name": "overlap",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "evaluation_metric": "rouge_1",
}
MULTI = {
    "type": "multi",
    "name": "combo",
    "graders": {"exact": EXACT, "overlap": OVERLAP},
    "calculate_output": "0.75 * exact + 0.25 * overlap",
}
SAMPLES = [
    Sample(output_text='{"answer": "7"}', output_json={"answer": "7"}),  # exact 1; rouge_1 of "answer 7" vs "7": 2/3
    Sample(output_text="7", output_json=7),  # exact: output_json has no "answer" (invalid_variable_error)
    Sample(output_text='{"answer": "8"}', output_json={"answer": "8"}),  # exact 0; rouge_1 0
]
ITEMS = [{"answer": "7"}, {"answer": "7"}, {"answer": "7"}]


def test_multi_batch_rewards_scores_and_metrics() -> None:
    result = grade_batch(MULTI, SAMPLES, ITEMS, ctx=GradingContext(project_id="p"), split="train")
    assert result.rewards == pytest.approx([0.75 + 0.25 * 2 / 3, 0.0, 0.0])
    assert result.errors == [None, "invalid_variable_error", None]
    assert result.error_counts == {"invalid_variable_error": 1}
    assert result.scores["exact"] == [1.0, 0.0, 0.0]
    assert result.scores["overlap"] == pytest.approx([2 / 3, 1.0, 0.0])  # sub-graders score on their own
    assert "[exact]" in result.error_details[0] and "output_json has no 'answer'" in result.error_details[0]

    metrics = result.metrics("train")
    assert metrics["scores"]["train_reward_mean"] == pytest.approx((0.75 + 0.25 * 2 / 3) / 3)
    graders = {g["name"]: g for g in metrics["scores"]["graders"]}
    assert graders["combo"]["type"] == "multi" and graders["exact"]["type"] == "string_check"
    assert graders["exact"]["train_reward_mean"] == pytest.approx(1 / 3)
    errors = {g["name"]: g for g in metrics["errors"]["graders"]}
    assert errors["combo"]["train_invalid_variable_error_count"] == 1.0
    assert errors["combo"]["train_invalid_variable_error_mean"] == pytest.approx(1 / 3)
    assert errors["overlap"]["train_invalid_variable_error_count"] == 0.0
    assert all(f"train_{family}_mean" in errors["exact"] for family in ERROR_FAMILIES)
    timing = {g["name"]: g for g in metrics["timing"]["graders"]}
    assert timing["combo"]["train_execution_latency_mean"] >= 0.0
    assert metrics["usage"] == {"graders": []}
    valid = result.metrics("valid")
    assert "valid_reward_mean" in valid["scores"] and "valid_other_error_count" in valid["errors"]["graders"][0]


def test_formula_runtime_error_is_other_error() -> None:
    grader = {**MULTI, "calculate_output": "exact / (overlap - overlap)"}
    result = grade_batch(grader, SAMPLES[:1], ITEMS[:1], ctx=GradingContext(project_id="p"))
    assert result.errors == ["other_error"] and result.rewards == [0.0]
    assert "division by zero" in result.error_details[0]


def test_invalid_grader_and_mismatched_lengths_raise() -> None:
    with pytest.raises(GraderValidationError):
        grade_batch({"type": "label_model"}, SAMPLES, ITEMS, ctx=GradingContext(project_id="p"))
    with pytest.raises(ValueError, match="same length"):
        grade_batch(EXACT, SAMPLES, ITEMS[:1], ctx=GradingContext(project_id="p"))


def test_empty_batch() -> None:
    result = grade_batch(EXACT, [], [], ctx=GradingContext(project_id="p"))
    assert result.rewards == [] and result.metrics()["scores"]["train_reward_mean"] == 0.0
