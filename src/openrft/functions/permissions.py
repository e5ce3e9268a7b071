"""Lambda resource policies: who else may invoke a function (AddPermission, RemovePermission, GetPolicy).

A function (or one of its versions or aliases: the `Qualifier`) carries a policy made of the statements
AddPermission appended, each shaped as AWS writes it: `{"Sid", "Effect": "Allow", "Principal",
"Action", "Resource": <the function's ARN>, "Condition"}`. The principal given to AddPermission becomes
`{"AWS": "arn:aws:iam::<account>:root"}` for an account id, `{"AWS": <arn>}` for a role or user ARN,
`{"Service": <name>}` for a service (`bedrock.amazonaws.com`), or `"*"`; `SourceArn` and
`SourceAccount` become `ArnLike AWS:SourceArn` and `StringEquals AWS:SourceAccount` conditions, so a
service principal can be tied to one job (the confused-deputy guard AWS recommends).

The policy takes part in every decision on the function (openrft.api.authz), as AWS decides it within
an account: a statement naming the caller itself (its user or role ARN), a service or "*" is enough
even when the caller's own policies say nothing; one naming only the account hands the decision back to
the account's identity policies; a deny in the caller's policies still wins.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import sqlalchemy as sa

from openrft.auth.policy import Policy, PolicyKind, parse_policy, parse_stored
from openrft.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict, ResourceNotFound
from openrft.functions.arn import function_arn
from openrft.functions.registry.rows import require_function, resolve_qualifier
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.db import Store

STATEMENT_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,100}$")
ACTION_RE = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
perms = schema.function_permissions


def _principal(value: str) -> Any:
    if value == "*":
        return "*"
    if ACCOUNT_RE.match(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:"):
        return {"AWS": value}
    if "." in value:  # a service principal: bedrock.amazonaws.com, s3.amazonaws.com, ...
        return {"Service": value}
    raise InvalidParameterValue(
        f"Principal {value!r} must be an account id, an ARN, a service principal or '*'.", param="Principal"
    )


def _target(conn: sa.Connection, project_id: str, name: str, qualifier: str | None) -> str:
    """The ARN the statement is about; the function (and version or alias) must exist."""
    require_function(conn, project_id, name)
    if qualifier:
        resolve_qualifier(conn, project_id, name, qualifier)
    return function_arn(project_id, name, qualifier)


def _revision(conn: sa.Connection, project_id: str, name: str, qualifier: str | None) -> str:
    """The policy's RevisionId: a digest of its statements, so it changes with every one added or removed."""
    digest = hashlib.sha256(json.dumps(_statements(conn, project_id, name, qualifier), sort_keys=True).encode())
    return str(uuid.UUID(digest.hexdigest()[:32]))


def _scope(project_id: str, name: str, qualifier: str | None) -> list[Any]:
    return [perms.c.project_id == project_id, perms.c.function_name == name, perms.c.qualifier == (qualifier or "")]


def add_permission(
    store: Store,
    project_id: str,
    name: str,
    qualifier: str | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    """AddPermission: the statement appended, as AWS returns it."""
    sid = body.get("StatementId")
    if not isinstance(sid, str) or not STATEMENT_ID_RE.match(sid):
        raise InvalidParameterValue("StatementId must be 1-100 letters, digits, '-' or '_'.", param="StatementId")
    action = body.get("Action")
    if not isinstance(action, str) or not ACTION_RE.match(action):
        raise InvalidParameterValue(
            f"Action {action!r} must be lambda:InvokeFunction, another lambda:Action or lambda:*.", param="Action"
        )
    principal = body.get("Principal")
    if not isinstance(principal, str) or not principal:
        raise InvalidParameterValue("Principal is required.", param="Principal")
    condition: dict[str, dict[str, str]] = {}
    if source_arn := body.get("SourceArn"):
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = str(source_arn)
    if source_account := body.get("SourceAccount"):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = str(source_account)
    if org := body.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = str(org)
    with store.begin() as conn:
        resource = _target(conn, project_id, name, qualifier)
        if (revision := body.get("RevisionId")) and revision != _revision(conn, project_id, name, qualifier):
            raise PreconditionFailed(
                "The RevisionId provided does not match the latest RevisionId for the Lambda function or alias."
            )
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": _principal(principal),
            "Action": action,
            "Resource": resource,
        }
        if condition:
            statement["Condition"] = condition
        exists = conn.execute(
            sa.select(perms.c.statement_id).where(*_scope(project_id, name, qualifier), perms.c.statement_id == sid)
        ).first()
        if exists is not None:
            raise ResourceConflict(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        # The whole policy with it, against the grammar the evaluator reads and its 20 KB limit (as AWS's
        # PolicyLengthExceededException): a stored policy always parses, and cannot grow without bound.
        existing = _statements(conn, project_id, name, qualifier)
        parse_policy(_document([*existing, statement]), name=resource, kind=PolicyKind.RESOURCE)
        conn.execute(
            perms.insert().values(
                project_id=project_id,
                function_name=name,
                qualifier=qualifier or "",
                statement_id=sid,
                statement=statement,
                created_at=now_s(),
            )
        )
    return statement


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}


def _statements(conn: sa.Connection, project_id: str, name: str, qualifier: str | None) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(perms.c.statement)
        .where(*_scope(project_id, name, qualifier))
        .order_by(perms.c.created_at, perms.c.statement_id)
    )
    return [dict(row.statement) for row in rows]


def get_policy(store: Store, project_id: str, name: str, qualifier: str | None) -> dict[str, Any]:
    """GetPolicy: the policy document as a JSON string, and its RevisionId."""
    with store.begin() as conn:
        _target(conn, project_id, name, qualifier)
        statements = _statements(conn, project_id, name, qualifier)
        if not statements:
            raise ResourceNotFound("The resource you requested does not exist.")
        return {"Policy": json.dumps(_document(statements)), "RevisionId": _revision(conn, project_id, name, qualifier)}


def remove_permission(
    store: Store, project_id: str, name: str, qualifier: str | None, statement_id: str, revision_id: str | None = None
) -> None:
    with store.begin() as conn:
        _target(conn, project_id, name, qualifier)
        if revision_id and revision_id != _revision(conn, project_id, name, qualifier):
            raise PreconditionFailed(
                "The RevisionId provided does not match the latest RevisionId for the Lambda function or alias."
            )
        gone = conn.execute(
            perms.delete().where(*_scope(project_id, name, qualifier), perms.c.statement_id == statement_id)
        )
        if gone.rowcount == 0:
            raise ResourceNotFound("Statement not found in the policy.")


def resource_policy(conn: sa.Connection, project_id: str, name: str, qualifier: str | None) -> Policy | None:
    """The function's (or version's or alias's) resource policy, parsed for the evaluator; None if empty."""
    statements = _statements(conn, project_id, name, qualifier)
    if not statements:
        return None
    arn = function_arn(project_id, name, qualifier)
    return parse_stored(_document(statements), name=f"{arn} (resource policy)", kind=PolicyKind.RESOURCE)
