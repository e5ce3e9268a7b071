"""The checks of a job-creation request, each a 400 naming the field at fault (api/jobs/service.py runs them
before it writes anything): metadata, method (supervised when omitted, dpo, reinforcement) and its
hyperparameters, model (a base model, or a fine-tuned model or checkpoint of the project to chain from),
grader and guard graders (also as the testing criteria of the job's linked eval), response format,
hyperparameters against the model's context, early stopping, the files (each row against the method's
rules), and the job's identity (may it make every call its graders make?).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from openrft import datasets
from openrft.api import authz
from openrft.api.authz import RequestInfo
from openrft.api.graders.service import checked_grader
from openrft.api.jobs.schemas import (
    MAX_METADATA_KEY,
    MAX_METADATA_PAIRS,
    MAX_METADATA_VALUE,
    METHOD_MODELS,
    JobCreate,
    ReinforcementMethod,
    RFTHyperparameters,
)
from openrft.auth import iam, identity
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import AccessDenied, InvalidRequest, NotFound, field_error
from openrft.evals import criteria, records
from openrft.inference import registry
from openrft.store import schema
from openrft.training import hparams, hparams_supervised

JOB_SERVICE = "bedrock.amazonaws.com"  # the service principal a job's role must trust


def invalid(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first pydantic error as a 400 naming the full param path."""
    err = field_error(exc.errors(), prefix=prefix or None)
    param, parts, kind = err.param, err.parts, err.kind
    if kind == "extra_forbidden" and parts[-2:-1] == ["hyperparameters"]:
        message = f"Unknown hyperparameter '{parts[-1]}' (param {param})."
    elif kind == "extra_forbidden" and not prefix:
        message = f"Unrecognized request argument supplied: {param}"
    elif kind == "extra_forbidden":
        message = f"Unknown parameter '{param}'."
    elif kind == "missing":
        message = f"Missing required parameter: '{param}'."
    else:
        message = f"Invalid '{param}': {err.message}."
    return InvalidRequest(message, param=param)


def check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequest(
            f"Invalid 'metadata': at most {MAX_METADATA_PAIRS} pairs, got {len(metadata)}.", param="metadata"
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(
                f"Invalid 'metadata': key '{key[:20]}...' is over {MAX_METADATA_KEY} characters.", param="metadata"
            )
        if len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"Invalid 'metadata.{key}': value is over {MAX_METADATA_VALUE} characters.", param=f"metadata.{key}"
            )


@dataclass(frozen=True)
class CheckedMethod:
    """The job's method as checked: its type, its requested hyperparameters (absent ones left out) and, for
    a reinforcement job, the parsed `method.reinforcement`."""

    type: str  # supervised | dpo | reinforcement
    hyperparameters: dict[str, Any]
    reinforcement: ReinforcementMethod | None = None

    @property
    def param(self) -> str:
        """Where the hyperparameters are in the request (the deprecated top-level form aside)."""
        return f"method.{self.type}.hyperparameters"


_RFT_ONLY = tuple(ReinforcementMethod.model_fields)  # grader, response_format, guard_graders, ...


def check_method(body: JobCreate) -> CheckedMethod:
    """OpenAI's rules: no `method` is supervised, with the top-level `hyperparameters` (deprecated form);
    otherwise `method.type` names the method and only that method's object may be set."""
    if body.method is None:
        return _checked_hparams("supervised", body.hyperparameters, "hyperparameters" if body.hyperparameters else None)
    method = body.method
    kind = method.get("type")
    if kind is None:
        raise InvalidRequest("Missing required parameter: 'method.type'.", param="method.type")
    if kind not in METHOD_MODELS:
        raise InvalidRequest(
            f"Invalid 'method.type': {kind!r} is not one of {', '.join(repr(k) for k in METHOD_MODELS)}.",
            param="method.type",
        )
    if body.hyperparameters is not None:
        raise InvalidRequest(
            f"top-level 'hyperparameters' is the deprecated form for a job without 'method'; put them in "
            f"method.{kind}.hyperparameters",
            param="hyperparameters",
        )
    for key, value in method.items():
        if key not in ("type", kind) and value is not None:
            what = f"the {key} method's settings" if key in METHOD_MODELS else "not a method field"
            raise InvalidRequest(f"Unknown parameter 'method.{key}' for a {kind} job ({what}).", param=f"method.{key}")
    raw = method.get(kind)
    if kind == "reinforcement":
        if not isinstance(raw, dict):
            raise InvalidRequest("Missing required parameter: 'method.reinforcement'.", param="method.reinforcement")
        try:
            rft = ReinforcementMethod.model_validate(raw)
        except ValidationError as exc:
            raise invalid(exc, "method.reinforcement") from exc
        return CheckedMethod(kind, rft.hyperparameters.model_dump(exclude_none=True), rft)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidRequest(f"Invalid 'method.{kind}': must be an object.", param=f"method.{kind}")
    for key in raw:
        if key in _RFT_ONLY and key != "hyperparameters":
            raise InvalidRequest(
                f"'{key}' is a reinforcement setting; a {kind} job has none (method.{kind} takes hyperparameters).",
                param=f"method.{kind}.{key}",
            )
    for key in raw:
        if key != "hyperparameters":
            raise InvalidRequest(f"Unknown parameter 'method.{kind}.{key}'.", param=f"method.{kind}.{key}")
    return _checked_hparams(kind, raw.get("hyperparameters"), None)


def _checked_hparams(kind: str, hp: Any, top_level: str | None) -> CheckedMethod:
    """A supervised or dpo job's hyperparameters: the generated request model (names, types, bounds), then
    `check_request` (resolved as the trainer will); the 400 names the field under
    `method.<kind>.hyperparameters` (or the deprecated top-level `hyperparameters`)."""
    param = top_level or f"method.{kind}.hyperparameters"
    if hp is not None and not isinstance(hp, dict):
        raise InvalidRequest(f"Invalid '{param}': must be an object.", param=param)
    try:
        request = hparams_supervised.REQUESTS[kind].model_validate(hp or {})
    except ValidationError as exc:
        err = invalid(exc, param)
        if exc.errors() and exc.errors()[0]["type"] == "extra_forbidden":
            where = err.param or param
            err.message = f"Unknown hyperparameter '{where.rsplit('.', 1)[-1]}' (param {where})."
        raise err from exc
    requested = request.model_dump(exclude_none=True)
    try:
        hparams_supervised.check_request(kind, requested)
    except hparams.HParamsError as exc:
        raise InvalidRequest(f"Invalid '{param}.{exc.param}': {exc}.", param=f"{param}.{exc.param}") from None
    return CheckedMethod(kind, requested)


def check_grader(
    ctx: AppContext, project_id: str, grader: dict[str, Any], prefix: str = "method.reinforcement.grader"
) -> dict[str, Any]:
    if grader.get("type") == "label_model":
        raise InvalidRequest(
            "a label_model grader is only allowed inside a multi grader, not as the job's grader",
            param=f"{prefix}.type",
        )
    try:
        return checked_grader(ctx, project_id, grader)
    except InvalidRequest as exc:
        param = exc.param or "grader"
        exc.param = prefix + param.removeprefix("grader") if param.startswith("grader") else f"{prefix}.{param}"
        raise


def check_guards(ctx: AppContext, project_id: str, guards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each guard grader validated as the job's grader is (its eval-only pass_threshold aside), named uniquely."""
    out, names = [], {records.REWARD_CRITERION}
    for i, raw in enumerate(guards):
        prefix = f"method.reinforcement.guard_graders[{i}]"
        threshold = raw.get("pass_threshold")
        guard = check_grader(ctx, project_id, {k: v for k, v in raw.items() if k != "pass_threshold"}, prefix)
        if guard["name"] in names:
            taken = "the job's grader in its linked eval" if guard["name"] == records.REWARD_CRITERION else "another"
            raise InvalidRequest(
                f"Invalid '{prefix}.name': {guard['name']!r} is taken ({taken}); each guard grader needs its own name.",
                param=f"{prefix}.name",
            )
        names.add(guard["name"])
        out.append(guard if threshold is None else {**guard, "pass_threshold": threshold})
    return out


def check_linked_eval(grader: dict[str, Any], guards: list[dict[str, Any]]) -> None:
    """The job's grader and guards as the testing criteria of its linked eval (pass thresholds, label rules)."""
    try:
        criteria.parse_criteria(records.linked_criteria(grader, guards), param="criteria")
    except InvalidRequest as exc:
        index, _, rest = (exc.param or "criteria[0]").removeprefix("criteria[").partition("]")
        where = (
            "method.reinforcement.grader" if index == "0" else f"method.reinforcement.guard_graders[{int(index) - 1}]"
        )
        exc.param = where + rest
        exc.message = exc.message.replace(f"criteria[{index}]", where)
        raise


def check_response_format(response_format: dict[str, Any] | None) -> None:
    if response_format is None:
        return
    param = "method.reinforcement.response_format"
    kind = response_format.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            f"Invalid '{param}.type': must be text, json_object or json_schema.", param=f"{param}.type"
        )
    if kind == "json_schema":
        # OpenAI's nested form {"json_schema": {"name", "schema"}} or Azure's flat {"name", "schema"}.
        nested = response_format.get("json_schema")
        schema_obj = nested.get("schema") if isinstance(nested, dict) else response_format.get("schema")
        if not isinstance(schema_obj, dict):
            raise InvalidRequest(
                f"'{param}' of type json_schema needs a JSON schema object.", param=f"{param}.json_schema"
            )


@dataclass(frozen=True)
class StartModel:
    """What a job starts from: `model` as requested, the root base model its weights are on, and for a chained
    job the parent (`model` itself, an ft: model or checkpoint of the project) and the job that trained it."""

    model: str
    base_model: str
    parent_model: str | None = None
    parent_job: str | None = None


def check_model(ctx: AppContext, project_id: str, model: str) -> StartModel:
    """A base model (a fresh adapter on it), or a fine-tuned model or checkpoint of the project whose files
    are still there (the job starts from its weights: SFT -> RFT, RFT -> RFT). Another project's model does
    not exist for this one."""
    try:
        row = registry.get_row(ctx.store, project_id, model)
    except NotFound:
        raise InvalidRequest(
            f"The model '{model}' does not exist or is not available for fine-tuning.",
            param="model",
            code="model_not_available",
        ) from None
    if row["kind"] == "base":
        return StartModel(model, model)
    try:
        resolved = registry.resolve(ctx.store, ctx.settings, project_id, model)
    except NotFound as exc:
        raise InvalidRequest(
            f"The model '{model}' can't be fine-tuned further: {exc.message}",
            param="model",
            code="model_not_available",
        ) from None
    return StartModel(model, resolved.base_model, model, row["job_id"])


def check_budget(ctx: AppContext, model: str, hp: RFTHyperparameters | None) -> None:
    """The request resolved as the trainer will (`hparams.check_request`: work per step, derived values),
    and a completion budget that leaves room for a prompt in the context of the base model `model`."""
    param = "method.reinforcement.hyperparameters"
    try:
        resolved = hparams.check_request(hp.model_dump(exclude_none=True) if hp is not None else None)
    except hparams.HParamsError as exc:
        raise InvalidRequest(str(exc), param=f"{param}.{exc.param}") from None
    budget, effort = resolved.completion_budget, resolved.reasoning_effort
    context = registry.context_length(ctx.store, ctx.settings, model)
    if budget >= context:
        raise InvalidRequest(
            f"max_completion_tokens gives a completion budget of {budget} tokens (reasoning_effort {effort}), which "
            f"leaves no room for the prompt in the {context}-token context of {model}",
            param=f"{param}.max_completion_tokens",
        )


def check_max_length(ctx: AppContext, base_model: str, method: CheckedMethod) -> None:
    """A supervised or dpo example of max_length tokens fits in the base model's context."""
    max_length = method.hyperparameters.get("max_length")
    if max_length is None:
        return
    context = registry.context_length(ctx.store, ctx.settings, base_model)
    if max_length > context:
        raise InvalidRequest(
            f"max_length {max_length} is over the {context}-token context of {base_model}",
            param=f"{method.param}.max_length",
        )


def check_early_stopping(hp: RFTHyperparameters | None, validation_file: str | None) -> None:
    """Early stopping reads the validation reward: a job without a validation file has none."""
    patience = getattr(hp, "early_stopping_patience", None)
    if patience and validation_file is None:
        raise InvalidRequest(
            "early_stopping_patience stops on the validation reward, which needs a validation_file",
            param="method.reinforcement.hyperparameters.early_stopping_patience",
        )


def check_file(ctx: AppContext, project_id: str, file_id: str, param: str, method: str = "reinforcement") -> None:
    """The file exists in the project, is a fine-tune file and every row follows `method`'s rules
    (openrft.datasets); the 400 names the line and the rule at fault."""
    f = schema.files.c
    with ctx.store.begin() as conn:
        row = conn.execute(
            sa.select(schema.files).where(f.id == file_id, f.project_id == project_id, f.deleted_at.is_(None))
        ).first()
    if row is None:
        raise InvalidRequest(f"Invalid '{param}': file '{file_id}' does not exist.", param=param, code="file_not_found")
    if row.purpose != "fine-tune":
        raise InvalidRequest(
            f"Invalid '{param}': file '{file_id}' has purpose '{row.purpose}'; a job needs a 'fine-tune' file.",
            param=param,
            code="invalid_file_purpose",
        )
    try:
        datasets.load_file_rows(ctx, file_id, method)
    except datasets.DatasetError as exc:
        raise InvalidRequest(
            f"Invalid '{param}': file '{file_id}' is not a valid {method} fine-tune file: {exc}",
            param=param,
            code="invalid_file",
        ) from exc
    except FileNotFoundError as exc:
        raise InvalidRequest(
            f"Invalid '{param}': the content of file '{file_id}' is missing.", param=param, code="invalid_file"
        ) from exc


def check_identity(
    ctx: AppContext,
    principal: Principal,
    info: RequestInfo,
    role_arn: str | None,
    job_id: str,
    graders: list[dict[str, Any]],
) -> dict[str, Any]:
    """Who the job will act as, and proof it may make every call its graders make (400 naming the first not).

    Naming a role passes it to the job: iam:PassRole on it (with iam:PassedToService bedrock.amazonaws.com,
    the service that runs customization jobs on AWS), and the role must trust that service.
    """
    if role_arn is not None:
        with ctx.store.begin() as conn:
            role = iam.role_by_arn(conn, role_arn)
        if role is None or role.project_id != principal.project_id:
            raise InvalidRequest(f"No role {role_arn} in this project.", param="role_arn", code="role_not_found")
        if not identity.trusts_service(role.project_id, role.trust_policy, JOB_SERVICE):
            raise InvalidRequest(
                f"The role {role_arn} cannot be assumed by fine-tuning jobs: its trust policy must allow "
                f"{JOB_SERVICE} to call sts:AssumeRole.",
                param="role_arn",
            )
        authz.check(ctx, principal, info, "iam:PassRole", role_arn, keys={"iam:PassedToService": [JOB_SERVICE]})
        stored = identity.role_identity(role_arn, job_id)
    else:
        stored = identity.key_identity(principal)
    calls = [call for i, g in enumerate(graders) for call in identity.grader_calls(principal.project_id, g, _where(i))]
    with ctx.store.begin() as conn:
        acting = identity.principal_for(conn, principal.project_id, stored)
        try:
            identity.require_calls(conn, acting, calls)
        except AccessDenied as exc:
            raise InvalidRequest(
                f"The job's identity may not make a call its grader needs: {exc.message}",
                param=exc.param,
                code="permission_denied",
            ) from None
    return stored


def _where(index: int) -> str:
    return "method.reinforcement.grader" if index == 0 else f"method.reinforcement.guard_graders[{index - 1}]"
