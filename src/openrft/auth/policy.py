"""IAM policies: the JSON grammar, parsed into statements, and AWS's decision for one request.

`parse_policy` reads a policy document (identity-based, resource-based such as a Lambda function's
AddPermission statements, or a role's trust policy) and raises `MalformedPolicy` naming the element at
fault (`Statement[1].Condition.StringLike.aws:SourceArn: ...`, statements counted from 0). `evaluate`
decides one request against the caller's identity policies and the resource's policies, within one
account, as AWS documents it:

* every applicable statement is considered, in no particular order: an explicit `Deny` in any of them
  wins; otherwise an `Allow` in an identity policy, or in a resource policy whose `Principal` names
  the caller, allows; otherwise the request is implicitly denied;
* a resource policy that names the caller's *account* (`"123456789012"`, `arn:aws:iam::<acct>:root`)
  delegates to the account: it allows only together with an identity `Allow` (AWS's rule for account
  principals), except for the account's root principal itself;
* a trust policy (`PolicyKind.TRUST`) is required: a request that it does not allow is denied whatever
  the identity policies say; when it names the caller (its ARN, its role, or a service), its allow is
  enough, and when it names the account, an identity `Allow` is needed too;
* `Action` / `NotAction` match case-insensitively, with `*` (any run) and `?` (one character);
  `Resource` / `NotResource` match case-sensitively; there a `*` that ends an ARN part (before a `:` or
  at the end) may run over colons (`function:*` covers `function:f:prod`), and a `*` or `?` inside a
  part stays inside it;
* `Principal` / `NotPrincipal`: `"*"`, `{"AWS": "*"}`, `{"AWS": ARN | account id | [...]}`,
  `{"Service": "lambda.amazonaws.com"}`; a role's ARN names every session of that role (by the role's
  name, unique in an account, or by `aws:PrincipalArn`); `Federated` and `CanonicalUser` parse but only
  ever match a caller with that exact ARN; a `NotPrincipal` statement applies to every caller that none
  of its entries names (AWS's further requirement that a `Deny` with `NotPrincipal` list the account
  and role beside a session is not reproduced);
* conditions as openrft.auth.conditions describes (every operator, IfExists, Null, ForAnyValue /
  ForAllValues, the missing-key rules); `aws:PrincipalAccount` and `aws:PrincipalArn` (a session's
  role, path "/" assumed) default from the context when the caller's keys do not carry them.

The `Decision` cites one statement, the first in the order given (identity policies, then resource
policies): the first explicit deny; for an allow, the trust policy's statement when there is a trust
policy, else the first identity allow, else the first resource-policy allow.

Grammar: `Version` "2012-10-17" or "2008-10-17" (the default when absent, as on AWS), `Id`, `Statement`
(an object or a non-empty list); per statement `Sid` (letters and digits in identity policies, unique in
a policy), `Effect`, one of `Action`/`NotAction`, one of `Resource`/`NotResource` (required, except
in a trust policy, where it is prohibited), one of `Principal`/`NotPrincipal` (prohibited in identity
policies, required otherwise), `Condition`. Element names are case-sensitive; unknown or duplicated
elements are errors. Size limits, counted in non-whitespace characters as IAM counts them: 6144
identity, 20480 resource, 2048 trust.

Not supported: policy variables (`${aws:username}`: a 2012-10-17 policy using one is refused, rather
than matched literally), permission boundaries, session policies, SCPs, cross-account evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal

from openrft.auth.conditions import Condition, parse_conditions, scalar
from openrft.errors import MalformedPolicy

VERSIONS = ("2012-10-17", "2008-10-17")
DEFAULT_VERSION = "2008-10-17"
POLICY_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
ACTION_RE = re.compile(r"^[\w*?.-]+:[\w*?.-]+$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
IAM_SID_RE = re.compile(r"^[A-Za-z0-9]*$")
AWS_PRINCIPAL_RE = re.compile(
    r"^arn:aws[a-z-]*:(iam::[0-9]{12}:(root|user/\S+|role/\S+)|sts::[0-9]{12}:(assumed-role/\S+/\S+|federated-user/\S+))$"
)
ASSUMED_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:sts::([0-9]{12}):assumed-role/([^/]+)/")
ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/(?:.*/)?([^/]+)$")

Effect = Literal["Allow", "Deny"]
PrincipalEntry = tuple[str, str]  # (type, value): ("AWS", "arn:aws:iam::123456789012:root"), ("*", "*")
Via = Literal["direct", "account"]  # how a statement's Principal named the caller


class PolicyKind(StrEnum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"


SIZE_LIMITS = {PolicyKind.IDENTITY: 6144, PolicyKind.RESOURCE: 20480, PolicyKind.TRUST: 2048}


@dataclass(frozen=True)
class Statement:
    """One statement; of each pair (actions/not_actions, ...) at most one is set, None meaning absent."""

    sid: str | None
    effect: Effect
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None  # both None (a trust policy): any resource
    not_resources: tuple[str, ...] | None = None
    principals: tuple[PrincipalEntry, ...] | None = None  # both None (an identity policy): the caller
    not_principals: tuple[PrincipalEntry, ...] | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Policy:
    name: str  # what a decision cites: a policy ARN, "role/<r>/inline/<p>", "<function ARN> (resource policy)"
    statements: tuple[Statement, ...]
    kind: PolicyKind = PolicyKind.IDENTITY
    version: str = "2012-10-17"


@dataclass(frozen=True)
class RequestContext:
    action: str
    resource: str
    principal_arn: str
    principal_account: str
    principal_service: str | None = None  # "lambda.amazonaws.com" when a service acts
    keys: Mapping[str, Sequence[str]] = field(default_factory=dict)  # condition keys; names case-insensitive


@dataclass(frozen=True)
class Decision:
    """The outcome and what decided it: the statement that allowed or denied (`policy`, `sid`, `kind`).

    An implicit deny cites nothing, except when a trust policy did not admit the caller: then `policy`
    and `kind` name that trust policy.
    """

    allowed: bool
    effect: Literal["Allow", "ExplicitDeny", "ImplicitDeny"]
    policy: str | None
    sid: str | None
    kind: PolicyKind | None = None

    def as_dict(self) -> dict[str, Any]:
        """For the audit record."""
        return {
            "allowed": self.allowed,
            "effect": self.effect,
            "policy": self.policy,
            "sid": self.sid,
            "kind": self.kind.value if self.kind is not None else None,
        }


# --- parsing ----------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedPolicy(f"Policy: duplicate element {key!r}.")
        out[key] = value
    return out


def _load(document: str | Mapping[str, Any], kind: PolicyKind) -> dict[str, Any]:
    if isinstance(document, str):
        text = document
    else:
        try:
            text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise MalformedPolicy(f"Policy: not a JSON document ({exc}).") from exc
    limit = SIZE_LIMITS[kind]
    if sum(not ch.isspace() for ch in text) > limit:
        raise MalformedPolicy(f"Policy: Cannot exceed quota for PolicySize: {limit}.")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise MalformedPolicy(f"This policy contains invalid Json: {exc.msg} at line {exc.lineno}.") from exc
    if not isinstance(data, dict):
        raise MalformedPolicy("Policy: the document must be a JSON object.")
    return data


def _strings(raw: Any, path: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicy(f"{path}: must not be an empty list.")
    if not all(isinstance(item, str) and item for item in items):
        raise MalformedPolicy(f"{path}: must be a non-empty string or a list of them.")
    return tuple(items)


def _actions(raw: Any, path: str) -> tuple[str, ...]:
    actions = _strings(raw, path)
    for action in actions:
        if action != "*" and not ACTION_RE.match(action):
            raise MalformedPolicy(
                f"{path}: {action!r}: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            )
    return actions


def _resources(raw: Any, path: str, version: str) -> tuple[str, ...]:
    resources = _strings(raw, path)
    for resource in resources:
        is_arn = resource.startswith("arn:") and (resource.count(":") >= 5 or resource.endswith("*"))
        if resource != "*" and not is_arn:
            raise MalformedPolicy(f'{path}: Resource {resource} must be in ARN format or "*".')
        _no_variables(resource, path, version)
    return resources


def _no_variables(value: str, path: str, version: str) -> None:
    if version == "2012-10-17" and "${" in value:
        raise MalformedPolicy(f"{path}: policy variables ({value!r}) are not supported.")


def _aws_principal(value: str, path: str) -> str:
    if value == "*" or (AWS_PRINCIPAL_RE.match(value) and "*" not in value and "?" not in value):
        return value
    if ACCOUNT_RE.match(value):
        return f"arn:aws:iam::{value}:root"  # the short form of the account principal
    raise MalformedPolicy(f'{path}: Invalid principal in policy: "AWS":"{value}"')


def _principals(raw: Any, path: str) -> tuple[PrincipalEntry, ...]:
    if raw == "*":
        return (("*", "*"),)
    if not isinstance(raw, Mapping) or not raw:
        raise MalformedPolicy(f'{path}: must be "*" or an object such as {{"AWS": ...}} or {{"Service": ...}}.')
    entries: list[PrincipalEntry] = []
    for kind, values in raw.items():
        if kind not in PRINCIPAL_TYPES:
            raise MalformedPolicy(f"{path}: unknown principal type {kind!r} (AWS, Service, Federated, CanonicalUser).")
        for value in _strings(values, f"{path}.{kind}"):
            if kind == "AWS":
                value = _aws_principal(value, f"{path}.{kind}")
            elif "*" in value or "?" in value:
                raise MalformedPolicy(f'{path}.{kind}: Invalid principal in policy: "{kind}":"{value}"')
            entries.append((kind, value))
    return tuple(entries)


def _one_of(raw: Mapping[str, Any], names: tuple[str, str], path: str, required: bool) -> str | None:
    present = [name for name in names if name in raw]
    if len(present) == 2:
        raise MalformedPolicy(f"{path}: has both {names[0]} and {names[1]}; use one.")
    if not present and required:
        raise MalformedPolicy(f"{path}: Missing required field {names[0]} (or {names[1]}).")
    return present[0] if present else None


def _statement(raw: Any, path: str, kind: PolicyKind, version: str) -> Statement:
    if not isinstance(raw, Mapping):
        raise MalformedPolicy(f"{path}: must be an object.")
    for element in raw:
        if element not in STATEMENT_ELEMENTS:
            raise MalformedPolicy(f"{path}: unknown element {element!r}.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy(f"{path}.Sid: must be a string.")
    if sid and kind is PolicyKind.IDENTITY and not IAM_SID_RE.match(sid):
        raise MalformedPolicy(
            f"{path}.Sid: Statement IDs (SID) must be alpha-numeric. "
            "Check that your input satisfies the regular expression [0-9A-Za-z]*"
        )
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicy(f"{path}: Missing required field Effect.")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f'{path}.Effect: must be "Allow" or "Deny", not {effect!r}.')
    parts: dict[str, Any] = {}
    action = _one_of(raw, ("Action", "NotAction"), path, required=True)
    assert action is not None
    parts["actions" if action == "Action" else "not_actions"] = _actions(raw[action], f"{path}.{action}")
    resource = _one_of(raw, ("Resource", "NotResource"), path, required=kind is not PolicyKind.TRUST)
    if resource is not None:
        if kind is PolicyKind.TRUST:
            raise MalformedPolicy(f"{path}.{resource}: Has prohibited field {resource}.")
        resources = _resources(raw[resource], f"{path}.{resource}", version)
        parts["resources" if resource == "Resource" else "not_resources"] = resources
    principal = _one_of(raw, ("Principal", "NotPrincipal"), path, required=kind is not PolicyKind.IDENTITY)
    if principal is not None:
        if kind is PolicyKind.IDENTITY:
            raise MalformedPolicy(f"{path}.{principal}: Policy document should not specify a principal.")
        principals = _principals(raw[principal], f"{path}.{principal}")
        parts["principals" if principal == "Principal" else "not_principals"] = principals
    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        conditions = parse_conditions(raw["Condition"], f"{path}.Condition")
        for condition in conditions:
            for value in condition.values:
                _no_variables(value, f"{path}.Condition.{condition.operator}.{condition.key}", version)
    return Statement(sid=sid, effect=effect, conditions=conditions, **parts)


def parse_policy(document: str | Mapping[str, Any], *, name: str, kind: PolicyKind) -> Policy:
    """The policy in `document` (JSON text or an already-decoded object); MalformedPolicy if it is not one."""
    data = _load(document, kind)
    for element in data:
        if element not in POLICY_ELEMENTS:
            raise MalformedPolicy(f"Policy: unknown element {element!r} (Version, Id, Statement).")
    version = data.get("Version", DEFAULT_VERSION)
    if version not in VERSIONS:
        raise MalformedPolicy(f'Version: must be "2012-10-17" or "2008-10-17", not {version!r}.')
    if "Id" in data and not isinstance(data["Id"], str):
        raise MalformedPolicy("Id: must be a string.")
    if "Statement" not in data:
        raise MalformedPolicy("Policy: Missing required field Statement.")
    raw = data["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicy("Statement: must not be an empty list.")
    statements = tuple(_statement(item, f"Statement[{i}]", kind, version) for i, item in enumerate(items))
    seen: set[str] = set()
    for i, statement in enumerate(statements):
        if statement.sid:
            if statement.sid in seen:
                raise MalformedPolicy(f"Statement[{i}].Sid: Statement IDs (SID) in a single policy must be unique.")
            seen.add(statement.sid)
    return Policy(name=name, statements=statements, kind=kind, version=version)


def parse_stored(document: Mapping[str, Any], *, name: str, kind: PolicyKind) -> Policy:
    """`parse_policy` of a document already validated when it was stored, memoised on its content: every
    request's decision reads the caller's policies, and the same few documents come back each time."""
    return _parse_text(json.dumps(document, sort_keys=True), name, kind)


@lru_cache(maxsize=1024)
def _parse_text(text: str, name: str, kind: PolicyKind) -> Policy:
    return parse_policy(text, name=name, kind=kind)


# --- matching ---------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _action_pattern(pattern: str) -> re.Pattern[str]:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=4096)
def _resource_pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for i, ch in enumerate(pattern):
        if ch == "*":
            ends_part = i + 1 == len(pattern) or pattern[i + 1] == ":"
            parts.append(".*" if ends_part else "[^:]*")
        elif ch == "?":
            parts.append("[^:]")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _action_pattern(pattern).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    return _resource_pattern(pattern).fullmatch(resource) is not None


@dataclass(frozen=True)
class _Caller:
    arn: str
    account: str
    service: str | None
    principal_arns: tuple[str, ...]  # aws:PrincipalArn: a session's role ARN
    role: tuple[str, str] | None  # (account, role name) of an assumed-role session


def _caller(ctx: RequestContext, context: Mapping[str, tuple[str, ...]]) -> _Caller:
    session = ASSUMED_ROLE_RE.match(ctx.principal_arn)
    role = (session.group(1), session.group(2)) if session else None
    return _Caller(
        ctx.principal_arn, ctx.principal_account, ctx.principal_service, context.get("aws:principalarn", ()), role
    )


def _names(entry: PrincipalEntry, caller: _Caller) -> Via | None:
    kind, value = entry
    if value == "*" and kind in ("*", "AWS"):
        return "direct"
    if kind == "Service":
        return "direct" if caller.service is not None and value.lower() == caller.service.lower() else None
    if value == caller.arn or (kind == "AWS" and value in caller.principal_arns):
        return "direct"
    if kind != "AWS":
        return None
    if value.endswith(":root") and value.split(":")[4] == caller.account:
        return "account"
    role = ROLE_RE.match(value)
    if role and caller.role == (role.group(1), role.group(2)):
        return "direct"
    return None


def _principal_via(statement: Statement, caller: _Caller) -> Via | None:
    if statement.principals is not None:
        vias = {_names(entry, caller) for entry in statement.principals}
        return "direct" if "direct" in vias else "account" if "account" in vias else None
    if statement.not_principals is not None:
        return None if any(_names(entry, caller) for entry in statement.not_principals) else "direct"
    return "direct"


def _applies(
    statement: Statement, ctx: RequestContext, context: Mapping[str, tuple[str, ...]], caller: _Caller
) -> Via | None:
    """How the statement applies to the request (None: it does not)."""
    if statement.actions is not None and not any(action_matches(p, ctx.action) for p in statement.actions):
        return None
    if statement.not_actions is not None and any(action_matches(p, ctx.action) for p in statement.not_actions):
        return None
    if statement.resources is not None and not any(resource_matches(p, ctx.resource) for p in statement.resources):
        return None
    if statement.not_resources is not None and any(resource_matches(p, ctx.resource) for p in statement.not_resources):
        return None
    via = _principal_via(statement, caller)
    if via is None or not all(condition.holds(context) for condition in statement.conditions):
        return None
    return via


def _context_keys(ctx: RequestContext) -> dict[str, tuple[str, ...]]:
    """Condition keys lower-cased, each a tuple of strings; aws:PrincipalArn/Account from ctx if absent."""
    context: dict[str, tuple[str, ...]] = {}
    for name, raw in ctx.keys.items():
        items = raw if isinstance(raw, Sequence | Set) and not isinstance(raw, str) else [raw]
        context[name.lower()] = tuple(v for v in (scalar(item) for item in items) if v is not None)
    if ctx.principal_account:
        context.setdefault("aws:principalaccount", (ctx.principal_account,))
    if session := ASSUMED_ROLE_RE.match(ctx.principal_arn):
        context.setdefault("aws:principalarn", (f"arn:aws:iam::{session.group(1)}:role/{session.group(2)}",))
    elif ctx.principal_arn:
        context.setdefault("aws:principalarn", (ctx.principal_arn,))
    if ctx.principal_service:
        context.setdefault("aws:principalservicename", (ctx.principal_service,))
    return context


# --- the decision -----------------------------------------------------------------------------------


def evaluate(ctx: RequestContext, identity: Sequence[Policy], resource: Sequence[Policy] = ()) -> Decision:
    """AWS's decision for `ctx` against the caller's `identity` policies and the resource's policies."""
    context = _context_keys(ctx)
    caller = _caller(ctx, context)
    matched: list[tuple[Policy, Statement, Via]] = []
    for policy in (*identity, *resource):
        for statement in policy.statements:
            via = _applies(statement, ctx, context, caller)
            if via is not None:
                matched.append((policy, statement, via))
    for policy, statement, _via in matched:
        if statement.effect == "Deny":
            return Decision(False, "ExplicitDeny", policy.name, statement.sid, policy.kind)
    allows = [(policy, statement, via) for policy, statement, via in matched if statement.effect == "Allow"]
    identity_allow = next((m for m in allows if m[0].kind is PolicyKind.IDENTITY), None)
    trusts = [policy for policy in resource if policy.kind is PolicyKind.TRUST]
    if trusts:
        trusted = [m for m in allows if m[0].kind is PolicyKind.TRUST]
        naming = [m for m in trusted if m[2] == "direct"] or (trusted if identity_allow is not None else [])
        if not naming:
            return Decision(False, "ImplicitDeny", trusts[0].name, None, PolicyKind.TRUST)
        return Decision(True, "Allow", naming[0][0].name, naming[0][1].sid, PolicyKind.TRUST)
    if identity_allow is not None:
        return Decision(True, "Allow", identity_allow[0].name, identity_allow[1].sid, PolicyKind.IDENTITY)
    direct = next((m for m in allows if m[2] == "direct" and m[0].kind is not PolicyKind.IDENTITY), None)
    if direct is not None:
        return Decision(True, "Allow", direct[0].name, direct[1].sid, direct[0].kind)
    return Decision(False, "ImplicitDeny", None, None)
