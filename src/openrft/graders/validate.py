"""`validate_grader`: one raw grader dict in, the normalized grader dict out, or a GraderValidationError.

The same function backs `POST /v1/fine_tuning/alpha/graders/validate`, `/run` and job creation, so a
grader that validates here can always be run. `param` names the field at fault in dotted form, rooted
at `grader` (e.g. `grader.graders.accuracy.operation`), as OpenAI's error body does.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from openrft.egress import EgressDenied, EgressPolicy
from openrft.errors import field_error
from openrft.functions.arn import InvalidReference, is_aws_arn, parse_ref
from openrft.graders import schemas as s
from openrft.graders.errors import GraderValidationError
from openrft.graders.formula import FormulaError, parse_formula
from openrft.graders.templates import TemplateSyntaxError, check_template

MAX_PYTHON_SOURCE_BYTES = 256 * 1024


def validate_grader(
    grader: Any, *, egress: EgressPolicy | None = None, project_id: str | None = None
) -> dict[str, Any]:
    """Check a grader definition; return it normalized (multi `graders` keyed by name, None fields dropped).

    Every URL, secret and AWS account it names is checked against `egress`, the operator's outbound
    policy (None: the default policy, public addresses only, no secrets, no AWS accounts); with
    `project_id`, an ARN of any account but the project's own is an AWS Lambda call, checked too.
    """
    model = parse_grader(grader)
    check_outbound(model, egress or EgressPolicy(), project_id=project_id)
    return dump(model)


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)


def parse_grader(grader: Any, *, param: str = "grader") -> s.AnyGrader:
    """Raw dict -> typed grader model, with every check of this module applied."""
    kind = _kind(grader, param, allowed=s.TOP_LEVEL_TYPES)
    if kind == "multi":
        return _parse_multi(grader, param)
    model = _typed(kind, grader, param)
    check_grader(model, param)
    return model


def redact(grader: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to show: inline judge keys (`openrft.api_key`) replaced by '***'."""
    out = dict(grader)
    if isinstance(out.get("openrft"), dict) and out["openrft"].get("api_key"):
        out["openrft"] = {**out["openrft"], "api_key": "***"}
    if isinstance(out.get("graders"), dict):
        out["graders"] = {k: redact(v) if isinstance(v, dict) else v for k, v in out["graders"].items()}
    return out


def _kind(grader: Any, param: str, *, allowed: tuple[str, ...]) -> str:
    if not isinstance(grader, dict):
        raise GraderValidationError(f"{param} must be an object with a 'type'", param=param)
    kind = grader.get("type")
    if kind == "label_model" and "label_model" not in allowed:
        raise GraderValidationError("label_model graders are only allowed inside a multi grader", param=f"{param}.type")
    if kind == "multi" and "multi" not in allowed:
        raise GraderValidationError("a multi grader cannot contain another multi grader", param=f"{param}.type")
    if kind not in allowed:
        raise GraderValidationError(
            f"unknown grader type {kind!r}; expected one of: {', '.join(allowed)}", param=f"{param}.type"
        )
    return str(kind)


def _typed(kind: str, raw: dict[str, Any], param: str) -> Any:
    try:
        return s.MODEL_BY_TYPE[kind].model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # In a union, 'not a string' is the least helpful complaint; show the member's own error.
        first = next((e for e in errors if e["type"] not in ("string_type", "list_type", "model_type")), errors[0])
        err = field_error([first], prefix=param)
        raise GraderValidationError(f"{err.param}: {err.message}", param=err.param) from None


def _parse_multi(raw: dict[str, Any], param: str) -> s.MultiGrader:
    subs = raw.get("graders")
    if isinstance(subs, dict) and isinstance(subs.get("type"), str):
        subs = [subs]
    if isinstance(subs, list):
        keyed: dict[str, Any] = {}
        for i, sub in enumerate(subs):
            name = sub.get("name") if isinstance(sub, dict) else None
            if not isinstance(name, str) or not name:
                raise GraderValidationError("each grader in a list needs a name", param=f"{param}.graders.{i}.name")
            if name in keyed:
                raise GraderValidationError(f"duplicate grader name {name!r}", param=f"{param}.graders.{i}.name")
            keyed[name] = sub
        subs = keyed
    if not isinstance(subs, dict) or not subs:
        raise GraderValidationError(
            "multi.graders must be a non-empty object of named graders", param=f"{param}.graders"
        )
    typed: dict[str, Any] = {}
    for key, sub in subs.items():
        sub_param = f"{param}.graders.{key}"
        kind = _kind(sub, sub_param, allowed=tuple(t for t in s.MODEL_BY_TYPE if t != "multi"))
        typed[key] = _typed(kind, sub, sub_param)
        check_grader(typed[key], sub_param)
    shell = {k: v for k, v in raw.items() if k != "graders"}
    model = _typed("multi", {**shell, "graders": {k: dump(v) for k, v in typed.items()}}, param)
    try:
        parse_formula(model.calculate_output, model.graders.keys())
    except FormulaError as exc:
        raise GraderValidationError(f"formula_parse_error: {exc}", param=f"{param}.calculate_output") from None
    return model


def check_grader(model: BaseModel, param: str) -> None:
    """The checks pydantic cannot express, per grader kind."""
    if isinstance(model, s.StringCheckGrader | s.TextSimilarityGrader):
        _template(model.input, f"{param}.input")
        _template(model.reference, f"{param}.reference")
    if isinstance(model, s.TextSimilarityGrader) and model.evaluation_metric == "cosine":
        from openrft.graders.text_similarity import cosine_unavailable_reason

        reason = cosine_unavailable_reason()
        if reason:
            raise GraderValidationError(reason, param=f"{param}.evaluation_metric")
    if isinstance(model, s.PythonGrader):
        check_python_source(model.source, f"{param}.source")
    if isinstance(model, s.ScoreModelGrader | s.LabelModelGrader):
        _check_judge(model, param)
    rng = model.range if isinstance(model, s.ScoreModelGrader) else None
    if rng is not None and (len(rng) != 2 or not rng[0] < rng[1]):
        raise GraderValidationError("range must be two numbers [low, high] with low < high", param=f"{param}.range")
    if isinstance(model, s.LabelModelGrader):
        _check_labels(model, param)


def _template(text: str, param: str) -> None:
    try:
        check_template(text)
    except TemplateSyntaxError as exc:
        raise GraderValidationError(f"invalid template: {exc}", param=param) from None


def _message_texts(content: s.InputContent) -> list[str]:
    parts = content if isinstance(content, list) else [content]
    texts = [p if isinstance(p, str) else p.text for p in parts if isinstance(p, str | s.InputText | s.OutputText)]
    return texts + [p.image_url for p in parts if isinstance(p, s.InputImage)]  # image URLs may be templates too


def _check_judge(model: s.ScoreModelGrader | s.LabelModelGrader, param: str) -> None:
    if not model.input:
        raise GraderValidationError("input needs at least one message", param=f"{param}.input")
    for i, message in enumerate(model.input):
        for text in _message_texts(message.content):
            _template(text, f"{param}.input.{i}.content")
    extras = model.openrft
    if extras is not None and extras.api_key_env and not extras.api_base:
        raise GraderValidationError(
            "api_key_env is only sent to an api_base; a judge served here needs no key",
            param=f"{param}.openrft.api_key_env",
        )


def _named_targets(model: s.AnyGrader, param: str) -> Iterator[tuple[str, s.AnyGrader]]:
    if isinstance(model, s.MultiGrader):
        for key, sub in model.graders.items():
            yield from _named_targets(sub, f"{param}.graders.{key}")
    else:
        yield param, model


def lambda_functions(model: s.AnyGrader, param: str = "grader") -> list[tuple[str, str]]:
    """(param, reference) of every lambda grader naming an openrft function (not a URL or an AWS ARN)."""
    out = []
    for where, grader in _named_targets(model, param):
        if isinstance(grader, s.LambdaGrader) and not grader.lambda_.function.startswith(("http://", "https://")):
            out.append((f"{where}.lambda.function", grader.lambda_.function))
    return out


def check_outbound(
    model: s.AnyGrader, egress: EgressPolicy, *, project_id: str | None = None, param: str = "grader"
) -> None:
    """Every place the grader would make the server call or send a secret, checked against the policy."""
    for where, grader in _named_targets(model, param):
        for field, check in _outbound_checks(grader, egress, project_id, where):
            try:
                check()
            except (EgressDenied, InvalidReference) as exc:
                raise GraderValidationError(f"{field}: {exc}", param=field) from None


def _outbound_checks(
    grader: s.AnyGrader, egress: EgressPolicy, project_id: str | None, where: str
) -> Iterator[tuple[str, Callable[[], object]]]:
    if isinstance(grader, s.ScoreModelGrader | s.LabelModelGrader) and grader.openrft and grader.openrft.api_base:
        base, key_env = grader.openrft.api_base, grader.openrft.api_key_env
        yield f"{where}.openrft.api_base", lambda: egress.check_url(base)
        if key_env:
            url = base.rstrip("/") + "/chat/completions"  # where model_graders.call_remote sends it
            yield f"{where}.openrft.api_key_env", lambda: egress.secret(key_env, url)
    if isinstance(grader, s.LambdaGrader):
        ref, field = grader.lambda_.function, f"{where}.lambda.function"
        if ref.startswith(("http://", "https://")):
            yield field, lambda: egress.check_url(ref)
        elif project_id is not None:
            yield field, functools.partial(_check_aws_arn, ref, project_id, egress)


def _check_aws_arn(ref: str, project_id: str, egress: EgressPolicy) -> None:
    """An ARN of an account other than the project's own is a call to AWS Lambda: allowed accounts only."""
    if is_aws_arn(ref, project_id):
        egress.check_aws_account(parse_ref(ref).account or "")


def _check_labels(model: s.LabelModelGrader, param: str) -> None:
    if not model.labels or len(set(model.labels)) != len(model.labels):
        raise GraderValidationError("labels must be a non-empty list of distinct labels", param=f"{param}.labels")
    if not model.passing_labels:
        raise GraderValidationError("passing_labels must not be empty", param=f"{param}.passing_labels")
    extra = [label for label in model.passing_labels if label not in model.labels]
    if extra:
        raise GraderValidationError(
            f"passing_labels must be a subset of labels; not in labels: {', '.join(extra)}",
            param=f"{param}.passing_labels",
        )


def check_python_source(source: str, param: str) -> None:
    """Size, syntax and a top-level `def grade(sample, item)`; checked with `ast`, never executed."""
    size = len(source.encode("utf-8"))
    if size >= MAX_PYTHON_SOURCE_BYTES:
        raise GraderValidationError(
            f"python grader source is {size} bytes; it must be under {MAX_PYTHON_SOURCE_BYTES} bytes (256 kB)",
            param=param,
        )
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise GraderValidationError(
            f"python grader source does not compile: line {exc.lineno}: {exc.msg}", param=param
        ) from None
    grade = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "grade"), None)
    if grade is None:
        raise GraderValidationError(
            "python grader source must define a top-level function grade(sample, item)", param=param
        )
    args = grade.args
    positional = len(args.posonlyargs) + len(args.args)
    required_extra = len(args.kwonlyargs) - sum(d is not None for d in args.kw_defaults)
    if not (positional == 2 or (positional < 2 and args.vararg is not None)) or required_extra:
        raise GraderValidationError("grade must take exactly two arguments: grade(sample, item)", param=param)
