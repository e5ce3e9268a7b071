"""One query-protocol operation: the IAM action it is, the resource it acts on, and what it does.

`run_operation` is the whole life of one call once the caller is known: name the resource, decide the
action on it (`openrft.api.authz.check`: scopes, rate limit, policies, the audit record of the
decision), run it. Its mutation is recorded by openrft.api.auditing in the same transaction as the
change, under the operation's own event name (`iam.role.created`); a refused or failed one as failed.
Blocking (database): the router calls it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from openrft.api.awsquery.access import CallerInfo, check
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import InvalidRequest


@dataclass(frozen=True)
class OpCall:
    ctx: AppContext
    principal: Principal
    params: Mapping[str, Any]
    info: CallerInfo

    @property
    def project_id(self) -> str:
        return self.principal.project_id


@dataclass(frozen=True)
class Operation:
    """`action` None: no permission needed (GetCallerIdentity); `checks_itself`: `run` decides (AssumeRole)."""

    action: str | None
    resource: Callable[[OpCall], str]
    run: Callable[[OpCall], dict[str, Any]]
    event: str | None = None  # the audit type of a mutation ("iam.role.created"); None for a read
    keys: Callable[[OpCall], Mapping[str, Sequence[str]]] | None = None  # the action's own condition keys
    unsupported: tuple[str, ...] = ()  # input members openrft does not implement: refused when given
    checks_itself: bool = False


def refuse_unsupported(op: Operation, params: Mapping[str, Any]) -> None:
    given = [name for name in op.unsupported if name in params]
    if given:
        raise InvalidRequest(f"{given[0]} is not supported by openrft.", param=given[0], code="InvalidInput")


def run_operation(op: Operation, call: OpCall) -> dict[str, Any]:
    refuse_unsupported(op, call.params)
    resource = op.resource(call)
    if op.action is not None and not op.checks_itself:
        keys = op.keys(call) if op.keys else None
        check(call.ctx, call.principal, call.info, op.action, resource, keys=keys)
    pending = call.info.pending  # the request's mutation record (openrft.api.auditing), armed by `check`
    if op.event is not None and pending is not None and pending.event is not None:
        pending.event = replace(pending.event, type=op.event)  # IAM's own name for what it changed
    return op.run(call)
