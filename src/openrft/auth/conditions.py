"""IAM condition operators: the `Condition` block of a policy statement, parsed and evaluated.

A block is `{operator: {key: value | [values]}}`. Every (operator, key) pair is one `Condition`; a
statement's conditions are ANDed, and the values of one key are ORed (`StringEquals aws:SourceAccount
["1", "2"]` holds for either account). Key names are case-insensitive (`AWS:SourceArn` is
`aws:SourceArn`); values compare as each operator says.

Operators: `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`,
`StringLike`, `StringNotLike` (`*` and `?` wildcards, case-sensitive); `NumericEquals`,
`NumericNotEquals`, `NumericLessThan(Equals)`, `NumericGreaterThan(Equals)`; `DateEquals`,
`DateNotEquals`, `DateLessThan(Equals)`, `DateGreaterThan(Equals)` (ISO 8601 or epoch seconds, either
side); `Bool`; `IpAddress`, `NotIpAddress` (IPv4 and IPv6 CIDRs; a bare address is a /32 or /128);
`ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike` (each of an ARN's six colon-separated parts
matched on its own, with wildcards: AWS documents `ArnEquals` and `ArnLike` as the same test); `Null`.
Any but `Null` takes the `IfExists` suffix and the `ForAnyValue:` / `ForAllValues:` prefixes.

A key absent from the request (or present with no values) makes a condition false, except: a negated
operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) is true, `...IfExists` is true,
`ForAllValues:` is true and `ForAnyValue:` is false (AWS's rules, in that order of precedence), and
`Null` is true when its value says `"true"`. With a key of several values and no prefix, a positive
operator holds when any value matches and a negated one when none does. A value the operator cannot
read (`"ten"` for `NumericLessThan`) never matches, so only negated operators hold on it.

Not supported: `BinaryEquals`, policy variables (`${aws:username}`) in values — see openrft.auth.policy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from openrft.errors import MalformedPolicy

QUALIFIERS = ("ForAnyValue", "ForAllValues")
IF_EXISTS = "IfExists"
EPOCH_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def glob(pattern: str) -> re.Pattern[str]:
    """`*` any run of characters, `?` any one, the rest literal; matched against the whole string."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@lru_cache(maxsize=4096)
def _instant(text: str) -> Decimal | None:
    """A date as epoch seconds: ISO 8601 (a date, or a time with or without zone: UTC if none) or epoch."""
    text = text.strip()
    if EPOCH_RE.match(text):
        return Decimal(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - EPOCH
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _in_network(value: str, cidr: str) -> bool:
    network = _network(cidr)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


def _arn_like(value: str, pattern: str) -> bool:
    """Each of the six parts of an ARN against the same part of the pattern; a non-ARN matches nothing."""
    have, want = value.split(":", 5), pattern.split(":", 5)
    if len(have) != 6 or len(want) != 6:
        return False
    return all(glob(p).fullmatch(h) is not None for h, p in zip(have, want, strict=True))


def _compare(test: Callable[[Decimal, Decimal], bool], read: Callable[[str], Decimal | None]) -> Match:
    def match(value: str, policy_value: str) -> bool:
        left, right = read(value), read(policy_value)
        return left is not None and right is not None and test(left, right)

    return match


Match = Callable[[str, str], bool]  # (request value, policy value) -> does the positive test hold


@dataclass(frozen=True)
class Operator:
    """One base operator: its positive test, whether the name negates it, and what a policy value must be."""

    match: Match
    negated: bool = False
    check: Callable[[str], bool] = lambda _value: True  # a policy value this operator can read


def _is_number(text: str) -> bool:
    return _number(text) is not None


def _is_date(text: str) -> bool:
    return _instant(text) is not None


def _is_bool(text: str) -> bool:
    return text.lower() in ("true", "false")


def _is_network(text: str) -> bool:
    return _network(text) is not None


def _operators() -> dict[str, Operator]:
    def equals(a: str, b: str) -> bool:
        return a == b

    def equals_ic(a: str, b: str) -> bool:
        return a.casefold() == b.casefold()

    def like(a: str, b: str) -> bool:
        return glob(b).fullmatch(a) is not None

    def bool_equals(a: str, b: str) -> bool:
        return a.lower() == b.lower()

    def numeric(test: Callable[[Decimal, Decimal], bool], negated: bool = False) -> Operator:
        return Operator(_compare(test, _number), negated, _is_number)

    def date(test: Callable[[Decimal, Decimal], bool], negated: bool = False) -> Operator:
        return Operator(_compare(test, _instant), negated, _is_date)

    return {
        "StringEquals": Operator(equals),
        "StringNotEquals": Operator(equals, negated=True),
        "StringEqualsIgnoreCase": Operator(equals_ic),
        "StringNotEqualsIgnoreCase": Operator(equals_ic, negated=True),
        "StringLike": Operator(like),
        "StringNotLike": Operator(like, negated=True),
        "NumericEquals": numeric(lambda a, b: a == b),
        "NumericNotEquals": numeric(lambda a, b: a == b, negated=True),
        "NumericLessThan": numeric(lambda a, b: a < b),
        "NumericLessThanEquals": numeric(lambda a, b: a <= b),
        "NumericGreaterThan": numeric(lambda a, b: a > b),
        "NumericGreaterThanEquals": numeric(lambda a, b: a >= b),
        "DateEquals": date(lambda a, b: a == b),
        "DateNotEquals": date(lambda a, b: a == b, negated=True),
        "DateLessThan": date(lambda a, b: a < b),
        "DateLessThanEquals": date(lambda a, b: a <= b),
        "DateGreaterThan": date(lambda a, b: a > b),
        "DateGreaterThanEquals": date(lambda a, b: a >= b),
        "Bool": Operator(bool_equals, check=_is_bool),
        "IpAddress": Operator(_in_network, check=_is_network),
        "NotIpAddress": Operator(_in_network, negated=True, check=_is_network),
        "ArnEquals": Operator(_arn_like),
        "ArnLike": Operator(_arn_like),
        "ArnNotEquals": Operator(_arn_like, negated=True),
        "ArnNotLike": Operator(_arn_like, negated=True),
    }


OPERATORS: dict[str, Operator] = _operators()


@dataclass(frozen=True)
class Condition:
    """One operator applied to one key, e.g. `ForAnyValue:StringLikeIfExists` on `aws:TagKeys`."""

    operator: str  # as written in the policy
    key: str  # as written; compared case-insensitively
    values: tuple[str, ...]
    base: str  # the operator without prefix and suffix: "StringLike", "Null", ...
    qualifier: str | None = None  # "ForAnyValue" | "ForAllValues"
    if_exists: bool = False

    def holds(self, context: Mapping[str, Sequence[str]]) -> bool:
        """Whether the condition is true for `context` (keys lower-cased, values as strings)."""
        present = tuple(context.get(self.key.lower(), ()))
        if self.base == "Null":
            return any((value.lower() == "true") == (not present) for value in self.values)
        if not present:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return OPERATORS[self.base].negated
        if self.qualifier == "ForAllValues":
            return all(self._holds_for(value) for value in present)
        if self.qualifier == "ForAnyValue" or not OPERATORS[self.base].negated:
            return any(self._holds_for(value) for value in present)
        return all(self._holds_for(value) for value in present)  # negated, no prefix: no value matches

    def _holds_for(self, value: str) -> bool:
        operator = OPERATORS[self.base]
        matched = any(operator.match(value, wanted) for wanted in self.values)
        return matched != operator.negated


def scalar(value: Any) -> str | None:
    """A JSON scalar as IAM reads it (`true` -> "true", `10` -> "10"); None for what is not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _split_operator(name: str, path: str) -> tuple[str | None, str, bool]:
    qualifier: str | None = None
    rest = name
    if ":" in name:
        qualifier, rest = name.split(":", 1)
        if qualifier not in QUALIFIERS:
            raise MalformedPolicy(f"{path}: unknown set operator {qualifier!r} (ForAnyValue or ForAllValues).")
    if_exists = rest.endswith(IF_EXISTS) and rest != IF_EXISTS
    base = rest[: -len(IF_EXISTS)] if if_exists else rest
    if base != "Null" and base not in OPERATORS:
        raise MalformedPolicy(f"{path}: unknown condition operator {name!r}.")
    if base == "Null" and (if_exists or qualifier):
        raise MalformedPolicy(f"{path}: Null takes neither IfExists nor a ForAnyValue/ForAllValues prefix.")
    return qualifier, base, if_exists


def _values(raw: Any, path: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicy(f"{path}: a condition needs at least one value.")
    values = []
    for item in items:
        value = scalar(item)
        if value is None:
            raise MalformedPolicy(f"{path}: a condition value must be a string, number or boolean, not {item!r}.")
        values.append(value)
    return tuple(values)


def parse_conditions(block: Any, path: str) -> tuple[Condition, ...]:
    """The `Condition` element at `path` ("Statement[0].Condition"); MalformedPolicy naming what is wrong."""
    if not isinstance(block, Mapping) or not block:
        raise MalformedPolicy(f"{path}: must be an object of operators, e.g. {{'StringEquals': {{key: value}}}}.")
    conditions = []
    for name, keys in block.items():
        where = f"{path}.{name}"
        qualifier, base, if_exists = _split_operator(name, where)
        if not isinstance(keys, Mapping) or not keys:
            raise MalformedPolicy(f"{where}: must be an object of condition keys to values.")
        for key, raw in keys.items():
            at = f"{where}.{key}"
            if not key or ":" not in key:
                raise MalformedPolicy(f"{at}: a condition key is prefixed by its service, e.g. aws:SourceIp.")
            values = _values(raw, at)
            check = _is_bool if base == "Null" else OPERATORS[base].check
            for value in values:
                if not check(value):
                    raise MalformedPolicy(f"{at}: {value!r} is not a valid value for {base}.")
            conditions.append(Condition(name, key, values, base, qualifier, if_exists))
    return tuple(conditions)
