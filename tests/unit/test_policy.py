"""The IAM policy language: grammar errors naming the element, each condition operator, AWS's decision.

Cases are worked by hand from AWS's rules (openrft.auth.policy's docstring); AWS's own documented
examples are in aws_policy_examples.py and run at the end.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from openrft.auth.policy import (
    Decision,
    Policy,
    PolicyKind,
    RequestContext,
    Statement,
    evaluate,
    parse_policy,
    resource_matches,
)
from openrft.errors import MalformedPolicy
from tests.unit.aws_policy_examples import ALLOW_ALL, EXAMPLES

ACCT = "123456789012"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/grader/job-1"
ROLE = f"arn:aws:iam::{ACCT}:role/team/grader"
FN = f"arn:aws:lambda:us-east-1:{ACCT}:function:reward"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def identity(*statements: dict[str, Any], name: str = "p") -> Policy:
    return parse_policy(doc(*statements), name=name, kind=PolicyKind.IDENTITY)


def resource(*statements: dict[str, Any], name: str = "r", kind: PolicyKind = PolicyKind.RESOURCE) -> Policy:
    return parse_policy(doc(*statements), name=name, kind=kind)


def request(
    action: str = "files:GetFile", res: str = "arn:openrft:files:us-east-1:1:file/f1", **kw: Any
) -> RequestContext:
    kw.setdefault("principal_arn", BOB)
    kw.setdefault("principal_account", ACCT)
    return RequestContext(action=action, resource=res, **kw)


def allow(action: Any = "*", res: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": res, **extra}


def deny(action: Any = "*", res: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": res, **extra}


def allowed_when(condition: dict[str, Any], keys: dict[str, Any]) -> bool:
    """Whether `Allow * on *` under `condition` allows a request with condition keys `keys`."""
    return evaluate(request(keys=keys), [identity(allow(Condition=condition))]).allowed


# --- the decision -------------------------------------------------------------------------------------


def test_implicit_deny_without_policies() -> None:
    assert evaluate(request(), []) == Decision(False, "ImplicitDeny", None, None)


def test_allow_cites_policy_and_sid() -> None:
    decision = evaluate(request(), [identity(allow("files:GetFile", Sid="Read"), name="arn:aws:iam::1:policy/x")])
    assert decision == Decision(True, "Allow", "arn:aws:iam::1:policy/x", "Read", PolicyKind.IDENTITY)
    assert decision.as_dict() == {
        "allowed": True,
        "effect": "Allow",
        "policy": "arn:aws:iam::1:policy/x",
        "sid": "Read",
        "kind": "identity",
    }


def test_deny_wins_over_allow_in_any_order() -> None:
    a = identity(allow(), name="a")
    d = identity(deny("files:*", Sid="NoFiles"), name="d")
    for policies in ([a, d], [d, a]):
        decision = evaluate(request(), policies)
        assert (decision.effect, decision.policy, decision.sid) == ("ExplicitDeny", "d", "NoFiles")


def test_deny_in_identity_beats_allow_in_resource_policy() -> None:
    grant = resource(allow("lambda:InvokeFunction", FN, Principal={"AWS": BOB}))
    decision = evaluate(request("lambda:InvokeFunction", FN), [identity(deny("lambda:*"))], [grant])
    assert decision.effect == "ExplicitDeny"


def test_deny_in_resource_policy_beats_identity_allow() -> None:
    block = resource(deny("lambda:*", FN, Principal="*", Sid="lock"), name="fn-policy")
    decision = evaluate(request("lambda:InvokeFunction", FN), [identity(allow())], [block])
    assert (decision.effect, decision.policy, decision.sid, decision.kind) == (
        "ExplicitDeny",
        "fn-policy",
        "lock",
        PolicyKind.RESOURCE,
    )


def test_statements_that_do_not_apply_are_ignored() -> None:
    policy = identity(allow("files:GetFile"), deny("files:DeleteFile"))
    assert evaluate(request("files:GetFile"), [policy]).effect == "Allow"
    assert evaluate(request("files:DeleteFile"), [policy]).effect == "ExplicitDeny"
    assert evaluate(request("files:ListFiles"), [policy]).effect == "ImplicitDeny"


# --- actions and resources ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("*", "fine_tuning:CreateJob", True),
        ("fine_tuning:*", "fine_tuning:CreateJob", True),
        ("fine_tuning:*", "files:CreateFile", False),
        ("FINE_TUNING:createjob", "fine_tuning:CreateJob", True),  # case-insensitive
        ("fine_tuning:Get*", "fine_tuning:GetJob", True),
        ("fine_tuning:Get*", "fine_tuning:ListJobs", False),
        ("files:?etFile", "files:GetFile", True),
        ("files:?etFile", "files:GGetFile", False),
        ("evals:*Run*", "evals:CreateEvalRun", True),
        ("evals:*Run", "evals:ListEvalRuns", False),
    ],
)
def test_action_patterns(pattern: str, action: str, matches: bool) -> None:
    assert evaluate(request(action), [identity(allow(pattern))]).allowed is matches


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("*", "arn:openrft:files:us-east-1:1:file/f1", True),
        ("arn:openrft:files:us-east-1:1:file/*", "arn:openrft:files:us-east-1:1:file/f1", True),
        ("arn:openrft:files:us-east-1:1:file/*", "arn:openrft:files:us-east-1:1:File/f1", False),  # case
        ("arn:openrft:files:us-east-1:1:file/f?", "arn:openrft:files:us-east-1:1:file/f1", True),
        ("arn:openrft:files:us-east-1:1:file/f?", "arn:openrft:files:us-east-1:1:file/f12", False),
        ("arn:openrft:evals:*:1:eval/*", "arn:openrft:evals:us-east-1:1:eval/e1/run/r1", True),
        # a `*` that ends an ARN part runs over colons ...
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:*", f"{FN}:prod", True),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:rew*", f"{FN}:prod", True),
        # ... one inside a part does not, nor does `?`
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:r*d", f"{FN}:prod", False),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:r*d", f"arn:aws:lambda:us-east-1:{ACCT}:function:rod", True),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function?reward", FN, False),
        (f"arn:aws:lambda:us-east-1:{ACCT}:function:reward", f"{FN}:prod", False),
    ],
)
def test_resource_patterns(pattern: str, arn: str, matches: bool) -> None:
    assert resource_matches(pattern, arn) is matches
    assert evaluate(request(res=arn), [identity(allow("*", pattern))]).allowed is matches


def test_not_action_and_not_resource() -> None:
    read_only = identity({"Effect": "Allow", "NotAction": ["files:Delete*", "files:Create*"], "Resource": "*"})
    assert evaluate(request("files:GetFile"), [read_only]).allowed
    assert not evaluate(request("files:DeleteFile"), [read_only]).allowed
    others = identity({"Effect": "Allow", "Action": "*", "NotResource": "arn:openrft:files:us-east-1:1:file/secret"})
    assert evaluate(request(res="arn:openrft:files:us-east-1:1:file/f1"), [others]).allowed
    assert not evaluate(request(res="arn:openrft:files:us-east-1:1:file/secret"), [others]).allowed


# --- principals in resource and trust policies ---------------------------------------------------------


def invoke(principal: Any, *, identity_policies: tuple[Policy, ...] = (), **who: Any) -> Decision:
    """Invoke FN as `who` with FN's resource policy granting `principal`."""
    grant = resource(allow("lambda:InvokeFunction", FN, Principal=principal, Sid="g"), name="fn")
    return evaluate(request("lambda:InvokeFunction", FN, **who), identity_policies, [grant])


@pytest.mark.parametrize(
    ("principal", "who", "effect"),
    [
        ("*", {}, "Allow"),
        ({"AWS": "*"}, {}, "Allow"),
        ({"AWS": BOB}, {}, "Allow"),
        ({"AWS": [f"arn:aws:iam::{ACCT}:user/alice", BOB]}, {}, "Allow"),
        ({"AWS": f"arn:aws:iam::{ACCT}:user/alice"}, {}, "ImplicitDeny"),
        # an account, either spelling, delegates to the account's own policies: no identity allow here
        ({"AWS": ACCT}, {}, "ImplicitDeny"),
        ({"AWS": f"arn:aws:iam::{ACCT}:root"}, {}, "ImplicitDeny"),
        # ... except for the account's root principal, which is the account
        ({"AWS": ACCT}, {"principal_arn": f"arn:aws:iam::{ACCT}:root"}, "Allow"),
        # a role's ARN names its sessions: by the role name, or by aws:PrincipalArn (with the path)
        ({"AWS": ROLE}, {"principal_arn": SESSION}, "Allow"),
        ({"AWS": ROLE}, {"principal_arn": SESSION, "keys": {"aws:PrincipalArn": [ROLE]}}, "Allow"),
        ({"AWS": f"arn:aws:iam::{ACCT}:role/other"}, {"principal_arn": SESSION}, "ImplicitDeny"),
        ({"AWS": "arn:aws:iam::999999999999:role/grader"}, {"principal_arn": SESSION}, "ImplicitDeny"),
        ({"AWS": SESSION}, {"principal_arn": SESSION}, "Allow"),
        ({"Service": "bedrock.amazonaws.com"}, {"principal_service": "bedrock.amazonaws.com"}, "Allow"),
        ({"Service": "bedrock.amazonaws.com"}, {"principal_service": "lambda.amazonaws.com"}, "ImplicitDeny"),
        ({"Service": "bedrock.amazonaws.com"}, {}, "ImplicitDeny"),
        (
            {"Service": ["s3.amazonaws.com", "bedrock.amazonaws.com"]},
            {"principal_service": "bedrock.amazonaws.com"},
            "Allow",
        ),
    ],
)
def test_principal_forms(principal: Any, who: dict[str, Any], effect: str) -> None:
    assert invoke(principal, **who).effect == effect


def test_account_principal_allows_with_an_identity_allow() -> None:
    mine = identity(allow("lambda:InvokeFunction"), name="mine")
    decision = invoke({"AWS": ACCT}, identity_policies=(mine,))
    assert (decision.effect, decision.policy) == ("Allow", "mine")


def test_direct_resource_grant_needs_no_identity_policy_and_is_cited() -> None:
    assert invoke({"AWS": BOB}) == Decision(True, "Allow", "fn", "g", PolicyKind.RESOURCE)


def test_not_principal_applies_to_everyone_else() -> None:
    block = resource(
        {"Effect": "Deny", "Action": "*", "Resource": FN, "NotPrincipal": {"AWS": BOB}},
        name="fn",
    )
    everything = identity(allow())
    assert evaluate(request("lambda:InvokeFunction", FN), [everything], [block]).effect == "Allow"
    alice = f"arn:aws:iam::{ACCT}:user/alice"
    decision = evaluate(request("lambda:InvokeFunction", FN, principal_arn=alice), [everything], [block])
    assert decision.effect == "ExplicitDeny"


def trust(principal: Any, **extra: Any) -> Policy:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal, **extra}
    return resource(statement, name="role/grader trust", kind=PolicyKind.TRUST)


def assume(policy: Policy, policies: tuple[Policy, ...] = (), **who: Any) -> Decision:
    return evaluate(request("sts:AssumeRole", ROLE, **who), policies, [policy])


def test_trust_policy_is_required_even_with_allow_star() -> None:
    decision = assume(trust({"Service": "lambda.amazonaws.com"}), (identity(allow()),))
    assert decision == Decision(False, "ImplicitDeny", "role/grader trust", None, PolicyKind.TRUST)


def test_trust_naming_the_caller_suffices() -> None:
    assert assume(trust({"AWS": BOB})).effect == "Allow"
    assert assume(trust({"Service": "lambda.amazonaws.com"}), principal_service="lambda.amazonaws.com").allowed


def test_trust_naming_the_account_needs_an_identity_allow() -> None:
    account = trust({"AWS": f"arn:aws:iam::{ACCT}:root"})
    assert assume(account).effect == "ImplicitDeny"
    assert not assume(account, (identity(allow("sts:AssumeRole", "arn:aws:iam::1:role/x")),)).allowed
    decision = assume(account, (identity(allow("sts:AssumeRole", ROLE)),))
    assert (decision.effect, decision.kind) == ("Allow", PolicyKind.TRUST)


def test_explicit_deny_in_identity_blocks_assume_role() -> None:
    assert assume(trust({"AWS": BOB}), (identity(deny("sts:*")),)).effect == "ExplicitDeny"


# --- condition operators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "wanted", "have", "holds"),
    [
        ("StringEquals", "abc", "abc", True),
        ("StringEquals", "abc", "ABC", False),
        ("StringEquals", ["x", "abc"], "abc", True),  # values of one key are ORed
        ("StringNotEquals", "abc", "abc", False),
        ("StringNotEquals", ["x", "y"], "abc", True),
        ("StringNotEquals", ["x", "abc"], "abc", False),  # matches one of them: not "not equal"
        ("StringEqualsIgnoreCase", "ABC", "abc", True),
        ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
        ("StringLike", "job/*", "job/ftjob-1", True),
        ("StringLike", "job/*", "Job/ftjob-1", False),
        ("StringLike", "ftjob-?", "ftjob-1", True),
        ("StringLike", "ftjob-?", "ftjob-12", False),
        ("StringLike", "a:*", "a:b:c", True),  # StringLike's `*` runs over colons
        ("StringNotLike", "job/*", "model/m", True),
        ("StringNotLike", "job/*", "job/x", False),
        ("NumericEquals", "10", "10.0", True),
        ("NumericNotEquals", "10", "11", True),
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "10", "10", False),
        ("NumericGreaterThan", 10, "10.5", True),  # a JSON number reads as its text
        ("NumericGreaterThanEquals", "-1.5", "-1.5", True),
        ("NumericLessThan", "10", "ten", False),  # unreadable request value: never matches
        ("NumericNotEquals", "10", "ten", True),
        ("DateLessThan", "2020-04-01T00:00:00Z", "2020-03-31T23:59:59Z", True),
        ("DateLessThan", "2020-04-01T00:00:00Z", "1585699200", False),  # epoch of the same instant
        ("DateLessThanEquals", "2020-04-01T00:00:00Z", "1585699200", True),
        ("DateEquals", "2020-04-01T02:00:00+02:00", "2020-04-01T00:00:00Z", True),  # zones compare
        ("DateEquals", "2020-04-01", "2020-04-01T00:00:00Z", True),  # a date is its midnight UTC
        ("DateNotEquals", "2020-04-01", "2020-04-02", True),
        ("DateGreaterThan", "1585699200", "2020-04-01T00:00:01Z", True),
        ("DateGreaterThanEquals", "2020-04-01T00:00:00Z", "2020-04-01T00:00:00.5Z", True),
        ("Bool", "true", "true", True),
        ("Bool", True, "TRUE", True),
        ("Bool", "false", "true", False),
        ("IpAddress", "10.0.0.0/8", "10.255.0.1", True),
        ("IpAddress", "10.0.0.0/8", "11.0.0.1", False),
        ("IpAddress", "203.0.113.7", "203.0.113.7", True),  # a bare address is a /32
        ("IpAddress", "2001:db8::/32", "2001:DB8:0:1::9", True),
        ("IpAddress", "10.0.0.0/8", "2001:db8::1", False),  # other family
        ("IpAddress", "10.0.0.0/8", "not-an-ip", False),
        ("NotIpAddress", "10.0.0.0/8", "11.0.0.1", True),
        ("NotIpAddress", "10.0.0.0/8", "10.0.0.1", False),
        ("ArnEquals", "arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
        ("ArnEquals", "arn:aws:s3:::b*", "arn:aws:s3:::bucket", True),  # ArnEquals takes wildcards too
        ("ArnLike", f"arn:aws:lambda:*:{ACCT}:function:*", f"{FN}:prod", True),  # the last part holds colons
        ("ArnLike", "arn:aws:s3:::bucket", "arn:aws:S3:::bucket", False),
        ("ArnLike", "arn:*:s3:::bucket", "arn:aws:s3:us-east-1::bucket", False),  # region must be empty
        ("ArnLike", "arn:aws:*:*:*:*", "not-an-arn", False),
        ("ArnNotEquals", "arn:aws:s3:::bucket", "arn:aws:s3:::other", True),
        ("ArnNotLike", "arn:aws:s3:::b*", "arn:aws:s3:::bucket", False),
    ],
)
def test_operator(operator: str, wanted: Any, have: str, holds: bool) -> None:
    assert allowed_when({operator: {"test:Key": wanted}}, {"test:Key": [have]}) is holds


@pytest.mark.parametrize(
    ("operator", "wanted", "holds"),
    [
        # a key missing from the request: false, except for the negated operators
        ("StringEquals", "x", False),
        ("StringLike", "*", False),
        ("NumericLessThan", "1", False),
        ("DateGreaterThan", "2020-01-01", False),
        ("Bool", "false", False),
        ("IpAddress", "0.0.0.0/0", False),
        ("ArnLike", "arn:*:*:*:*:*", False),
        ("StringNotEquals", "x", True),
        ("StringNotEqualsIgnoreCase", "x", True),
        ("StringNotLike", "x", True),
        ("NumericNotEquals", "1", True),
        ("DateNotEquals", "2020-01-01", True),
        ("NotIpAddress", "10.0.0.0/8", True),
        ("ArnNotEquals", "arn:aws:s3:::b", True),
        ("ArnNotLike", "arn:aws:s3:::b", True),
        # IfExists: true when the key is missing, whatever the operator
        ("StringEqualsIfExists", "x", True),
        ("NumericLessThanIfExists", "1", True),
        ("BoolIfExists", "true", True),
        # the set operators: ForAllValues true, ForAnyValue false, even negated; IfExists still wins
        ("ForAllValues:StringEquals", "x", True),
        ("ForAllValues:StringNotEquals", "x", True),
        ("ForAnyValue:StringEquals", "x", False),
        ("ForAnyValue:StringNotEquals", "x", False),
        ("ForAnyValue:StringEqualsIfExists", "x", True),
    ],
)
def test_missing_key(operator: str, wanted: str, holds: bool) -> None:
    assert allowed_when({operator: {"test:Key": wanted}}, {"other:Key": ["x"]}) is holds
    assert allowed_when({operator: {"test:Key": wanted}}, {"test:Key": []}) is holds  # empty: as missing


def test_if_exists_tests_the_value_when_present() -> None:
    condition = {"NumericLessThanIfExists": {"test:Age": "3600"}}
    assert allowed_when(condition, {"test:Age": ["60"]})
    assert not allowed_when(condition, {"test:Age": ["7200"]})


def test_null() -> None:
    absent = {"Null": {"test:Key": "true"}}
    present = {"Null": {"test:Key": False}}
    assert allowed_when(absent, {}) and not allowed_when(absent, {"test:Key": ["v"]})
    assert allowed_when(present, {"test:Key": ["v"]}) and not allowed_when(present, {})
    assert allowed_when({"Null": {"test:Key": ["true", "false"]}}, {})  # ORed: either way


@pytest.mark.parametrize(
    ("operator", "have", "holds"),
    [
        # policy values ["a", "b"]; request values `have`
        ("ForAllValues:StringEquals", ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "c"], False),
        ("ForAnyValue:StringEquals", ["a", "c"], True),
        ("ForAnyValue:StringEquals", ["c", "d"], False),
        ("ForAllValues:StringNotEquals", ["c", "d"], True),  # every value is neither a nor b
        ("ForAllValues:StringNotEquals", ["a", "c"], False),
        ("ForAnyValue:StringNotEquals", ["a", "c"], True),  # c is neither
        ("ForAnyValue:StringNotEquals", ["a", "b"], False),
        ("ForAnyValue:StringLike", ["xa", "b"], True),
        # without a prefix: a positive operator needs one matching value, a negated one none
        ("StringEquals", ["c", "a"], True),
        ("StringNotEquals", ["c", "a"], False),
        ("StringNotEquals", ["c", "d"], True),
    ],
)
def test_multivalued_keys(operator: str, have: list[str], holds: bool) -> None:
    assert allowed_when({operator: {"test:Tags": ["a", "b"]}}, {"test:Tags": have}) is holds


def test_operators_and_keys_are_anded() -> None:
    condition = {
        "StringEquals": {"test:A": "1", "test:B": "2"},
        "Bool": {"test:C": "true"},
    }
    assert allowed_when(condition, {"test:A": ["1"], "test:B": ["2"], "test:C": ["true"]})
    assert not allowed_when(condition, {"test:A": ["1"], "test:B": ["3"], "test:C": ["true"]})
    assert not allowed_when(condition, {"test:A": ["1"], "test:B": ["2"], "test:C": ["false"]})


def test_condition_key_names_are_case_insensitive_both_sides() -> None:
    assert allowed_when({"StringEquals": {"AWS:SourceAccount": ACCT}}, {"aws:sourceaccount": [ACCT]})


def test_request_values_may_be_scalars() -> None:
    assert allowed_when({"StringEquals": {"test:K": "v"}}, {"test:K": "v"})  # not read as ["v"]'s letters
    assert allowed_when({"Bool": {"test:K": "true"}}, {"test:K": [True]})


def test_principal_keys_default_from_the_context() -> None:
    condition = {"StringEquals": {"aws:PrincipalAccount": ACCT, "aws:PrincipalArn": BOB}}
    assert allowed_when(condition, {})
    session = request(principal_arn=SESSION)
    policy = identity(allow(Condition={"StringEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/grader"}}))
    assert evaluate(session, [policy]).allowed


# --- the grammar ---------------------------------------------------------------------------------------


def test_parse_shapes() -> None:
    policy = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Id": "x",
                "Statement": {
                    "Sid": "s1",
                    "Effect": "Allow",
                    "Principal": {"AWS": ACCT, "Service": "lambda.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": [FN],
                    "Condition": {"StringEquals": {"aws:SourceAccount": [ACCT, 123]}},
                },
            }
        ),
        name="fn",
        kind=PolicyKind.RESOURCE,
    )
    (statement,) = policy.statements
    assert isinstance(statement, Statement)
    assert statement.actions == ("lambda:InvokeFunction",)
    assert statement.not_actions is None
    assert statement.resources == (FN,)
    assert statement.principals == (("AWS", f"arn:aws:iam::{ACCT}:root"), ("Service", "lambda.amazonaws.com"))
    assert statement.conditions[0].values == (ACCT, "123")
    assert (policy.name, policy.kind, policy.version) == ("fn", PolicyKind.RESOURCE, "2012-10-17")


def test_version_defaults_to_2008() -> None:
    policy = parse_policy({"Statement": [allow()]}, name="p", kind=PolicyKind.IDENTITY)
    assert policy.version == "2008-10-17"


def test_policy_variables_refused_in_2012_literal_in_2008() -> None:
    with pytest.raises(MalformedPolicy, match=r"Statement\[0\]\.Resource: policy variables"):
        identity(allow("*", "arn:aws:s3:::b/${aws:username}/*"))
    old = parse_policy(
        {"Version": "2008-10-17", "Statement": [allow("*", "arn:aws:s3:::b/${x}")]}, name="p", kind=PolicyKind.IDENTITY
    )
    assert evaluate(request(res="arn:aws:s3:::b/${x}"), [old]).allowed


BAD: list[tuple[Any, PolicyKind, str]] = [
    ("{not json", PolicyKind.IDENTITY, "This policy contains invalid Json"),
    ("[]", PolicyKind.IDENTITY, "Policy: the document must be a JSON object"),
    ('{"Statement": [], "Statement": []}', PolicyKind.IDENTITY, "duplicate element 'Statement'"),
    ({"Version": "2012-10-17", "Statements": []}, PolicyKind.IDENTITY, "Policy: unknown element 'Statements'"),
    ({"Version": "2020-01-01", "Statement": []}, PolicyKind.IDENTITY, "Version: must be"),
    ({"Version": "2012-10-17"}, PolicyKind.IDENTITY, "Missing required field Statement"),
    (doc(), PolicyKind.IDENTITY, "Statement: must not be an empty list"),
    ({"Statement": ["x"]}, PolicyKind.IDENTITY, r"Statement[0]: must be an object"),
    (
        doc(allow(), {"Effect": "Allow", "Action": "*"}),
        PolicyKind.IDENTITY,
        "Statement[1]: Missing required field Resource",
    ),
    (doc({"Action": "*", "Resource": "*"}), PolicyKind.IDENTITY, "Statement[0]: Missing required field Effect"),
    (doc(allow(Effect="allow")), PolicyKind.IDENTITY, 'Statement[0].Effect: must be "Allow" or "Deny"'),
    (doc({"Effect": "Allow", "Resource": "*"}), PolicyKind.IDENTITY, "Statement[0]: Missing required field Action"),
    (doc(allow(NotAction="x:y")), PolicyKind.IDENTITY, "Statement[0]: has both Action and NotAction"),
    (doc(allow(actions="*")), PolicyKind.IDENTITY, "Statement[0]: unknown element 'actions'"),
    (doc(allow("GetFile")), PolicyKind.IDENTITY, "Statement[0].Action: 'GetFile': Actions/Conditions must be prefaced"),
    (doc(allow([])), PolicyKind.IDENTITY, "Statement[0].Action: must not be an empty list"),
    (doc(allow(["files:GetFile", 3])), PolicyKind.IDENTITY, "Statement[0].Action: must be a non-empty string"),
    (
        doc(allow("*", "file/*")),
        PolicyKind.IDENTITY,
        'Statement[0].Resource: Resource file/* must be in ARN format or "*"',
    ),
    (doc(allow(Sid="no spaces")), PolicyKind.IDENTITY, "Statement[0].Sid: Statement IDs (SID) must be alpha-numeric"),
    (
        doc(allow(Sid="A"), allow(Sid="A")),
        PolicyKind.IDENTITY,
        "Statement[1].Sid: Statement IDs (SID) in a single policy must be unique",
    ),
    (
        doc(allow(Principal="*")),
        PolicyKind.IDENTITY,
        "Statement[0].Principal: Policy document should not specify a principal",
    ),
    (doc(allow()), PolicyKind.RESOURCE, "Statement[0]: Missing required field Principal"),
    (doc(allow(Principal="*", NotPrincipal="*")), PolicyKind.RESOURCE, "has both Principal and NotPrincipal"),
    (doc(allow(Principal=BOB)), PolicyKind.RESOURCE, 'Statement[0].Principal: must be "*" or an object'),
    (doc(allow(Principal={"User": BOB})), PolicyKind.RESOURCE, "Statement[0].Principal: unknown principal type 'User'"),
    (
        doc(allow(Principal={"AWS": "bob"})),
        PolicyKind.RESOURCE,
        'Statement[0].Principal.AWS: Invalid principal in policy: "AWS":"bob"',
    ),
    (doc(allow(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/*"})), PolicyKind.RESOURCE, "Invalid principal in policy"),
    (
        doc(allow(Principal={"Service": "*.amazonaws.com"})),
        PolicyKind.RESOURCE,
        "Statement[0].Principal.Service: Invalid principal",
    ),
    (doc(allow(Principal={"AWS": []})), PolicyKind.RESOURCE, "Statement[0].Principal.AWS: must not be an empty list"),
    (doc(allow(Principal="*")), PolicyKind.TRUST, "Statement[0].Resource: Has prohibited field Resource"),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), PolicyKind.TRUST, "Missing required field Principal"),
    (doc(allow(Condition=[])), PolicyKind.IDENTITY, "Statement[0].Condition: must be an object of operators"),
    (
        doc(allow(Condition={"StringEqual": {"a:b": "c"}})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.StringEqual: unknown condition operator",
    ),
    (
        doc(allow(Condition={"ForSomeValues:StringEquals": {"a:b": "c"}})),
        PolicyKind.IDENTITY,
        "unknown set operator 'ForSomeValues'",
    ),
    (
        doc(allow(Condition={"NullIfExists": {"a:b": "true"}})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.NullIfExists: Null takes neither",
    ),
    (
        doc(allow(Condition={"StringLike": "x"})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.StringLike: must be an object of condition keys",
    ),
    (
        doc(allow(Condition={"StringLike": {"nokey": "x"}})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.StringLike.nokey: a condition key is prefixed",
    ),
    (
        doc(allow(Condition={"StringLike": {"a:b": []}})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.StringLike.a:b: a condition needs at least one value",
    ),
    (
        doc(allow(Condition={"StringLike": {"a:b": {"x": 1}}})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.StringLike.a:b: a condition value must be",
    ),
    (
        doc(allow(Condition={"NumericLessThan": {"a:b": "ten"}})),
        PolicyKind.IDENTITY,
        "Statement[0].Condition.NumericLessThan.a:b: 'ten' is not a valid value for NumericLessThan",
    ),
    (
        doc(allow(Condition={"DateLessThan": {"a:b": "yesterday"}})),
        PolicyKind.IDENTITY,
        "'yesterday' is not a valid value for DateLessThan",
    ),
    (doc(allow(Condition={"Bool": {"a:b": "yes"}})), PolicyKind.IDENTITY, "'yes' is not a valid value for Bool"),
    (
        doc(allow(Condition={"IpAddress": {"a:b": "10.0.0.0/33"}})),
        PolicyKind.IDENTITY,
        "'10.0.0.0/33' is not a valid value for IpAddress",
    ),
    (doc(allow(Condition={"Null": {"a:b": "maybe"}})), PolicyKind.IDENTITY, "'maybe' is not a valid value for Null"),
]


@pytest.mark.parametrize(("document", "kind", "message"), BAD)
def test_malformed_policy_names_the_element(document: Any, kind: PolicyKind, message: str) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(document, name="p", kind=kind)
    assert message in caught.value.message
    assert caught.value.code == "MalformedPolicyDocument"


def test_size_limits_count_non_whitespace() -> None:
    def sized(n_actions: int) -> dict[str, Any]:
        return doc(allow([f"files:A{i:04d}" for i in range(n_actions)]))

    small = json.dumps(sized(100), indent=8)  # lots of whitespace, which IAM does not count
    assert len(small) > 2048 and len(small.replace(" ", "").replace("\n", "")) < 2048
    parse_policy(small, name="p", kind=PolicyKind.IDENTITY)
    with pytest.raises(MalformedPolicy, match="Cannot exceed quota for PolicySize: 6144"):
        parse_policy(sized(600), name="p", kind=PolicyKind.IDENTITY)
    parse_policy({**sized(600), "Statement": [allow([f"files:A{i:04d}" for i in range(600)], Principal="*")]},
                 name="p", kind=PolicyKind.RESOURCE)  # fmt: skip


# --- AWS's documented examples -------------------------------------------------------------------------


def _example_cases() -> list[Any]:
    return [
        pytest.param(example, item, id=f"{example['name'][:50]}: {item['why'][:40]}")
        for example in EXAMPLES
        for item in example["cases"]
    ]


@pytest.mark.parametrize(("example", "item"), _example_cases())
def test_aws_documented_example(example: dict[str, Any], item: dict[str, Any]) -> None:
    kind = PolicyKind(example["kind"])
    policy = parse_policy(example["policy"], name=example["name"], kind=kind)
    mine = [
        parse_policy(p, name=f"identity{i}", kind=PolicyKind.IDENTITY)
        for i, p in enumerate(example.get("identity", []))
    ]
    if example.get("with_allow_all"):
        mine.append(parse_policy(ALLOW_ALL, name="allow-all", kind=PolicyKind.IDENTITY))
    ctx = RequestContext(
        action=item["action"],
        resource=item["resource"],
        principal_arn=item["principal_arn"],
        principal_account=item["principal_account"],
        principal_service=item.get("principal_service"),
        keys=item["keys"],
    )
    decision = evaluate(ctx, [policy, *mine]) if kind is PolicyKind.IDENTITY else evaluate(ctx, mine, [policy])
    assert decision.effect == item["effect"], item["why"]
    assert decision.allowed is (item["effect"] == "Allow")


def test_trust_statement_naming_the_caller_counts_after_one_naming_the_account() -> None:
    both = parse_policy(
        doc(
            {"Sid": "Acct", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ACCT}},
            {"Sid": "Bob", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": BOB}},
        ),
        name="trust",
        kind=PolicyKind.TRUST,
    )
    assert assume(both) == Decision(True, "Allow", "trust", "Bob", PolicyKind.TRUST)
