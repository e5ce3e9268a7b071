"""Lambda ARNs and function references: formatting, parsing, and the account id of a project.

AWS names a function `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`. openrft has no
AWS account, so each project gets a stable 12-digit one: the first 12 decimal digits of
`int(sha256(project_id), 16)` (`account_id("proj_default")` is always the same number, and two projects
collide with probability ~1e-12). The region is fixed (`REGION`), so an ARN never changes.

A reference in a path or a grader may be a name (`my-fn`), a name with a qualifier (`my-fn:3`,
`my-fn:prod`), a partial ARN (`123456789012:function:my-fn[:q]`) or a full ARN.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

REGION = "us-east-1"
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
QUALIFIER_RE = re.compile(r"^(\$LATEST|[0-9]{1,10}|[a-zA-Z0-9_-]{1,128})$")
ALIAS_RE = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")


class InvalidReference(ValueError):
    """A function reference that is not a name, partial ARN or ARN."""


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None = None  # $LATEST | version number | alias name
    account: str | None = None  # set when the reference was an ARN
    region: str | None = None


def account_id(project_id: str) -> str:
    """Stable 12-digit pseudo AWS account id of a project."""
    return f"{int(hashlib.sha256(project_id.encode()).hexdigest(), 16) % 10**12:012d}"


def function_arn(project_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{account_id(project_id)}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def parse_ref(ref: str) -> FunctionRef:
    """`my-fn`, `my-fn:3`, `123456789012:function:my-fn:prod` or `arn:aws:lambda:...` -> FunctionRef."""
    parts = ref.split(":")
    account = region = None
    if parts[0] == "arn":
        if len(parts) not in (7, 8) or parts[1] not in ("aws", "aws-cn", "aws-us-gov") or parts[2] != "lambda":
            raise InvalidReference(f"not a Lambda function ARN: {ref!r}")
        if parts[5] != "function":
            raise InvalidReference(f"not a Lambda function ARN: {ref!r}")
        region, account, rest = parts[3], parts[4], parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        if len(parts) > 4:
            raise InvalidReference(f"not a function reference: {ref!r}")
        account, rest = parts[0], parts[2:]
    else:
        if len(parts) > 2:
            raise InvalidReference(f"not a function reference: {ref!r}")
        rest = parts
    name, qualifier = rest[0], (rest[1] if len(rest) > 1 else None)
    if not NAME_RE.match(name):
        raise InvalidReference(f"function name {name!r} must be 1-64 letters, digits, '-' or '_'")
    if qualifier is not None and not QUALIFIER_RE.match(qualifier):
        raise InvalidReference(f"qualifier {qualifier!r} is not $LATEST, a version number or an alias name")
    if account is not None and not re.fullmatch(r"[0-9]{12}", account):
        raise InvalidReference(f"account {account!r} in {ref!r} is not 12 digits")
    return FunctionRef(name=name, qualifier=qualifier, account=account, region=region)


def is_aws_arn(ref: str, project_id: str) -> bool:
    """An ARN of a real AWS account (not this project's pseudo account): call AWS itself."""
    if not ref.startswith("arn:"):
        return False
    parsed = parse_ref(ref)
    return parsed.account != account_id(project_id)
