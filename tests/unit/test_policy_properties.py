"""openrft.auth.policy against a brute-force reference evaluator, on random policies and requests.

The reference below reads the raw JSON documents (not the parsed `Policy`), matches wildcards with a
backtracking matcher instead of regular expressions, and applies AWS's rules as plainly written loops.
Hypothesis draws identity, resource and trust policies with wildcarded actions and resources, `Not*`
elements, every principal form, and conditions whose keys are present, empty or missing.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openrft.auth.policy import PolicyKind, RequestContext, evaluate, parse_policy

ACCT = "123456789012"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
ROOT = f"arn:aws:iam::{ACCT}:root"
ROLE = f"arn:aws:iam::{ACCT}:role/team/grader"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/grader/job-1"
OTHER_ROLE = f"arn:aws:iam::{ACCT}:role/judge"
LAMBDA = "lambda.amazonaws.com"

ACTIONS = ["files:GetFile", "files:ListFiles", "files:DeleteFile", "models:GetModel", "models:InvokeModel"]
RESOURCES = [
    "arn:openrft:files:us-east-1:111:file/f1",
    "arn:openrft:files:us-east-1:111:file/f12",
    "arn:openrft:models:us-east-1:111:model/m:ft:x",
    f"arn:aws:lambda:us-east-1:{ACCT}:function:f",
    f"arn:aws:lambda:us-east-1:{ACCT}:function:f:prod",
]
CALLERS = [  # (principal_arn, service, aws:PrincipalArn as the lead passes it)
    (BOB, None, BOB),
    (ALICE, None, ALICE),
    (ROOT, None, ROOT),
    (SESSION, None, ROLE),
    ("", LAMBDA, None),
]
PRINCIPALS: list[Any] = [
    "*",
    {"AWS": "*"},
    {"AWS": ACCT},
    {"AWS": ROOT},
    {"AWS": BOB},
    {"AWS": [ALICE, BOB]},
    {"AWS": ROLE},
    {"AWS": OTHER_ROLE},
    {"AWS": SESSION},
    {"Service": LAMBDA},
    {"Service": "bedrock.amazonaws.com", "AWS": ALICE},
]
KEYS = ["test:a", "test:b"]
REQUEST_VALUES = [
    *["x", "X", "xa", "1", "10", "true", "TRUE", "false", "10.1.2.3", "11.0.0.1", "2001:db8::1"],
    *["2020-04-01T00:00:00Z", "1585699201", "2020-03-31", "arn:aws:s3:::bucket", "arn:aws:s3:us-east-1::bucket"],
]
REQUEST_PAIRS = [
    *[["x", "X"], ["x", "y"], ["xa", "1"], ["1", "10"], ["true", "false"], ["10.1.2.3", "11.0.0.1"]],
    *[["2020-03-31", "1585699201"], ["arn:aws:s3:::bucket", "arn:aws:s3:::other"]],
]
FAMILIES: dict[str, tuple[list[str], list[str]]] = {  # values a policy may hold, operators of the family
    "string": (
        ["x", "X", "y", "x*", "?", "*a"],
        [
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
    ),
    "number": (
        ["1", "2", "10"],
        [
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ],
    ),
    "date": (
        ["2020-04-01T00:00:00Z", "1585699200", "2020-04-02"],
        [
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ],
    ),
    "arn": (
        ["arn:aws:s3:::b*", "arn:aws:s3:::bucket", "arn:*:s3:::*"],
        ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
    ),
    "bool": (["true", "false"], ["Bool"]),
    "ip": (["10.0.0.0/8", "10.1.0.0/16", "11.0.0.1", "2001:db8::/32"], ["IpAddress", "NotIpAddress"]),
}
NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
    "ArnNotEquals",
    "ArnNotLike",
}


# --- the reference ------------------------------------------------------------------------------------


def wild(pattern: str, text: str, *, arn_parts: bool = False) -> bool:
    """`*` and `?` by backtracking; with `arn_parts`, only a `*` ending a part may cross a colon."""
    if not pattern:
        return not text
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        crosses = not arn_parts or rest == "" or rest[0] == ":"
        for k in range(len(text) + 1):
            if not crosses and ":" in text[:k]:
                return False
            if wild(rest, text[k:], arn_parts=arn_parts):
                return True
        return False
    if not text:
        return False
    if head == "?":
        return not (arn_parts and text[0] == ":") and wild(rest, text[1:], arn_parts=arn_parts)
    return head == text[0] and wild(rest, text[1:], arn_parts=arn_parts)


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def in_network(value: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def instant(text: str) -> float | None:
    """Epoch seconds of an epoch number or an ISO 8601 date (UTC when it names no zone)."""
    if text.isdigit():
        return float(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def positive(base: str, have: str, wanted: str) -> bool:
    """The un-negated test of `base` for one request value and one policy value."""
    name = base.replace("Not", "", 1) if base in NEGATED else base
    if name in ("ArnEquals", "ArnLike"):
        parts, patterns = have.split(":", 5), wanted.split(":", 5)
        return len(parts) == len(patterns) == 6 and all(wild(p, h) for p, h in zip(patterns, parts, strict=True))
    if name.startswith("Date"):
        a, b = instant(have), instant(wanted)
        if a is None or b is None:
            return False
        name = name.replace("Date", "Numeric")
        have, wanted = str(a), str(b)
    if name == "StringEquals":
        return have == wanted
    if name == "StringEqualsIgnoreCase":
        return have.lower() == wanted.lower()
    if name == "StringLike":
        return wild(wanted, have)
    if name == "Bool":
        return have.lower() == wanted.lower()
    if name == "IpAddress":
        return in_network(have, wanted)
    a, b = number(have), number(wanted)
    if a is None or b is None:
        return False
    return {
        "NumericEquals": a == b,
        "NumericLessThan": a < b,
        "NumericLessThanEquals": a <= b,
        "NumericGreaterThan": a > b,
        "NumericGreaterThanEquals": a >= b,
    }[name]


def condition_holds(operator: str, key: str, wanted: list[str], keys: dict[str, list[str]]) -> bool:
    qualifier = operator.split(":")[0] if ":" in operator else None
    name = operator.split(":")[-1]
    if_exists = name.endswith("IfExists")
    base = name[: -len("IfExists")] if if_exists else name
    have = [value for k, values in keys.items() if k.lower() == key.lower() for value in values]
    if base == "Null":
        return any((w == "true") == (len(have) == 0) for w in wanted)
    if not have:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return base in NEGATED

    def one(value: str) -> bool:
        hit = any(positive(base, value, w) for w in wanted)
        return not hit if base in NEGATED else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in have)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in have)
    hits = [positive(base, v, w) for v in have for w in wanted]
    return not any(hits) if base in NEGATED else any(hits)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def names(principal: Any, caller: tuple[str, str | None, str | None]) -> str | None:
    """'direct', 'account' or None: how a Principal element names the caller."""
    arn, service, principal_arn = caller
    if principal == "*":
        return "direct"
    found = None
    for kind, values in principal.items():
        for value in listed(values):
            if kind == "Service":
                hit = "direct" if value == service else None
            else:
                value = f"arn:aws:iam::{value}:root" if value.isdigit() else value
                if value in ("*", arn, principal_arn):
                    hit = "direct"
                elif value == ROOT:  # every caller here is of this account
                    hit = "account"
                else:
                    hit = None
            if hit == "direct":
                return "direct"
            found = found or hit
    return found


def reference(request: dict[str, Any], documents: list[tuple[str, str, dict[str, Any]]]) -> tuple[Any, ...]:
    """(effect, policy, sid) for the request, by looping over every statement of every document."""
    caller = request["caller"]
    applicable = []
    for name, kind, document in documents:
        for statement in listed(document["Statement"]):
            if "Action" in statement:
                ok = any(wild(p.lower(), request["action"].lower()) for p in listed(statement["Action"]))
            else:
                ok = not any(wild(p.lower(), request["action"].lower()) for p in listed(statement["NotAction"]))
            if "Resource" in statement:
                ok = ok and any(wild(p, request["resource"], arn_parts=True) for p in listed(statement["Resource"]))
            if "NotResource" in statement:
                ok = ok and not any(
                    wild(p, request["resource"], arn_parts=True) for p in listed(statement["NotResource"])
                )
            via: str | None = "direct"
            if "Principal" in statement:
                via = names(statement["Principal"], caller)
            if "NotPrincipal" in statement:
                via = None if names(statement["NotPrincipal"], caller) else "direct"
            for operator, block in statement.get("Condition", {}).items():
                for key, wanted in block.items():
                    ok = ok and condition_holds(operator, key, listed(wanted), request["keys"])
            if ok and via is not None:
                applicable.append((name, kind, statement, via))
    for name, _kind, statement, _via in applicable:
        if statement["Effect"] == "Deny":
            return ("ExplicitDeny", name, statement.get("Sid"))
    allows = [a for a in applicable if a[2]["Effect"] == "Allow"]
    identity_allow = [a for a in allows if a[1] == "identity"]
    trusts = [d for d in documents if d[1] == "trust"]
    if trusts:
        direct_trust = [a for a in allows if a[1] == "trust" and a[3] == "direct"]
        account_trust = [a for a in allows if a[1] == "trust" and a[3] == "account"]
        if direct_trust:
            return ("Allow", direct_trust[0][0], direct_trust[0][2].get("Sid"))
        if account_trust and identity_allow:
            return ("Allow", account_trust[0][0], account_trust[0][2].get("Sid"))
        return ("ImplicitDeny", trusts[0][0], None)
    if identity_allow:
        return ("Allow", identity_allow[0][0], identity_allow[0][2].get("Sid"))
    direct = [a for a in allows if a[1] != "identity" and a[3] == "direct"]
    if direct:
        return ("Allow", direct[0][0], direct[0][2].get("Sid"))
    return ("ImplicitDeny", None, None)


# --- the strategies -----------------------------------------------------------------------------------

ACTION_PATTERNS = [
    *ACTIONS,
    "*",
    "*:*",
    "files:*",
    "models:*",
    "*:Get*",
    "FILES:getfile",
    "files:?etFile",
    "files:Get*",
    "*:*File*",
    "f*:*s",
    "fil?s:List*",
    "models:*Model",
    "models:Invoke?odel",
]
RESOURCE_PATTERNS = [
    *RESOURCES,
    "*",
    "arn:*",
    "arn:openrft:files:us-east-1:111:file/*",
    "arn:openrft:files:us-east-1:111:file/f?",
    "arn:openrft:files:us-east-1:111:file/f1*",
    "arn:openrft:files:*:111:file/f1",
    "arn:openrft:*:us-east-1:111:*",
    "arn:openrft:models:us-east-1:111:model/*",
    "arn:openrft:models:us-east-1:111:model/m:*",
    "arn:openrft:models:us-east-1:111:model/m*x",  # a `*` inside a part: not over the colons
    "arn:openrft:models:us-east-1:111:model/m?ft?x",
    f"arn:aws:lambda:us-east-1:{ACCT}:function:*",
    f"arn:aws:lambda:us-east-1:{ACCT}:function:f*",
    f"arn:aws:lambda:us-east-1:{ACCT}:function:?",
    "arn:aws:lambda:*:*:function:f",
]


@st.composite
def mutated_resources(draw: st.DrawFn) -> str:
    """A real resource with one span (after `arn:`) replaced by `*` or `?`."""
    text = draw(st.sampled_from(RESOURCES))
    i = draw(st.integers(4, len(text)))
    j = draw(st.integers(i, min(len(text), i + 12)))
    text = text[:i] + draw(st.sampled_from(["*", "?"])) + text[j:]
    return text if text.count(":") >= 5 or text.endswith("*") else text + "*"


action_patterns = st.sampled_from(ACTION_PATTERNS)
resource_patterns = st.one_of(st.sampled_from(RESOURCE_PATTERNS), mutated_resources())


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2]))):
        family = draw(st.sampled_from([*FAMILIES, "null"]))
        if family == "null":
            operator, pool = "Null", ["true", "false"]
        else:
            pool, bases = FAMILIES[family]
            qualifier = draw(st.sampled_from(["", "", "ForAnyValue:", "ForAllValues:"]))
            operator = qualifier + draw(st.sampled_from(bases)) + draw(st.sampled_from(["", "", "IfExists"]))
        key = draw(st.sampled_from([*KEYS, "TEST:A"]))
        values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        block.setdefault(operator, {})[key] = values if len(values) > 1 else values[0]
    return block


@st.composite
def statements(draw: st.DrawFn, kind: str, sid: str, request: dict[str, Any]) -> dict[str, Any]:
    """A statement; most of its patterns cover the request's own action or resource, so many apply."""
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    if draw(st.booleans()):
        statement["Sid"] = sid
    action = st.one_of(st.just(request["action"]), st.just("*"), action_patterns)
    actions = draw(st.lists(action, min_size=1, max_size=2))
    statement["NotAction" if draw(st.integers(0, 3)) == 0 else "Action"] = actions
    if kind != "trust":
        resource = st.one_of(st.just(request["resource"]), st.just("*"), resource_patterns)
        resources = draw(st.lists(resource, min_size=1, max_size=2))
        statement["NotResource" if draw(st.integers(0, 3)) == 0 else "Resource"] = resources
    if kind != "identity":
        principal = draw(st.sampled_from(PRINCIPALS))
        statement["NotPrincipal" if draw(st.integers(0, 5)) == 0 else "Principal"] = principal
    if condition := draw(conditions()):
        statement["Condition"] = condition
    return statement


@st.composite
def documents(draw: st.DrawFn, kind: str, name: str, request: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    count = draw(st.integers(1, 3))
    body = [draw(statements(kind, f"S{name}{i}", request)) for i in range(count)]
    return (name, kind, {"Version": "2012-10-17", "Statement": body})


@st.composite
def request_keys(draw: st.DrawFn) -> dict[str, list[str]]:
    """Each test key missing, empty, or with 1-3 values; its name in either case."""
    keys: dict[str, list[str]] = {}
    for key in KEYS:
        presence = draw(st.sampled_from(["missing", "empty", "values", "values"]))
        if presence != "missing":
            keys[key.upper() if draw(st.booleans()) else key] = (
                [] if presence == "empty" else draw(st.lists(st.sampled_from(REQUEST_VALUES), min_size=1, max_size=3))
            )
    return keys


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "action": draw(st.sampled_from(ACTIONS)),
        "resource": draw(st.sampled_from(RESOURCES)),
        "caller": draw(st.sampled_from(CALLERS)),
        "keys": draw(request_keys()),
    }


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    request = draw(requests())
    shape = draw(st.sampled_from(["none", "resource", "trust"]))
    count = draw(st.integers(1 if shape == "none" else 0, 2))
    mine = [draw(documents("identity", f"id{i}", request)) for i in range(count)]
    theirs = []
    if shape != "none":
        theirs.append(draw(documents(shape, shape, request)))
    return request, [*mine, *theirs]


def decide(request: dict[str, Any], docs: list[tuple[str, str, dict[str, Any]]]) -> tuple[Any, ...]:
    arn, service, principal_arn = request["caller"]
    keys = dict(request["keys"])
    if principal_arn:
        keys["aws:PrincipalArn"] = [principal_arn]
    ctx = RequestContext(
        action=request["action"],
        resource=request["resource"],
        principal_arn=arn,
        principal_account=ACCT,
        principal_service=service,
        keys=keys,
    )
    parsed = [(kind, parse_policy(document, name=name, kind=PolicyKind(kind))) for name, kind, document in docs]
    identity = [policy for kind, policy in parsed if kind == "identity"]
    resource = [policy for kind, policy in parsed if kind != "identity"]
    decision = evaluate(ctx, identity, resource)
    assert decision.allowed is (decision.effect == "Allow")
    return (decision.effect, decision.policy, decision.sid)


# --- the properties -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_matches_the_reference(scenario: tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]) -> None:
    request, docs = scenario
    assert decide(request, docs) == reference(request, docs)


@settings(max_examples=200, deadline=None)
@given(conditions(), request_keys())
def test_conditions_match_the_reference(block: dict[str, Any], keys: dict[str, list[str]]) -> None:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    if block:
        statement["Condition"] = block
    request = {"action": ACTIONS[0], "resource": RESOURCES[0], "caller": CALLERS[0], "keys": keys}
    docs = [("p", "identity", {"Version": "2012-10-17", "Statement": [statement]})]
    assert decide(request, docs) == reference(request, docs)


def test_every_operator_form_matches_the_reference() -> None:
    """Exhaustive on one condition: operator x prefix x IfExists x policy values x request values."""
    requests: list[list[str] | None] = [None, [], *([v] for v in REQUEST_VALUES), *REQUEST_PAIRS]
    forms = [("Null", ["true", "false"])]
    for pool, bases in FAMILIES.values():
        for base, qualifier, suffix in itertools.product(
            bases, ["", "ForAnyValue:", "ForAllValues:"], ["", "IfExists"]
        ):
            forms.append((qualifier + base + suffix, pool))
    checked = 0
    for operator, pool in forms:
        for wanted in [*([v] for v in pool), pool[:2]]:
            statement = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {operator: {"test:a": wanted}}}
            docs = [("p", "identity", {"Version": "2012-10-17", "Statement": [statement]})]
            for have in requests:
                keys = {} if have is None else {"test:a": have}
                request = {"action": ACTIONS[0], "resource": RESOURCES[0], "caller": CALLERS[0], "keys": keys}
                assert decide(request, docs) == reference(request, docs), (operator, wanted, have)
                checked += 1
    assert checked > 5000


def test_every_principal_form_matches_the_reference() -> None:
    """Exhaustive: each Principal (or NotPrincipal) form x caller x policy kind x with/without identity allow."""
    for principal, element, caller, kind, allow_all in itertools.product(
        PRINCIPALS, ["Principal", "NotPrincipal"], CALLERS, ["resource", "trust"], [False, True]
    ):
        statement: dict[str, Any] = {"Effect": "Allow", "Action": "files:GetFile", element: principal}
        if kind == "resource":
            statement["Resource"] = RESOURCES[0]
        docs: list[tuple[str, str, dict[str, Any]]] = [
            (kind, kind, {"Version": "2012-10-17", "Statement": [statement]})
        ]
        if allow_all:
            docs.append(("all", "identity", {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}))
        request = {"action": "files:GetFile", "resource": RESOURCES[0], "caller": caller, "keys": {}}
        assert decide(request, docs) == reference(request, docs), (principal, element, caller, kind, allow_all)


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_an_unconditional_deny_always_wins(
    scenario: tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]],
) -> None:
    request, docs = scenario
    block = ("block", "identity", {"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}})
    assert decide(request, [*docs, block])[0] == "ExplicitDeny"


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_text_and_object_documents_parse_alike(
    scenario: tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]],
) -> None:
    _request, docs = scenario
    for name, kind, document in docs:
        as_text = parse_policy(json.dumps(document, indent=2), name=name, kind=PolicyKind(kind))
        assert as_text == parse_policy(document, name=name, kind=PolicyKind(kind))
