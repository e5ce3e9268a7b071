"""Graders service: validate a grader, or run it on one sample, for the caller's project."""

from __future__ import annotations

import json
from typing import Any

from openrft.api.deps import AppContext
from openrft.auth.keys import Principal
from openrft.graders import GradingContext, Sample, run_response, validate_grader


def sample_from_text(model_sample: str) -> Sample:
    """`model_sample` is the output text; if it parses as JSON it is also `output_json`."""
    try:
        output_json = json.loads(model_sample)
    except (json.JSONDecodeError, ValueError):
        output_json = None
    return Sample(output_text=model_sample, output_json=output_json)


def item_from(item: Any, reference_answer: Any) -> Any:
    """`item`, or the pre-1.83 `reference_answer` as `item.reference_answer` (both: merged)."""
    if reference_answer is None:
        return {} if item is None else item
    if item is None:
        return {"reference_answer": reference_answer}
    if isinstance(item, dict):
        return {"reference_answer": reference_answer, **item}
    return item


def validate(grader: dict[str, Any]) -> dict[str, Any]:
    return {"grader": validate_grader(grader)}


def run(ctx: AppContext, principal: Principal, grader: dict[str, Any], model_sample: str, item: Any) -> dict[str, Any]:
    normalized = validate_grader(grader)
    grading = GradingContext(
        project_id=principal.project_id,
        settings=ctx.settings,
        store=ctx.store,
        blobs=ctx.blobs,
        python_timeout_s=ctx.settings.python_grader_timeout_s,
    )
    return run_response(normalized, sample_from_text(model_sample), item, ctx=grading)
