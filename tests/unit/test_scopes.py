"""Scopes of restricted keys: each permissions mode and level, and the coverings, worked by hand."""

from __future__ import annotations

import pytest

from openrft.auth.keys import Principal
from openrft.auth.scopes import LEVELS, SCOPE_OF, missing_scopes, scope_of, scopes_for
from openrft.errors import InvalidRequest


def key(scopes: list[str] | None, *, is_admin: bool = False) -> Principal:
    return Principal(
        key_id="key_test",
        project_id="proj_test",
        is_admin=is_admin,
        scopes=frozenset(scopes) if scopes is not None else None,
    )


def test_modes_all_and_read_only() -> None:
    assert scopes_for("all") is None
    assert scopes_for("all", {}) is None
    assert scopes_for("read_only") == ["api.all.read"]
    assert scopes_for("restricted") == []
    assert scopes_for("restricted", {}) == []


@pytest.mark.parametrize(
    ("resource", "level", "scopes"),
    [
        ("models", "read", ["api.model.read"]),
        ("models", "write", ["api.model.read", "api.model.write"]),
        ("model_capabilities", "write", ["api.model.request"]),
        ("fine_tuning", "read", ["api.fine_tuning.jobs.read"]),
        ("fine_tuning", "write", ["api.fine_tuning.jobs.read", "api.fine_tuning.jobs.write"]),
        ("files", "read", ["api.files.read"]),
        ("files", "write", ["api.files.read", "api.files.write"]),
        ("evals", "read", ["api.evals.read"]),
        ("evals", "write", ["api.evals.read", "api.evals.write"]),
        ("functions", "read", ["api.functions.read"]),
        ("functions", "write", ["api.functions.read", "api.functions.write", "api.functions.invoke"]),
        ("functions", "invoke", ["api.functions.invoke"]),
        ("iam", "read", ["api.iam.read"]),
        ("iam", "write", ["api.iam.read", "api.iam.write"]),
        ("audit", "read", ["api.audit.read"]),
    ],
)
def test_each_resource_level(resource: str, level: str, scopes: list[str]) -> None:
    assert scopes_for("restricted", {resource: level}) == scopes
    assert scopes_for("restricted", {resource: "none"}) == []


def test_levels_combine_in_table_order_without_repeats() -> None:
    granted = scopes_for(
        "restricted",
        {"model_capabilities": "write", "models": "read", "files": "none", "functions": "invoke", "audit": "read"},
    )
    # The resources' order as given, each level's scopes in the table's order.
    assert granted == ["api.model.request", "api.model.read", "api.functions.invoke", "api.audit.read"]
    both = scopes_for("restricted", {"functions": "write", "models": "write"})
    assert both == [
        "api.functions.read",
        "api.functions.write",
        "api.functions.invoke",
        "api.model.read",
        "api.model.write",
    ]


@pytest.mark.parametrize(
    ("permissions", "resources", "param"),
    [
        ("everything", None, "permissions"),
        ("restricted", {"modelz": "read"}, "resources.modelz"),
        ("restricted", {"models": "admin"}, "resources.models"),
        ("restricted", {"model_capabilities": "read"}, "resources.model_capabilities"),
        ("restricted", {"audit": "write"}, "resources.audit"),
        ("restricted", {"files": "invoke"}, "resources.files"),
        ("restricted", {"models": 1}, "resources.models"),
        ("all", {"models": "read"}, "resources"),
        ("read_only", {"models": "read"}, "resources"),
    ],
)
def test_invalid_permissions_name_the_field(permissions: str, resources: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        scopes_for(permissions, resources)
    assert caught.value.param == param


def test_scope_of_the_contracts_actions() -> None:
    assert scope_of("fine_tuning:CreateJob") == "api.fine_tuning.jobs.write"
    assert scope_of("fine_tuning:ListJobEvents") == "api.fine_tuning.jobs.read"
    assert scope_of("fine_tuning:RunGrader") == "api.fine_tuning.jobs.write"
    assert scope_of("models:InvokeModel") == "api.model.request"
    assert scope_of("models:DeleteModel") == "api.model.write"
    assert scope_of("files:GetFileContent") == "api.files.read"
    assert scope_of("evals:CreatePreflight") == "api.evals.write"
    assert scope_of("evals:GetReviewQueue") == "api.evals.read"
    assert scope_of("lambda:InvokeFunction") == "api.functions.invoke"
    assert scope_of("lambda:AddPermission") == "api.functions.write"
    assert scope_of("lambda:GetPolicy") == "api.functions.read"
    assert scope_of("iam:GetPolicy") == "api.iam.read"
    assert scope_of("iam:AttachRolePolicy") == "api.iam.write"
    assert scope_of("sts:AssumeRole") == "api.iam.write"
    assert scope_of("audit:ListAuditLogs") == "api.audit.read"
    for free in ("sts:GetCallerIdentity", "iam:PassRole", "organization:CreateProject"):
        assert scope_of(free) is None, free
    # IAM and Lambda name actions AWS's way: an action not in the table yet gets its access level's scope.
    assert scope_of("iam:ListRoleTags") == "api.iam.read"
    assert scope_of("iam:TagRole") == "api.iam.write"
    assert scope_of("lambda:ListTags") == "api.functions.read"
    with pytest.raises(KeyError, match="files:Frobnicate"):
        scope_of("files:Frobnicate")


def test_every_query_operation_has_a_scope() -> None:
    from openrft.api.awsquery.router import OPERATIONS

    actions = {op.action for ops in OPERATIONS.values() for op in ops.values() if op.action is not None}
    assert {"iam:CreateRole", "sts:AssumeRole"} <= actions
    assert {a: scope_of(a) for a in actions if a not in SCOPE_OF} == {}  # each named in the table itself


def test_every_scope_in_the_table_is_one_a_level_grants() -> None:
    granted = {s for levels in LEVELS.values() for scopes in levels.values() for s in scopes}
    assert {s for s in SCOPE_OF.values() if s is not None} == granted


def test_missing_scopes_all_admin_and_read_only() -> None:
    assert missing_scopes(key(None), "fine_tuning:CreateJob") == []
    assert missing_scopes(key([], is_admin=True), "fine_tuning:CreateJob") == []
    read_only = key(["api.all.read"])
    assert missing_scopes(read_only, "models:ListModels") == []
    assert missing_scopes(read_only, "fine_tuning:ListJobs") == []
    assert missing_scopes(read_only, "audit:ListAuditLogs") == []
    assert missing_scopes(read_only, "fine_tuning:CreateJob") == ["api.fine_tuning.jobs.write"]
    assert missing_scopes(read_only, "models:InvokeModel") == ["api.model.request"]
    assert missing_scopes(read_only, "lambda:InvokeFunction") == ["api.functions.invoke"]
    assert missing_scopes(read_only, "sts:GetCallerIdentity") == []


def test_missing_scopes_restricted() -> None:
    inference = key(scopes_for("restricted", {"models": "read", "model_capabilities": "write"}))
    assert missing_scopes(inference, "models:InvokeModel") == []
    assert missing_scopes(inference, "models:ListModels") == []
    assert missing_scopes(inference, "models:DeleteModel") == ["api.model.write"]
    assert missing_scopes(inference, "files:ListFiles") == ["api.files.read"]
    # A write scope covers its read even when the read was not recorded (a hand-made scope list).
    writer = key(["api.files.write"])
    assert missing_scopes(writer, "files:GetFile") == []
    assert missing_scopes(writer, "files:CreateFile") == []
    # ...but not invoke: the functions write level grants invoke explicitly.
    assert missing_scopes(key(["api.functions.write"]), "lambda:InvokeFunction") == ["api.functions.invoke"]
    invoker = key(scopes_for("restricted", {"functions": "invoke"}))
    assert missing_scopes(invoker, "lambda:InvokeFunction") == []
    assert missing_scopes(invoker, "lambda:GetFunction") == ["api.functions.read"]
    nothing = key([])
    assert missing_scopes(nothing, "models:ListModels") == ["api.model.read"]
    assert missing_scopes(nothing, "sts:GetCallerIdentity") == []
