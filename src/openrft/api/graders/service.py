"""Graders service: validate a grader, or run it on one sample, for the caller's project."""

from __future__ import annotations

from typing import Any

from openrft import safejson
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.functions.arn import is_aws_arn
from openrft.functions.package import REGISTRY_ERRORS
from openrft.functions.registry import get_version, split_ref
from openrft.graders import GradingContext, Sample, run_response
from openrft.graders.errors import GraderValidationError
from openrft.graders.validate import check_outbound, dump, lambda_functions, parse_grader


def sample_from_text(model_sample: str) -> Sample:
    """`model_sample` is the output text; if it parses as JSON it is also `output_json`."""
    try:
        output_json = safejson.loads(model_sample)
    except ValueError:  # not JSON (or too deep to read as JSON): the sample is text only
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


def checked_grader(ctx: AppContext, project_id: str, grader: Any) -> dict[str, Any]:
    """`validate_grader` under the operator's outbound policy, and every reward function it names must exist."""
    model = parse_grader(grader)  # parsed once: checked here, then dumped as validate_grader dumps it
    check_outbound(model, ctx.settings.egress, project_id=project_id)
    for param, ref in lambda_functions(model):
        if ref.startswith("arn:") and is_aws_arn(ref, project_id):
            continue
        try:
            get_version(ctx.store, project_id, *split_ref(project_id, ref))
        except REGISTRY_ERRORS as exc:
            raise GraderValidationError(f"{param}: reward function {ref!r}: {exc.message}", param=param) from None
    return dump(model)


def validate(ctx: AppContext, principal: Principal, grader: dict[str, Any]) -> dict[str, Any]:
    return {"grader": checked_grader(ctx, principal.project_id, grader)}


def run(ctx: AppContext, principal: Principal, grader: dict[str, Any], model_sample: str, item: Any) -> dict[str, Any]:
    normalized = checked_grader(ctx, principal.project_id, grader)
    grading = GradingContext(
        project_id=principal.project_id,
        settings=ctx.settings,
        store=ctx.store,
        blobs=ctx.blobs,
        python_timeout_s=ctx.settings.python_grader_timeout_s,
    )
    return run_response(normalized, sample_from_text(model_sample), item, ctx=grading)
