"""The query protocol codec against botocore itself: its serializer writes the forms we parse, its parser
reads the XML we write (no server, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.parsers
import botocore.serialize
import pytest

from openrft import errors as e
from openrft.api.awsquery.errors import query_error
from openrft.api.awsquery.protocol import error_xml, operation_model, parse_params, response_xml, service_model


def botocore_form(service: str, action: str, params: dict[str, Any]) -> dict[str, str]:
    """The form body botocore's own QuerySerializer sends for these parameters."""
    model = operation_model(service, action)
    request = botocore.serialize.QuerySerializer().serialize_to_request(params, model)
    return {str(k): str(v) for k, v in request["body"].items()}  # botocore keeps the form as a dict


def botocore_parse(service: str, action: str, xml: str, status: int = 200) -> dict[str, Any]:
    model = operation_model(service, action)
    response = {"body": xml.encode(), "status_code": status, "headers": {}}
    parsed: dict[str, Any] = botocore.parsers.QueryParser().parse(response, model.output_shape)
    return parsed


def test_forms_as_botocore_writes_them() -> None:
    params = {
        "RoleName": "r",
        "AssumeRolePolicyDocument": "{}",
        "MaxSessionDuration": 7200,
        "Tags": [{"Key": "team", "Value": "rl"}, {"Key": "env", "Value": "dev"}],
    }
    form = botocore_form("iam", "CreateRole", params)
    assert form["Tags.member.2.Key"] == "env" and form["MaxSessionDuration"] == "7200"
    assert parse_params(operation_model("iam", "CreateRole"), form) == params  # 7200 back as an int
    listed = parse_params(
        operation_model("iam", "ListPolicies"), botocore_form("iam", "ListPolicies", {"OnlyAttached": True})
    )
    assert listed == {"OnlyAttached": True}
    with pytest.raises(e.InvalidRequest, match="'roleName' failed to satisfy constraint: Member must not be null"):
        parse_params(operation_model("iam", "GetRole"), {"Action": "GetRole"})
    with pytest.raises(e.InvalidRequest, match="Member must be a number"):
        parse_params(
            operation_model("sts", "AssumeRole"), {"RoleArn": "a", "RoleSessionName": "s", "DurationSeconds": "x"}
        )


def test_replies_as_botocore_reads_them() -> None:
    created = datetime(2026, 12, 2, 2, 7, 40, tzinfo=UTC)
    result = {
        "Roles": [{"Path": "/", "RoleName": "a&b", "RoleId": "AROA1", "Arn": "arn:x", "CreateDate": 1796177260}],
        "IsTruncated": True,
        "Marker": "m",
    }
    xml = response_xml("iam", operation_model("iam", "ListRoles"), result, "req_1")
    assert xml.startswith('<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult>')
    assert "<RoleName>a&amp;b</RoleName>" in xml and "<CreateDate>2026-12-02T02:07:40Z</CreateDate>" in xml
    parsed = botocore_parse("iam", "ListRoles", xml)
    assert parsed["Roles"][0]["RoleName"] == "a&b" and parsed["Roles"][0]["CreateDate"] == created
    assert (parsed["IsTruncated"], parsed["Marker"], parsed["ResponseMetadata"]["RequestId"]) == (True, "m", "req_1")
    assert service_model("sts").metadata["apiVersion"] == "2011-06-15"


@pytest.mark.parametrize(
    ("service", "exc", "expected"),
    [
        ("iam", e.NoSuchEntity("gone"), (404, "NoSuchEntity")),
        ("iam", e.EntityAlreadyExists("taken"), (409, "EntityAlreadyExists")),
        ("iam", e.DeleteConflict("attached"), (409, "DeleteConflict")),
        ("iam", e.MalformedPolicy("Statement[0].Effect: ..."), (400, "MalformedPolicyDocument")),
        ("sts", e.MalformedPolicy("x"), (400, "MalformedPolicyDocument")),
        ("iam", e.InvalidRequest("x", code="InvalidInput"), (400, "InvalidInput")),
        ("sts", e.InvalidRequest("x", code="InvalidInput"), (400, "ValidationError")),  # STS has no InvalidInput
        ("iam", e.InvalidRequest("x"), (400, "ValidationError")),
        ("iam", e.AccessDenied("no"), (403, "AccessDenied")),
        ("sts", e.ExpiredToken("old"), (403, "ExpiredToken")),
        ("iam", e.InvalidSignature("bad"), (403, "SignatureDoesNotMatch")),
        ("iam", e.UnrecognizedClient("who"), (403, "InvalidClientTokenId")),
        ("iam", e.ServerFault("bug"), (500, "ServiceFailure")),
    ],
)
def test_error_codes(service: str, exc: e.OpenRFTError, expected: tuple[int, str]) -> None:
    status, code, sender = query_error(service, exc)
    assert (status, code) == expected and sender == (status < 500)
    xml = error_xml(service, code, exc.message, "req_2", sender=sender)
    model = operation_model(service, "GetRole" if service == "iam" else "AssumeRole")
    parsed = botocore.parsers.QueryParser().parse(
        {"body": xml.encode(), "status_code": status, "headers": {}}, model.output_shape
    )
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"]) == (code, exc.message)
    assert parsed["ResponseMetadata"]["RequestId"] == "req_2"
