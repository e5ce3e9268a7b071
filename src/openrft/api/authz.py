"""Every endpoint is one action on one resource: the table, and the check each request goes through.

`RULES` maps each route ("METHOD /path", as the app declares it) to the IAM-style action it performs and
the ARN of the resource it acts on, computed from the path, the query and, for a few routes, the JSON
body (the model a chat completion asks for). `index_routes` resolves the table against the app's routes
when the app is built and refuses to build an app with a route the table does not name (or a rule no
route uses): nothing is reachable without a decision. Routes that establish who the caller is (sign-in)
or that serve no tenant data (health, the OpenAPI document) are `PUBLIC`; the AWS query endpoint
(`POST /`, IAM and STS) is `PER_OPERATION`: it checks each operation it dispatches with `check`.

The decision for a request, in order (`authorize`): the admin key may do anything; a restricted key
must hold the action's scope (401 with OpenAI's message otherwise); a key limited to some models may
call only those; a key over its requests per minute gets 429; then the principal's policies decide
(openrft.auth.authorize). Each decision lands in the audit trail with the deciding statement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from openrft.api.auditing import arm
from openrft.auth import arns, audit, scopes
from openrft.auth.authorize import ADMIN_DECISION, denial_message
from openrft.auth.authorize import decide as policy_decide
from openrft.auth.keys import Principal
from openrft.auth.policy import Decision, Policy
from openrft.auth.ratelimit import limiter_for
from openrft.context import AppContext
from openrft.errors import AccessDenied, InvalidRequest, MissingScopes, PermissionDenied, RateLimited, ServerFault
from openrft.functions.arn import InvalidReference, parse_ref


@dataclass(frozen=True)
class Call:
    """What a rule may read to name its resource."""

    principal: Principal
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any] | None = None


Resource = Callable[[Call], str]


@dataclass(frozen=True)
class Rule:
    action: str
    resource: Resource
    needs_body: bool = False  # the resource is named in the JSON body
    admin_only: bool = False  # the organization's own API: the admin key alone
    model_from: Callable[[Call], str | None] | None = None  # the model a key's allowed_models must cover


PUBLIC = "public"
PER_OPERATION = "per-operation"


# ---- resources ---------------------------------------------------------------------------------------


def _p(call: Call) -> str:
    return call.principal.project_id


def _function(call: Call) -> str:
    ref = call.path.get("function_name", "*")
    try:
        parsed = parse_ref(ref)
    except InvalidReference:
        return arns.function(_p(call), ref)
    qualifier = call.query.get("Qualifier") or parsed.qualifier
    return arns.function(_p(call), parsed.name, qualifier)


def _body_model(call: Call) -> str | None:
    model = (call.body or {}).get("model")
    return model if isinstance(model, str) else None


def _invoked_model(call: Call) -> str:
    return arns.model(_p(call), _body_model(call) or "*")


def files(call: Call) -> str:
    return arns.files(_p(call), call.path.get("file_id", "*"))


def job(call: Call) -> str:
    return arns.job(_p(call), call.path.get("job_id", "*"))


def model(call: Call) -> str:
    return arns.model(_p(call), call.path.get("model_id", "*"))


def evaluation(call: Call) -> str:
    return arns.evaluation(_p(call), call.path.get("eval_id", "*"), call.path.get("run_id"))


def project(call: Call) -> str:
    return arns.project(call.path.get("project_id", "*"))


def _rule(action: str, resource: Resource, **kw: Any) -> Rule:
    return Rule(action=action, resource=resource, **kw)


def _org(action: str) -> Rule:
    return Rule(action=action, resource=project, admin_only=True)


_GRADERS: Resource = lambda c: arns.graders(_p(c))  # noqa: E731
_REVIEWS: Resource = lambda c: arns.reviews(_p(c))  # noqa: E731
_PREFLIGHT: Resource = lambda c: arns.preflight(_p(c), c.path.get("preflight_id", "*"))  # noqa: E731
_AUDIT: Resource = lambda c: arns.audit_trail(_p(c))  # noqa: E731
_LAMBDA = "/2015-03-31/functions"
_ORG = "/v1/organization/projects"
_RUN = "/v1/evals/{eval_id}/runs/{run_id}"

RULES: dict[str, Rule | str] = {
    "GET /health": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
    "POST /": PER_OPERATION,  # IAM and STS (query protocol): openrft.api.awsquery checks each operation
    # -- files
    "POST /v1/files": _rule("files:CreateFile", files),
    "GET /v1/files": _rule("files:ListFiles", files),
    "GET /v1/files/{file_id}": _rule("files:GetFile", files),
    "DELETE /v1/files/{file_id}": _rule("files:DeleteFile", files),
    "GET /v1/files/{file_id}/content": _rule("files:GetFileContent", files),
    # -- fine-tuning
    "POST /v1/fine_tuning/jobs": _rule("fine_tuning:CreateJob", job),
    "GET /v1/fine_tuning/jobs": _rule("fine_tuning:ListJobs", job),
    "GET /v1/fine_tuning/jobs/{job_id}": _rule("fine_tuning:GetJob", job),
    "POST /v1/fine_tuning/jobs/{job_id}/cancel": _rule("fine_tuning:CancelJob", job),
    "POST /v1/fine_tuning/jobs/{job_id}/pause": _rule("fine_tuning:PauseJob", job),
    "POST /v1/fine_tuning/jobs/{job_id}/resume": _rule("fine_tuning:ResumeJob", job),
    "GET /v1/fine_tuning/jobs/{job_id}/events": _rule("fine_tuning:ListJobEvents", job),
    "GET /v1/fine_tuning/jobs/{job_id}/checkpoints": _rule("fine_tuning:ListJobCheckpoints", job),
    "GET /v1/fine_tuning/jobs/{job_id}/samples": _rule("fine_tuning:ListJobSamples", job),
    "GET /v1/fine_tuning/jobs/{job_id}/metrics": _rule("fine_tuning:GetJobMetrics", job),
    "POST /v1/fine_tuning/alpha/graders/validate": _rule("fine_tuning:ValidateGrader", _GRADERS),
    "POST /v1/fine_tuning/alpha/graders/run": _rule("fine_tuning:RunGrader", _GRADERS),
    # -- models and inference
    "GET /v1/models": _rule("models:ListModels", model),
    "GET /v1/models/{model_id:path}": _rule("models:GetModel", model),
    "DELETE /v1/models/{model_id:path}": _rule("models:DeleteModel", model),
    "POST /v1/chat/completions": _rule("models:InvokeModel", _invoked_model, needs_body=True, model_from=_body_model),
    "POST /v1/completions": _rule("models:InvokeModel", _invoked_model, needs_body=True, model_from=_body_model),
    "POST /v1/responses": _rule("models:InvokeModel", _invoked_model, needs_body=True, model_from=_body_model),
    # -- evals, reviews, preflights
    "POST /v1/evals": _rule("evals:CreateEval", evaluation),
    "GET /v1/evals": _rule("evals:ListEvals", evaluation),
    "GET /v1/evals/{eval_id}": _rule("evals:GetEval", evaluation),
    "POST /v1/evals/{eval_id}": _rule("evals:UpdateEval", evaluation),
    "DELETE /v1/evals/{eval_id}": _rule("evals:DeleteEval", evaluation),
    "POST /v1/evals/{eval_id}/runs": _rule("evals:CreateEvalRun", evaluation),
    "GET /v1/evals/{eval_id}/runs": _rule("evals:ListEvalRuns", evaluation),
    f"GET {_RUN}": _rule("evals:GetEvalRun", evaluation),
    f"POST {_RUN}": _rule("evals:CancelEvalRun", evaluation),  # the SDK's older cancel path
    f"POST {_RUN}/cancel": _rule("evals:CancelEvalRun", evaluation),
    f"DELETE {_RUN}": _rule("evals:DeleteEvalRun", evaluation),
    f"GET {_RUN}/output_items": _rule("evals:ListEvalOutputItems", evaluation),
    f"GET {_RUN}/output_items/{{output_item_id}}": _rule("evals:GetEvalOutputItem", evaluation),
    "POST /v1/reviews/ratings": _rule("evals:CreateRating", _REVIEWS),
    "GET /v1/reviews/ratings": _rule("evals:ListRatings", _REVIEWS),
    "GET /v1/reviews/ratings/export": _rule("evals:ExportRatings", _REVIEWS),
    "GET /v1/reviews/queue": _rule("evals:GetReviewQueue", _REVIEWS),
    "GET /v1/reviews/agreement": _rule("evals:GetAgreement", _REVIEWS),
    "POST /v1/preflights": _rule("evals:CreatePreflight", _PREFLIGHT),
    "GET /v1/preflights/{preflight_id}": _rule("evals:GetPreflight", _PREFLIGHT),
    # -- the audit trail
    "GET /v1/organization/audit_logs": _rule("audit:ListAuditLogs", _AUDIT),
    # -- Lambda
    f"POST {_LAMBDA}": _rule("lambda:CreateFunction", _function),
    f"POST {_LAMBDA}/": _rule("lambda:CreateFunction", _function),
    f"GET {_LAMBDA}": _rule("lambda:ListFunctions", _function),
    f"GET {_LAMBDA}/": _rule("lambda:ListFunctions", _function),
    f"GET {_LAMBDA}/{{function_name}}": _rule("lambda:GetFunction", _function),
    f"DELETE {_LAMBDA}/{{function_name}}": _rule("lambda:DeleteFunction", _function),
    f"GET {_LAMBDA}/{{function_name}}/code": _rule("lambda:GetFunction", _function),
    f"PUT {_LAMBDA}/{{function_name}}/code": _rule("lambda:UpdateFunctionCode", _function),
    f"GET {_LAMBDA}/{{function_name}}/configuration": _rule("lambda:GetFunctionConfiguration", _function),
    f"PUT {_LAMBDA}/{{function_name}}/configuration": _rule("lambda:UpdateFunctionConfiguration", _function),
    f"POST {_LAMBDA}/{{function_name}}/versions": _rule("lambda:PublishVersion", _function),
    f"GET {_LAMBDA}/{{function_name}}/versions": _rule("lambda:ListVersionsByFunction", _function),
    f"POST {_LAMBDA}/{{function_name}}/aliases": _rule("lambda:CreateAlias", _function),
    f"GET {_LAMBDA}/{{function_name}}/aliases": _rule("lambda:ListAliases", _function),
    f"GET {_LAMBDA}/{{function_name}}/aliases/{{alias}}": _rule("lambda:GetAlias", _function),
    f"PUT {_LAMBDA}/{{function_name}}/aliases/{{alias}}": _rule("lambda:UpdateAlias", _function),
    f"DELETE {_LAMBDA}/{{function_name}}/aliases/{{alias}}": _rule("lambda:DeleteAlias", _function),
    f"POST {_LAMBDA}/{{function_name}}/invocations": _rule("lambda:InvokeFunction", _function),
    f"POST {_LAMBDA}/{{function_name}}/policy": _rule("lambda:AddPermission", _function),
    f"GET {_LAMBDA}/{{function_name}}/policy": _rule("lambda:GetPolicy", _function),
    f"DELETE {_LAMBDA}/{{function_name}}/policy/{{statement_id}}": _rule("lambda:RemovePermission", _function),
    # -- the organization (admin key)
    f"POST {_ORG}": _org("organization:CreateProject"),
    f"GET {_ORG}": _org("organization:ListProjects"),
    f"GET {_ORG}/{{project_id}}": _org("organization:GetProject"),
    f"POST {_ORG}/{{project_id}}": _org("organization:UpdateProject"),
    f"POST {_ORG}/{{project_id}}/archive": _org("organization:ArchiveProject"),
    f"POST {_ORG}/{{project_id}}/service_accounts": _org("organization:CreateServiceAccount"),
    f"GET {_ORG}/{{project_id}}/service_accounts": _org("organization:ListServiceAccounts"),
    f"GET {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}": _org("organization:GetServiceAccount"),
    f"DELETE {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}": _org("organization:DeleteServiceAccount"),
    f"GET {_ORG}/{{project_id}}/api_keys": _org("organization:ListApiKeys"),
    f"GET {_ORG}/{{project_id}}/api_keys/{{key_id}}": _org("organization:GetApiKey"),
    f"DELETE {_ORG}/{{project_id}}/api_keys/{{key_id}}": _org("organization:DeleteApiKey"),
    # -- IAM through the organization API (admin key): the same actions as the query API's
    f"POST {_ORG}/{{project_id}}/roles": _org("iam:CreateRole"),
    f"GET {_ORG}/{{project_id}}/roles": _org("iam:ListRoles"),
    f"GET {_ORG}/{{project_id}}/roles/{{role_name}}": _org("iam:GetRole"),
    f"DELETE {_ORG}/{{project_id}}/roles/{{role_name}}": _org("iam:DeleteRole"),
    f"DELETE {_ORG}/{{project_id}}/roles/{{role_name}}/sessions": _org("iam:RevokeRoleSessions"),
    f"PUT {_ORG}/{{project_id}}/roles/{{role_name}}/policies/{{policy_name}}": _org("iam:PutRolePolicy"),
    f"DELETE {_ORG}/{{project_id}}/roles/{{role_name}}/policies/{{policy_name}}": _org("iam:DeleteRolePolicy"),
    f"POST {_ORG}/{{project_id}}/roles/{{role_name}}/attach_policy": _org("iam:AttachRolePolicy"),
    f"POST {_ORG}/{{project_id}}/roles/{{role_name}}/detach_policy": _org("iam:DetachRolePolicy"),
    f"GET {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}/policies": _org("iam:ListUserPolicies"),
    f"PUT {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}/policies/{{policy_name}}": _org(
        "iam:PutUserPolicy"
    ),
    f"DELETE {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}/policies/{{policy_name}}": _org(
        "iam:DeleteUserPolicy"
    ),
    f"POST {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}/attach_policy": _org("iam:AttachUserPolicy"),
    f"POST {_ORG}/{{project_id}}/service_accounts/{{service_account_id}}/detach_policy": _org("iam:DetachUserPolicy"),
    f"POST {_ORG}/{{project_id}}/policies": _org("iam:CreatePolicy"),
    f"GET {_ORG}/{{project_id}}/policies": _org("iam:ListPolicies"),
    f"GET {_ORG}/{{project_id}}/policies/{{policy_ref:path}}": _org("iam:GetPolicy"),
    f"DELETE {_ORG}/{{project_id}}/policies/{{policy_ref:path}}": _org("iam:DeletePolicy"),
    # -- the console: each page is the read action of what it shows; sign-in and sign-out are public
    "GET /": PUBLIC,
    "GET /signin": PUBLIC,
    "POST /signin": PUBLIC,
    "POST /signout": PUBLIC,
    "GET /account": PUBLIC,  # the signed-in key's own description
    "POST /project": _org("organization:ListProjects"),  # the admin's project switcher
    "GET /jobs": _rule("fine_tuning:ListJobs", job),
    "GET /jobs/{job_id}": _rule("fine_tuning:GetJob", job),
    "GET /jobs/{job_id}/samples": _rule("fine_tuning:ListJobSamples", job),
    "GET /jobs/{job_id}/checkpoints": _rule("fine_tuning:ListJobCheckpoints", job),
    "GET /jobs/{job_id}/validation": _rule("fine_tuning:GetJob", job),
    "GET /files": _rule("files:ListFiles", files),
    "GET /files/{file_id}": _rule("files:GetFile", files),
    "GET /evals": _rule("evals:ListEvals", evaluation),
    "GET /evals/{eval_id}": _rule("evals:GetEval", evaluation),
    "GET /evals/{eval_id}/compare": _rule("evals:ListEvalRuns", evaluation),
    "GET /evals/{eval_id}/runs/{run_id}": _rule("evals:GetEvalRun", evaluation),
    "GET /functions": _rule("lambda:ListFunctions", _function),
    "GET /functions/{name}": _rule("lambda:GetFunction", lambda c: arns.function(_p(c), c.path.get("name", "*"))),
    "GET /playground": _rule("models:ListModels", model),
    "GET /reviews": _rule("evals:ListRatings", _REVIEWS),
    "GET /reviews/export": _rule("evals:ExportRatings", _REVIEWS),
    "GET /admin": _org("organization:ListProjects"),
    "GET /admin/projects/{project_id}": _org("organization:GetProject"),
}


# ---- resolving the table against the app -------------------------------------------------------------


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(method, full path, endpoint) of every route the app serves, included routers followed."""

    def walk(routes: Sequence[Any], prefix: str) -> Iterator[tuple[str, str, Callable[..., Any]]]:
        for route in routes:
            if isinstance(route, APIRoute):
                for method in sorted(route.methods or ()):
                    yield method, prefix + route.path, route.endpoint
            elif hasattr(route, "original_router"):  # FastAPI's lazily included router
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "methods", None) and getattr(route, "path", None):  # the docs' own routes
                for method in sorted(route.methods - {"HEAD"}):
                    yield method, prefix + route.path, route.endpoint

    yield from walk(app.routes, "")


def index_routes(app: FastAPI) -> dict[tuple[str, Any], Rule | str]:
    """(method, endpoint) -> its rule, for every route; a route without a rule fails the app's creation."""
    index: dict[tuple[str, Any], Rule | str] = {}
    seen: set[str] = set()
    for method, path, endpoint in iter_routes(app):
        if method == "HEAD":
            continue
        key = f"{method} {path}"
        if key not in RULES:
            raise ServerFault(f"route {key} has no authorization rule in openrft.api.authz.RULES")
        seen.add(key)
        if index.setdefault((method, endpoint), RULES[key]) != RULES[key]:  # one handler, two paths: one rule
            raise ServerFault(f"route {key} shares its handler with a route of another rule")
    if stale := sorted(set(RULES) - seen):
        raise ServerFault(f"authorization rules for routes the app does not serve: {stale}")
    return index


def rule_of(request: Request) -> Rule | str:
    endpoint = request.scope.get("endpoint")
    index: dict[tuple[str, Any], Rule | str] = request.app.state.authz_rules
    rule = index.get((request.method, endpoint))
    if rule is None:  # fail closed: a route served without a rule is a bug
        raise ServerFault(f"no authorization rule for {request.method} {request.url.path}")
    return rule


# ---- the decision -------------------------------------------------------------------------------------


@dataclass
class RequestInfo:
    """Who asked from where: what the audit record and the condition keys need."""

    request_id: str | None
    source_ip: str | None
    user_agent: str | None
    secure: bool
    extra_keys: dict[str, list[str]] = field(default_factory=dict)
    ratelimit_headers: dict[str, str] = field(default_factory=dict)  # x-ratelimit-* of a limited key
    pending: audit.PendingEvent | None = None  # the request's mutation mark (openrft.api.auditing)

    @classmethod
    def of(cls, request: Request) -> RequestInfo:
        client = request.client.host if request.client else None
        return cls(
            request_id=getattr(request.state, "request_id", None),
            source_ip=client,
            user_agent=request.headers.get("user-agent"),
            secure=request.url.scheme == "https",
            pending=getattr(request.state, "audit_pending", None),
        )

    def keys(self) -> dict[str, list[str]]:
        base = {"aws:SecureTransport": ["true" if self.secure else "false"]}
        if self.source_ip:
            base["aws:SourceIp"] = [self.source_ip]
        return {**base, **self.extra_keys}


def _audit_event(
    principal: Principal,
    info: RequestInfo,
    action: str,
    resource: str,
    outcome: str,
    decision: Mapping[str, Any] | None,
) -> audit.AuditEvent:
    return audit.AuditEvent(
        type=f"authorization.{outcome}",
        project_id=principal.project_id,
        actor=principal,
        source_ip=info.source_ip,
        user_agent=info.user_agent,
        action=action,
        resource=resource,
        outcome=outcome,  # type: ignore[arg-type]
        decision=decision,
        request_id=info.request_id,
        details=None,
    )


def check(
    ctx: AppContext,
    principal: Principal,
    info: RequestInfo,
    action: str,
    resource: str,
    *,
    keys: Mapping[str, Sequence[str]] | None = None,
    resource_policies: Sequence[Policy] = (),
    model: str | None = None,
    admin_only: bool = False,
) -> Decision:
    """Decide one action on one resource for a request's caller, record the decision, raise if denied.

    Blocking (database): call it from a worker thread. Used by every route through `authorize` and by
    services for a second resource a call touches (iam:PassRole on a role named in a body).
    """
    context_keys = {**info.keys(), **{k: list(v) for k, v in (keys or {}).items()}}
    if model is not None:
        context_keys["openrft:Model"] = [model]
    try:
        decision = _decide(ctx, principal, info, action, resource, context_keys, resource_policies, model, admin_only)
    except (MissingScopes, PermissionDenied, RateLimited) as exc:
        reason = {"effect": "Deny", "reason": exc.message}
        if isinstance(exc, MissingScopes):
            reason["missing_scopes"] = exc.scopes  # type: ignore[assignment]
        audit.record_now(ctx.store, _audit_event(principal, info, action, resource, "denied", reason))
        raise
    allowed = _audit_event(principal, info, action, resource, "allowed", decision.as_dict())
    audit.record_now(ctx.store, allowed)
    arm(info.pending, allowed)  # what the call then changes is recorded with the change
    return decision


def _decide(
    ctx: AppContext,
    principal: Principal,
    info: RequestInfo,
    action: str,
    resource: str,
    keys: dict[str, list[str]],
    resource_policies: Sequence[Policy],
    model: str | None,
    admin_only: bool,
) -> Decision:
    if admin_only and not principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin key (OPENRFT_ADMIN_KEY).")
    if principal.is_admin:
        return ADMIN_DECISION
    if missing := scopes.missing_scopes(principal, action):
        raise MissingScopes(missing)
    allowed_models = principal.allowed_models
    if model is not None and allowed_models is not None and not any(fnmatchcase(model, p) for p in allowed_models):
        raise PermissionDenied(
            f"The key {principal.key_id} may not use the model {model!r} (allowed: {', '.join(allowed_models)}).",
            param="model",
            code="model_not_allowed",
        )
    info.ratelimit_headers = limiter_for(ctx.store).check_request(principal)
    with ctx.store.begin() as conn:
        decision = policy_decide(conn, principal, action, resource, keys=keys, resource_policies=resource_policies)
    if not decision.allowed:
        raise AccessDenied(denial_message(principal, action, resource, decision))
    return decision


async def body_json(request: Request) -> Mapping[str, Any] | None:
    """The request's JSON object body, or None when it is not one (the route answers that error)."""
    try:
        value = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def authorize(ctx: AppContext, request: Request, principal: Principal, body: Mapping[str, Any] | None) -> None:
    """The request's own action on its resource (blocking: call it from a worker thread)."""
    rule = rule_of(request)
    if rule in (PUBLIC, PER_OPERATION):
        return
    assert isinstance(rule, Rule)
    call = Call(principal=principal, path=request.path_params, query=dict(request.query_params), body=body)
    try:
        resource = rule.resource(call)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    model = rule.model_from(call) if rule.model_from else None
    resource_policies = resource_policies_for(ctx, principal, rule.action, call)
    info = RequestInfo.of(request)
    check(
        ctx,
        principal,
        info,
        rule.action,
        resource,
        resource_policies=resource_policies,
        model=model,
        admin_only=rule.admin_only,
    )
    if info.ratelimit_headers:  # answered on success too, as OpenAI does (openrft.api.requestid adds them)
        request.state.ratelimit_headers = info.ratelimit_headers


def resource_policies_for(ctx: AppContext, principal: Principal, action: str, call: Call) -> list[Policy]:
    """The resource's own policy where it has one: a Lambda function's AddPermission statements."""
    if not action.startswith("lambda:") or "function_name" not in call.path:
        return []
    from openrft.functions.permissions import resource_policy  # the Lambda resource policies

    try:
        ref = parse_ref(call.path["function_name"])
    except InvalidReference:
        return []
    qualifier = call.query.get("Qualifier") or ref.qualifier
    with ctx.store.begin() as conn:
        policy = resource_policy(conn, principal.project_id, ref.name, qualifier)
    return [policy] if policy is not None else []
