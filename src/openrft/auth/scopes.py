"""Scopes of restricted keys: which scope each action needs, and which scopes a key's permissions grant.

OpenAI's model: a key is created with permissions `all` (no scope check), `read_only` (`api.all.read`,
every `*.read` scope) or `restricted`, a level per resource, recorded as scope strings. We use OpenAI's
strings where they exist (`api.model.read`, `api.model.request`, `api.fine_tuning.jobs.read|write`,
`api.files.read|write`, `api.all.read`) and ours in the same pattern where they do not (`api.model.write`
for deleting a model, `api.evals.*`, `api.functions.read|write|invoke`, `api.iam.*`, `api.audit.read`).

A scope check comes before any IAM policy (openrft.auth.authorize): a key must hold the action's scope
*and* be allowed by its policies. Two coverings apply when checking: `api.all.read` covers every
`*.read`, and a `write` scope covers its `read`, as OpenAI's Write includes Read. `write` does not cover
`api.functions.invoke`; the `write` level grants it explicitly. Actions that need no scope: STS
`GetCallerIdentity` (as on AWS), `iam:PassRole` (not an endpoint but a check on a role an endpoint names;
the endpoint's own scope gates the request, the key's policies decide the pass), and `organization:*`
(the admin key's alone, refused to project keys before any scope is read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openrft.auth.keys import Principal
from openrft.errors import InvalidRequest

ALL_READ = "api.all.read"

MODEL_READ, MODEL_WRITE, MODEL_REQUEST = "api.model.read", "api.model.write", "api.model.request"
JOBS_READ, JOBS_WRITE = "api.fine_tuning.jobs.read", "api.fine_tuning.jobs.write"
FILES_READ, FILES_WRITE = "api.files.read", "api.files.write"
EVALS_READ, EVALS_WRITE = "api.evals.read", "api.evals.write"
FUNCTIONS_READ, FUNCTIONS_WRITE, FUNCTIONS_INVOKE = "api.functions.read", "api.functions.write", "api.functions.invoke"
IAM_READ, IAM_WRITE = "api.iam.read", "api.iam.write"
AUDIT_READ = "api.audit.read"


def _each(service: str, scope: str, names: str) -> dict[str, str]:
    return {f"{service}:{name}": scope for name in names.split()}


# Action -> the scope it needs (None: no scope). One entry per action of the contract's action table.
SCOPE_OF: dict[str, str | None] = {
    **_each("files", FILES_WRITE, "CreateFile DeleteFile"),
    **_each("files", FILES_READ, "ListFiles GetFile GetFileContent"),
    **_each("fine_tuning", JOBS_WRITE, "CreateJob CancelJob PauseJob ResumeJob ValidateGrader RunGrader"),
    **_each("fine_tuning", JOBS_READ, "ListJobs GetJob ListJobEvents ListJobCheckpoints ListJobSamples GetJobMetrics"),
    **_each("models", MODEL_READ, "ListModels GetModel"),
    **_each("models", MODEL_WRITE, "DeleteModel"),
    **_each("models", MODEL_REQUEST, "InvokeModel"),
    **_each(
        "evals",
        EVALS_WRITE,
        "CreateEval UpdateEval DeleteEval CreateEvalRun DeleteEvalRun CancelEvalRun CreateRating CreatePreflight",
    ),
    **_each(
        "evals",
        EVALS_READ,
        "ListEvals GetEval ListEvalRuns GetEvalRun ListEvalOutputItems GetEvalOutputItem ListRatings "
        "ExportRatings GetReviewQueue GetAgreement GetPreflight",
    ),
    **_each(
        "lambda",
        FUNCTIONS_WRITE,
        "CreateFunction DeleteFunction UpdateFunctionConfiguration UpdateFunctionCode PublishVersion "
        "CreateAlias UpdateAlias DeleteAlias AddPermission RemovePermission",
    ),
    **_each(
        "lambda",
        FUNCTIONS_READ,
        "GetFunction GetFunctionConfiguration ListFunctions ListVersionsByFunction GetAlias ListAliases GetPolicy",
    ),
    **_each("lambda", FUNCTIONS_INVOKE, "InvokeFunction"),
    **_each(
        "iam",
        IAM_WRITE,
        "CreateRole DeleteRole UpdateAssumeRolePolicy PutRolePolicy DeleteRolePolicy AttachRolePolicy "
        "DetachRolePolicy CreatePolicy DeletePolicy",
    ),
    **_each(
        "iam",
        IAM_READ,
        "GetRole ListRoles GetRolePolicy ListRolePolicies ListAttachedRolePolicies GetPolicy GetPolicyVersion "
        "ListPolicies",
    ),
    "iam:PassRole": None,
    "sts:AssumeRole": IAM_WRITE,
    "sts:GetCallerIdentity": None,
    "audit:ListAuditLogs": AUDIT_READ,
}

# Services that name their actions AWS's way (Get*/List* read, the rest write), so an action of theirs not
# in SCOPE_OF yet (a new IAM or Lambda call) still needs the scope its access level implies.
_VERB_SCOPES = {"iam": (IAM_READ, IAM_WRITE), "lambda": (FUNCTIONS_READ, FUNCTIONS_WRITE)}

# Permissions `restricted`: resource -> level -> the scopes it grants. Levels not listed are invalid for
# that resource (model capabilities are only ever requested; the audit trail is only ever read).
LEVELS: dict[str, dict[str, tuple[str, ...]]] = {
    "models": {"read": (MODEL_READ,), "write": (MODEL_READ, MODEL_WRITE)},
    "model_capabilities": {"write": (MODEL_REQUEST,)},
    "fine_tuning": {"read": (JOBS_READ,), "write": (JOBS_READ, JOBS_WRITE)},
    "files": {"read": (FILES_READ,), "write": (FILES_READ, FILES_WRITE)},
    "evals": {"read": (EVALS_READ,), "write": (EVALS_READ, EVALS_WRITE)},
    "functions": {
        "read": (FUNCTIONS_READ,),
        "write": (FUNCTIONS_READ, FUNCTIONS_WRITE, FUNCTIONS_INVOKE),
        "invoke": (FUNCTIONS_INVOKE,),
    },
    "iam": {"read": (IAM_READ,), "write": (IAM_READ, IAM_WRITE)},
    "audit": {"read": (AUDIT_READ,)},
}
MODES = ("all", "read_only", "restricted")


def scope_of(action: str) -> str | None:
    """The scope `action` needs (None: none). An action no table knows is a programming error: KeyError."""
    if action in SCOPE_OF:
        return SCOPE_OF[action]
    service, _, name = action.partition(":")
    if service == "organization":
        return None
    if service in _VERB_SCOPES and name:
        read, write = _VERB_SCOPES[service]
        return read if name.startswith(("Get", "List")) else write
    raise KeyError(f"no scope is defined for action {action!r} (openrft.auth.scopes.SCOPE_OF)")


def scopes_for(permissions: str, resources: Mapping[str, Any] | None = None) -> list[str] | None:
    """The scopes a key created with `permissions` (and, when restricted, `resources`) holds.

    None means every scope (permissions `all`: no check). Levels `none` grant nothing. The order is the
    table's, so the same request always records the same list.
    """
    if permissions not in MODES:
        raise InvalidRequest(
            f"permissions must be one of {', '.join(MODES)}; got {permissions!r}.", param="permissions"
        )
    if permissions != "restricted":
        if resources:
            raise InvalidRequest(
                f"resources apply only to permissions 'restricted', not {permissions!r}.", param="resources"
            )
        return None if permissions == "all" else [ALL_READ]
    scopes: list[str] = []
    for resource, level in (resources or {}).items():
        levels = LEVELS.get(resource)
        if levels is None:
            raise InvalidRequest(
                f"Unknown resource {resource!r}; resources are {', '.join(LEVELS)}.", param=f"resources.{resource}"
            )
        if level == "none":
            continue
        if level not in levels:
            allowed = ", ".join(["none", *levels])
            raise InvalidRequest(
                f"resources.{resource} must be one of {allowed}; got {level!r}.", param=f"resources.{resource}"
            )
        scopes += [s for s in levels[level] if s not in scopes]
    return scopes


def holds(scopes: frozenset[str], scope: str) -> bool:
    """Whether `scopes` grant `scope`: held itself, or a read covered by `api.all.read` or by its write."""
    if scope in scopes:
        return True
    if scope.endswith(".read"):
        return ALL_READ in scopes or scope.removesuffix(".read") + ".write" in scopes
    return False


def missing_scopes(principal: Principal, action: str) -> list[str]:
    """The scopes `principal` lacks for `action` (empty: none missing). Raise `MissingScopes` with it."""
    needed = scope_of(action)
    if needed is None or principal.is_admin or principal.scopes is None:
        return []
    return [] if holds(principal.scopes, needed) else [needed]
