"""Grader errors: one refused at validation time, one per failed sample at grading time.

`GraderValidationError` is a 400 in OpenAI's shape (it subclasses the domain's `InvalidRequest`) naming the
field at fault, e.g. `param="grader.graders.x.operation"`. `GradeError` never leaves the grading code:
it marks one sample as failed with an error family of OpenAI's run-response metadata (reward 0, counted).
"""

from __future__ import annotations

from openrft.errors import InvalidRequest

# The error flags of GraderRunResponse.metadata.errors, in the SDK's order; each one is also a metrics family.
ERROR_FAMILIES: tuple[str, ...] = (
    "formula_parse_error",
    "invalid_variable_error",
    "model_grader_parse_error",
    "model_grader_refusal_error",
    "model_grader_server_error",
    "other_error",
    "python_grader_runtime_error",
    "python_grader_server_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
)


class GraderValidationError(InvalidRequest):
    """A grader definition that can never run; `param` is the dotted path of the field at fault."""

    def __init__(self, message: str, *, param: str | None = "grader"):
        super().__init__(message, param=param, code="invalid_grader")


class GradeError(Exception):
    """One sample could not be graded: `family` is one of ERROR_FAMILIES, `details` is for humans."""

    def __init__(self, family: str, details: str):
        assert family in ERROR_FAMILIES, family
        super().__init__(f"{family}: {details}")
        self.family = family
        self.details = details
