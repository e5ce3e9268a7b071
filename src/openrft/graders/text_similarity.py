"""`text_similarity`: a similarity metric between the rendered input and reference, in [0, 1].

Each metric comes from the library that defines it:
- fuzzy_match: rapidfuzz `fuzz.WRatio` with `utils.default_process`, / 100 (OpenAI's documented python
  equivalent of this grader).
- bleu: nltk `sentence_bleu` (4-gram, uniform weights, smoothing method1 so a short answer is not 0).
- gleu: nltk `sentence_gleu` (Google BLEU, n = 1..4).
- meteor: nltk `meteor_score` with its synonym stage off: the WordNet corpus it needs is not shipped on
  PyPI and cannot be downloaded at run time, so only exact and Porter-stem matches count (METEOR as
  defined, minus WordNet synonyms; equal to full METEOR whenever no synonym pair is involved).
- rouge_1..rouge_5, rouge_l: rouge-score's F-measure (its own tokenizer, no stemming).
- cosine: all-MiniLM-L6-v2 sentence embeddings (openrft.graders.embeddings), when that model is installed.
bleu, gleu and meteor tokenize with nltk's `wordpunct_tokenize` (needs no data files).
`pass_threshold` is accepted for compatibility; the reward is the metric itself.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from nltk.stem.porter import PorterStemmer
from nltk.tokenize import wordpunct_tokenize
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.translate.gleu_score import sentence_gleu
from nltk.translate.meteor_score import meteor_score
from rapidfuzz import fuzz, utils
from rouge_score import rouge_scorer

from openrft.graders import embeddings
from openrft.graders.context import GradingContext, Outcome, per_sample
from openrft.graders.errors import GradeError
from openrft.graders.schemas import TextSimilarityGrader
from openrft.graders.templates import render

_SMOOTHING = SmoothingFunction().method1
_STEMMER = PorterStemmer()


class _NoSynonyms:
    """Stands in for nltk's WordNet reader in meteor_score: no synsets, so no synonym matches."""

    def synsets(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        return []


@lru_cache(maxsize=8)
def _rouge(kind: str) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer([kind], use_stemmer=False)


def fuzzy_match(text: str, ref: str) -> float:
    return float(fuzz.WRatio(text, ref, processor=utils.default_process)) / 100.0


def bleu(text: str, ref: str) -> float:
    hyp = wordpunct_tokenize(text)
    return float(sentence_bleu([wordpunct_tokenize(ref)], hyp, smoothing_function=_SMOOTHING)) if hyp else 0.0


def gleu(text: str, ref: str) -> float:
    return float(sentence_gleu([wordpunct_tokenize(ref)], wordpunct_tokenize(text)))


def meteor(text: str, ref: str) -> float:
    hyp, refs = wordpunct_tokenize(text), [wordpunct_tokenize(ref)]
    return float(meteor_score(refs, hyp, stemmer=_STEMMER, wordnet=_NoSynonyms())) if hyp else 0.0


def _rouge_metric(kind: str) -> Callable[[str, str], float]:
    def score(text: str, ref: str) -> float:
        return float(_rouge(kind).score(ref, text)[kind].fmeasure)

    return score


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    **{f"rouge_{n}": _rouge_metric(f"rouge{n}") for n in range(1, 6)},
    "rouge_l": _rouge_metric("rougeL"),
}


def cosine_unavailable_reason() -> str | None:
    return embeddings.unavailable_reason()


def _models_dir(ctx: GradingContext) -> Path:
    if ctx.settings is not None:
        return Path(ctx.settings.models_dir)
    return Path(tempfile.gettempdir()) / "openrft-models"


def _grade_cosine(grader: TextSimilarityGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    pairs: list[tuple[str, str] | GradeError] = []
    for env in envs:
        try:
            pairs.append((render(grader.input, env), render(grader.reference, env)))
        except GradeError as exc:
            pairs.append(exc)
    ok = [p for p in pairs if isinstance(p, tuple)]
    scores = iter(
        embeddings.cosine_similarities([a for a, _ in ok], [b for _, b in ok], _models_dir(ctx)) if ok else []
    )
    return [Outcome.failed(p) if isinstance(p, GradeError) else Outcome(score=next(scores)) for p in pairs]


def grade_many(grader: TextSimilarityGrader, envs: list[dict[str, Any]], ctx: GradingContext) -> list[Outcome]:
    if grader.evaluation_metric == "cosine":
        return _grade_cosine(grader, envs, ctx)
    metric = METRICS[grader.evaluation_metric]
    return per_sample(lambda env: metric(render(grader.input, env), render(grader.reference, env)), envs)
