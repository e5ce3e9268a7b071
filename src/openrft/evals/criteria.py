"""Testing criteria of an eval: our graders plus OpenAI's pass rules, validated once and graded per item.

A criterion is a grader definition (openrft.graders: string_check, text_similarity, python, score_model,
label_model, multi, lambda) with two eval-only fields: `pass_threshold` (text_similarity: required, as
OpenAI; python, score_model, multi and lambda: optional) and the `id` "<name>-<uuid4>" given at creation.

Pass rules (`passes`), one per grader kind:
- string_check: the check holds (score == 1);
- label_model: the judge's label is one of `passing_labels` (the grader scores 1 exactly then);
- text_similarity, python, score_model, multi, lambda: score >= pass_threshold; without one,
  score >= DEFAULT_PASS_THRESHOLD (0.5), our default where OpenAI names none.
An item passes when every criterion passes. A criterion that fails to grade an item (an error family of
openrft.graders: a judge that did not answer, a python exception, ...) does not pass, and its result's
`sample` carries `{"error": {"code", "message"}}`: the item counts as errored (`is_errored`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from openrft.errors import InvalidRequest, field_error
from openrft.graders import schemas as s
from openrft.graders.errors import GraderValidationError
from openrft.graders.templates import Path, variables
from openrft.graders.validate import check_grader, dump, parse_grader

DEFAULT_PASS_THRESHOLD = 0.5
THRESHOLD_TYPES = ("text_similarity", "python", "score_model", "multi", "lambda")
CRITERION_TYPES = ("string_check", "text_similarity", "python", "score_model", "label_model", "multi", "lambda")
_EVAL_FIELDS = ("id", "pass_threshold")


# -- validation ---------------------------------------------------------------------------------------


def parse_criteria(raw: list[dict[str, Any]], *, param: str = "testing_criteria") -> list[dict[str, Any]]:
    """Validate each criterion and give it its id; raise InvalidRequest naming `param[i].field` at fault.

    Only the grader's own checks run here (shape, templates, formulas, python source, labels); the
    operator's outbound policy and the existence of reward functions are the caller's (they need the
    project): see openrft.api.evals.service.
    """
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest(f"'{param}' must be a non-empty list of graders.", param=param)
    return [parse_criterion(c, param=f"{param}[{i}]") for i, c in enumerate(raw)]


def parse_criterion(raw: Any, *, param: str) -> dict[str, Any]:
    """One criterion, normalized as the grader validator normalizes it, + pass_threshold and a new id."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"'{param}' must be a grader object with a 'type'.", param=param)
    kind = raw.get("type")
    if kind not in CRITERION_TYPES:
        raise InvalidRequest(
            f"'{param}.type': unknown testing criterion type {kind!r}; expected one of: {', '.join(CRITERION_TYPES)}.",
            param=f"{param}.type",
        )
    if "id" in raw:
        raise InvalidRequest(f"'{param}.id' is assigned by the server; leave it out.", param=f"{param}.id")
    threshold = _threshold(raw, str(kind), param)
    grader = {k: v for k, v in raw.items() if k not in _EVAL_FIELDS}
    out = dump(_label_model(grader, param)) if kind == "label_model" else dump(parse_grader(grader, param=param))
    if threshold is not None:
        out["pass_threshold"] = threshold
    out["id"] = f"{out['name']}-{uuid.uuid4()}"
    return out


def _threshold(raw: dict[str, Any], kind: str, param: str) -> float | None:
    where = f"{param}.pass_threshold"
    value = raw.get("pass_threshold")
    if value is None:
        if kind == "text_similarity":
            raise InvalidRequest(f"Missing required parameter: '{where}' (text_similarity criteria).", param=where)
        return None
    if kind not in THRESHOLD_TYPES:
        rule = "passes when the check holds" if kind == "string_check" else "passes on a passing label"
        raise InvalidRequest(f"'{where}': a {kind} criterion takes no pass_threshold (it {rule}).", param=where)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"'{where}' must be a finite number.", param=where)
    return float(value)


def _label_model(grader: dict[str, Any], param: str) -> s.LabelModelGrader:
    """label_model on its own (the grader validator allows it only inside a multi; an eval allows it)."""
    try:
        model = s.LabelModelGrader.model_validate(grader)
    except ValidationError as exc:
        err = field_error(exc.errors(), prefix=param)
        raise GraderValidationError(f"{err.param}: {err.message}", param=err.param) from None
    check_grader(model, param)
    return model


def typed(criterion: dict[str, Any]) -> s.AnyGrader:
    """A stored criterion as the typed grader the grading code runs (its eval-only fields dropped)."""
    grader = {k: v for k, v in criterion.items() if k not in _EVAL_FIELDS}
    if grader.get("type") == "label_model":
        return s.LabelModelGrader.model_validate(grader)
    from openrft.graders.run import typed as typed_grader  # the runtime pulls in nltk/rouge: import it late

    return typed_grader(grader)


# -- templates ----------------------------------------------------------------------------------------


def _grader_templates(grader: dict[str, Any], param: str) -> Iterator[tuple[str, str]]:
    kind = grader.get("type")
    if kind in ("string_check", "text_similarity"):
        yield f"{param}.input", grader["input"]
        yield f"{param}.reference", grader["reference"]
    elif kind in ("score_model", "label_model"):
        for j, message in enumerate(grader.get("input") or []):
            content = message.get("content")
            parts = content if isinstance(content, list) else [content]
            for part in parts:
                text = part if isinstance(part, str) else (part or {}).get("text", (part or {}).get("image_url"))
                if isinstance(text, str):
                    yield f"{param}.input[{j}].content", text
    elif kind == "multi":
        for key, sub in (grader.get("graders") or {}).items():
            yield from _grader_templates(sub, f"{param}.graders.{key}")


def template_variables(criteria: list[dict[str, Any]], *, param: str = "testing_criteria") -> list[tuple[str, Path]]:
    """(param of the field, parsed variable) of every `{{ ... }}` in the criteria's templates."""
    return [
        (where, var)
        for i, criterion in enumerate(criteria)
        for where, text in _grader_templates(criterion, f"{param}[{i}]")
        for var in variables(text)
    ]


def reads_sample(criteria: list[dict[str, Any]], *, param: str = "testing_criteria") -> str | None:
    """The param of the first criterion field that reads the sample (a template or a lambda grader), or None."""
    for where, (namespace, _) in template_variables(criteria, param=param):
        if namespace == "sample":
            return where
    for i, criterion in enumerate(criteria):
        kinds = [criterion.get("type")] + [g.get("type") for g in (criterion.get("graders") or {}).values()]
        if "lambda" in kinds:
            return f"{param}[{i}]"
    return None


# -- grading ------------------------------------------------------------------------------------------


def passes(criterion: dict[str, Any], score: float) -> bool:
    """The criterion's pass rule (module docstring) applied to a score it gave."""
    if criterion["type"] in ("string_check", "label_model"):
        return score == 1.0
    threshold = criterion.get("pass_threshold")
    return score >= (DEFAULT_PASS_THRESHOLD if threshold is None else threshold)


def result(criterion: dict[str, Any], outcome: Any) -> dict[str, Any]:
    """One criterion's grade of one item, in OpenAI's Result shape (+ the criterion's id)."""
    details: dict[str, Any] = {}
    if outcome.error:
        details["error"] = {"code": outcome.error, "message": outcome.details or outcome.error}
    if outcome.sub:
        details["sub_rewards"] = {name: sub.score for name, sub in outcome.sub.items()}
    if outcome.extra_metrics:
        details["metrics"] = dict(outcome.extra_metrics)
    return {
        "name": criterion["name"],
        "type": criterion["type"],
        "score": float(outcome.score),
        "passed": not outcome.error and passes(criterion, float(outcome.score)),
        "sample": details or None,
        "testing_criteria": criterion["id"],
    }


def is_errored(results: list[dict[str, Any]]) -> bool:
    """Whether some criterion failed to grade the item (not a fail: an error)."""
    return any(isinstance(r.get("sample"), dict) and r["sample"].get("error") for r in results)


def grade_items(
    criteria: list[dict[str, Any]],
    samples: list[Any],
    items: list[dict[str, Any]],
    ctx: Any,
    messages: list[list[dict[str, Any]]] | None = None,
) -> list[tuple[list[dict[str, Any]], bool]]:
    """Every criterion on every (samples[k], items[k]): per item (its results, whether it passed).

    `samples` are openrft.graders.Sample, `ctx` an openrft.graders.GradingContext, `messages[k]` the
    prompt of item k (the lambda grader sends it to the function). Each criterion grades the whole batch
    at once (model judges concurrently). A criterion that cannot run at all (a reward function deleted
    since the eval was made) errors every item it grades, with its reason.
    """
    from openrft.graders.context import Outcome
    from openrft.graders.run import build_env, grade_outcomes

    if len(samples) != len(items) or (messages is not None and len(messages) != len(items)):
        raise ValueError("samples, items (and messages) must have the same length")
    pairs = enumerate(zip(samples, items, strict=True))
    envs = [build_env(smp, itm, messages[k] if messages else None) for k, (smp, itm) in pairs]
    per_criterion: list[list[Any]] = []
    for criterion in criteria:
        try:
            per_criterion.append(grade_outcomes(typed(criterion), envs, ctx))
        except InvalidRequest as exc:
            per_criterion.append([Outcome(error="other_error", details=exc.message) for _ in envs])
    out = []
    for k in range(len(items)):
        results = [result(c, outcomes[k]) for c, outcomes in zip(criteria, per_criterion, strict=True)]
        out.append((results, all(r["passed"] for r in results)))
    return out
