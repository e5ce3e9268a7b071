"""AWS's query protocol, read and written from botocore's own service models (`iam`, `sts`).

A request is a form body: `Action=CreateRole&Version=2010-05-08&RoleName=r&Tags.member.1.Key=k`;
`parse_params` turns it into the operation's input structure (lists `Name.member.N`, maps
`Name.entry.N.key|value`, nested structures `Name.Member`, names as the model serializes them), with
the model's types (integers, booleans, timestamps) and its required members checked.

A reply is XML in the shape botocore's `QueryParser` reads: `<{Op}Response xmlns=...><{Op}Result>`
(the output shape's `resultWrapper`) holding the output structure, then `<ResponseMetadata>
<RequestId>`. An error is `<ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>...`
`</Message></Error><RequestId>...</RequestId></ErrorResponse>`; botocore raises the model's exception
class for the code (`NoSuchEntity` -> `client.exceptions.NoSuchEntityException`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from openrft.errors import InvalidRequest

SERVICES = ("iam", "sts")


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, action: str) -> OperationModel | None:
    model = service_model(service)
    return model.operation_model(action) if action in model.operation_names else None


# ---- requests -----------------------------------------------------------------------------------------


def validation_error(message: str, param: str | None = None) -> InvalidRequest:
    """A parameter the model's constraints refuse: AWS's `ValidationError` on the query protocol."""
    return InvalidRequest(message, param=param, code="ValidationError")


def _member_key(name: str, shape: Shape) -> str:
    return str(shape.serialization.get("name", name))


def _scalar(shape: Shape, raw: str, key: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise validation_error(
                f"Value '{raw}' at '{key}' failed to satisfy constraint: Member must be a number."
            ) from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise validation_error(f"Value '{raw}' at '{key}' failed to satisfy constraint: Member must be a boolean.")
        return raw.lower() == "true"
    if kind == "timestamp":
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise validation_error(
                f"Value '{raw}' at '{key}' failed to satisfy constraint: not an ISO 8601 time."
            ) from None
    if kind == "blob":
        return base64.b64decode(raw)
    return raw


def _parse(shape: Shape, form: Mapping[str, str], prefix: str) -> Any:
    """The value under `prefix` in the flattened form, or None when nothing is there."""
    if shape.type_name == "structure":
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = f"{prefix}.{_member_key(name, member)}" if prefix else _member_key(name, member)
            value = _parse(member, form, key)
            if value is not None:
                out[name] = value
        return out if out or not prefix else None
    if shape.type_name == "list":
        member = shape.member
        base = (
            prefix if shape.serialization.get("flattened") else f"{prefix}.{member.serialization.get('name', 'member')}"
        )
        if form.get(prefix) == "":  # an empty list is sent as `Name=`
            return []
        items = []
        index = 1
        while (value := _parse(member, form, f"{base}.{index}")) is not None:
            items.append(value)
            index += 1
        return items or None
    if shape.type_name == "map":
        entries: dict[str, Any] = {}
        index = 1
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        while (entry := form.get(f"{base}.{index}.key")) is not None:
            entries[entry] = _parse(shape.value, form, f"{base}.{index}.value")
            index += 1
        return entries or None
    raw = form.get(prefix)
    return None if raw is None else _scalar(shape, raw, prefix)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def parse_params(operation: OperationModel, form: Mapping[str, str]) -> dict[str, Any]:
    """The operation's input from the form; a ValidationError naming a missing required member."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = _parse(shape, form, "") or {}
    for name in shape.required_members:
        if name not in params:
            raise validation_error(
                f"1 validation error detected: Value null at '{_lower_first(name)}' failed to satisfy "
                "constraint: Member must not be null",
                param=name,
            )
    return params


# ---- responses ----------------------------------------------------------------------------------------


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(shape: Shape, value: Any) -> str:
    """The content of the element that holds `value` (its tag is written by the caller)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        parts = []
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                parts.append(_element(_member_key(name, member), member, value[name]))
        return "".join(parts)
    if kind == "list":
        member = shape.member
        tag = member.serialization.get("name", "member")
        return "".join(_element(tag, member, item) for item in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(k))}</key>{_element('value', shape.value, v)}</entry>" for k, v in value.items()
        )
    if kind == "timestamp":
        return _iso(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(value).decode()
    return escape(str(value))


def _element(tag: str, shape: Shape, value: Any) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        member = shape.member
        return "".join(_element(tag, member, item) for item in value)
    return f"<{tag}>{_xml(shape, value)}</{tag}>"


def response_xml(service: str, operation: OperationModel, result: Mapping[str, Any], request_id: str) -> str:
    namespace = service_model(service).metadata["xmlNamespace"]
    name = operation.name
    body = ""
    if operation.output_shape is not None:
        wrapper = operation.output_shape.serialization.get("resultWrapper", f"{name}Result")
        body = f"<{wrapper}>{_xml(operation.output_shape, result)}</{wrapper}>"
    metadata = f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
    return f'<{name}Response xmlns="{namespace}">{body}{metadata}</{name}Response>'


def error_xml(service: str, code: str, message: str, request_id: str, *, sender: bool = True) -> str:
    namespace = service_model(service).metadata["xmlNamespace"]
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    )
