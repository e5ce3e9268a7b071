"""The OpenAPI document describes the API: security, every error status, request and response schemas.

`test_openapi_fuzz.py` checks that the server answers as this document says; these tests check that
the document says enough for that to mean something.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from openrft.api.app import create_app
from openrft.api.deps import get_principal
from openrft.settings import Settings
from tests.conftest import LiveServer

SECURITY = [{"Bearer": []}, {"SigV4": []}]
COMMON_ERRORS = {"400", "401", "403", "500"}
BODILESS = {"cancel", "pause", "resume", "archive"}  # POST actions that take no body


@pytest.fixture
def doc(live_server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{live_server.base_url}/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items() for method, op in item.items()]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_security_schemes_are_bearer_and_sigv4(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["Bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["Bearer"]["description"]}
    assert schemes["SigV4"]["type"] == "apiKey" and schemes["SigV4"]["in"] == "header"
    assert schemes["SigV4"]["name"] == "Authorization"
    assert schemes["SigV4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert "/health" not in doc["paths"]
    for method, path, op in operations(doc):
        assert op.get("security") == SECURITY, f"{method} {path}"


def test_no_422_anywhere(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        assert "422" not in op["responses"], f"{method} {path}"
    assert not {"HTTPValidationError", "ValidationError"} & set(doc["components"]["schemas"])


def test_every_error_in_its_surface_shape(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        aws = path.startswith("/2015-03-31/")
        errors = {status: r for status, r in op["responses"].items() if status >= "400"}
        assert set(errors) >= COMMON_ERRORS, f"{method} {path}"
        if "{" in path:
            assert "404" in errors, f"{method} {path}"
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{'AwsErrorResponse' if aws else 'ErrorResponse'}"}
            if aws:
                assert response["headers"]["x-amzn-ErrorType"]["required"] is True, f"{method} {path} {status}"
    error = doc["components"]["schemas"]["ErrorObject"]
    assert set(error["properties"]) == set(error["required"]) == {"message", "type", "param", "code"}
    assert set(doc["components"]["schemas"]["AwsErrorResponse"]["required"]) == {"Type", "message"}


def test_every_body_and_success_has_a_schema(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        where = f"{method} {path}"
        if method in ("POST", "PUT") and path.rsplit("/", 1)[-1] not in BODILESS:
            content = op["requestBody"]["content"]
            assert len(content) == 1, where
            ((media, body),) = content.items()
            schema = resolve(doc, body["schema"])
            if not path.endswith("/invocations"):  # an event is any JSON value
                assert schema["type"] == "object" and schema["properties"], where
            if media == "multipart/form-data":
                assert schema["properties"]["file"]["format"] == "binary"
        else:
            assert "requestBody" not in op, where
        ((status, success),) = [(s, r) for s, r in op["responses"].items() if s < "300"][:1]
        if method == "DELETE" and path.startswith("/2015-03-31/"):
            assert status == "204" and "content" not in success, where
            continue
        media_types = success["content"]
        if "application/json" in media_types and not path.endswith("/invocations"):
            schema = resolve(doc, media_types["application/json"]["schema"])
            assert schema["type"] == "object" and schema["properties"], where
        else:
            assert set(media_types) <= {"application/octet-stream", "application/zip", "application/json"}, where


def test_the_documented_security_applies(live_server: LiveServer, doc: dict[str, Any]) -> None:
    """Every operation in the document refuses a request without credentials, in its surface's shape."""
    for method, path, _op in operations(doc):
        url = live_server.base_url + path.replace("{", "").replace("}", "")
        response = httpx.request(method, url, json={} if method in ("POST", "PUT") else None)
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        if path.startswith("/2015-03-31/"):
            assert response.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"
            assert set(response.json()) == {"Type", "message"}
        else:
            assert response.json()["error"]["code"] == "invalid_api_key"


def calls(dependant: Dependant) -> set[Any]:
    return {dependant.call} | {call for sub in dependant.dependencies for call in calls(sub)}


def test_every_route_but_health_needs_a_caller(settings: Settings) -> None:
    """Also the routes left out of the document (the Lambda paths' trailing-slash twins)."""
    app = create_app(settings, embedded_worker=False)
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path != "/health":
            assert get_principal in calls(route.dependant), f"{route.methods} {route.path}"


@pytest.mark.parametrize("signature", ["AWS4-HMAC-SHA256 nonsense", "AWS4-HMAC-SHA256 Credential=admin/x"])
def test_a_bad_signature_on_v1_is_an_openai_error(live_server: LiveServer, signature: str) -> None:
    response = httpx.get(f"{live_server.v1}/files", headers={"Authorization": signature})
    assert response.status_code == 400 and "x-amzn-ErrorType" not in response.headers
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == "IncompleteSignatureException"
