"""OpenAI's grader family (+ openrft's `lambda` grader): validation and batch grading.

    validate_grader(raw) -> normalized dict           (API validate/run, job creation)
    grade_batch(grader, samples, items, ctx=...)       (the trainer, one call per step)
    run_response(grader, sample, item, ctx=...)        (POST /v1/fine_tuning/alpha/graders/run)

One module per grader type (string_check, text_similarity, python_grader, model_graders, multi,
lambda_grader); `run.py` dispatches on `type` and gathers rewards, scores, errors and metrics.
"""

from typing import TYPE_CHECKING

from openrft.graders.errors import ERROR_FAMILIES, GradeError, GraderValidationError
from openrft.graders.validate import redact, validate_grader

if TYPE_CHECKING:
    from openrft.graders.run import BatchResult, GradingContext, Sample, grade_batch, run_response

__all__ = [
    "ERROR_FAMILIES",
    "BatchResult",
    "GradeError",
    "GraderValidationError",
    "GradingContext",
    "Sample",
    "grade_batch",
    "redact",
    "run_response",
    "validate_grader",
]


def __getattr__(name: str) -> object:
    # The runtime pulls in nltk/rouge/httpx; validation (used at job creation) stays light.
    if name in ("BatchResult", "GradingContext", "Sample", "grade_batch", "run_response"):
        from openrft.graders import run

        return getattr(run, name)
    raise AttributeError(name)
