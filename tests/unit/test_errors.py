"""The one error table: each domain error's answer on both surfaces."""

from __future__ import annotations

import pytest

from openrft import errors as e
from openrft.api.errors import answer
from openrft.graders.errors import GraderValidationError


@pytest.mark.parametrize(
    ("exc", "openai", "aws"),
    [
        (
            e.InvalidRequest("bad", param="x.y"),
            (400, "invalid_request_error", None),
            (400, "InvalidParameterValueException"),
        ),
        (e.NotFound("gone"), (404, "invalid_request_error", "not_found"), (404, "InvalidParameterValueException")),
        (
            e.ResourceNotFound("gone"),
            (404, "invalid_request_error", "ResourceNotFoundException"),
            (404, "ResourceNotFoundException"),
        ),
        (
            e.PreconditionFailed("rev"),
            (412, "invalid_request_error", "PreconditionFailedException"),
            (412, "PreconditionFailedException"),
        ),
        (
            e.AuthenticationFailed("who"),
            (401, "invalid_request_error", "invalid_api_key"),
            (401, "UnrecognizedClientException"),
        ),
        (
            e.UnrecognizedClient("who"),
            (403, "invalid_request_error", "UnrecognizedClientException"),
            (403, "UnrecognizedClientException"),
        ),
        (
            e.IncompleteSignature("sig"),
            (400, "invalid_request_error", "IncompleteSignatureException"),
            (400, "IncompleteSignatureException"),
        ),
        (e.Unavailable("busy"), (503, "server_error", "unavailable"), (503, "InvalidParameterValueException")),
        (e.GenerationFailed("oom"), (500, "server_error", "generation_failed"), (500, "ServiceException")),
        (
            GraderValidationError("no", param="grader.x"),
            (400, "invalid_request_error", "invalid_grader"),
            (400, "InvalidParameterValueException"),
        ),
    ],
)
def test_each_error_answers_from_the_table(exc: e.OpenRFTError, openai: tuple, aws: tuple) -> None:
    wire = answer(exc, aws=False)
    error = wire.body["error"]
    assert (wire.status, error["type"], error["code"]) == openai
    assert (error["message"], error["param"], wire.headers) == (exc.message, exc.param, {})
    wire = answer(exc, aws=True)
    assert (wire.status, wire.headers["x-amzn-ErrorType"]) == aws
    assert wire.body == {"Type": "User", "message": exc.message}


def test_an_instance_code_overrides_the_class_code() -> None:
    assert answer(e.RequestTooLarge("big", code="file_too_large"), aws=False).body["error"]["code"] == "file_too_large"
    assert answer(e.RequestTooLarge("big", code="file_too_large"), aws=True).headers == {
        "x-amzn-ErrorType": "RequestTooLargeException"
    }


def test_one_reading_of_pydantic_errors() -> None:
    """The path without pydantic's union tags or FastAPI's source, rooted at a prefix; the message bare."""
    from typing import Literal

    from pydantic import BaseModel, ValidationError, field_validator

    from openrft.errors import InvalidParameterValue, field_error, invalid_from

    class Inner(BaseModel):
        n: int | Literal["auto"]

        @field_validator("n", mode="before")
        @classmethod
        def _small(cls, value: object) -> object:
            if isinstance(value, int) and value > 9:
                raise ValueError("must be at most 9")
            return value

    class Outer(BaseModel):
        inner: Inner

    with pytest.raises(ValidationError) as info:
        Outer.model_validate({"inner": {"n": 10}})
    err = field_error(info.value.errors(), prefix="method")
    assert (err.param, err.message, err.kind) == ("method.inner.n", "must be at most 9", "value_error")
    assert err.parts == ["method", "inner", "n"]
    fastapi_style = [{"loc": ("body", "inner", "int", "n"), "msg": "Field required", "type": "missing"}]
    assert field_error(fastapi_style).param == "inner.n"
    aws = invalid_from(fastapi_style, kind=InvalidParameterValue)
    assert isinstance(aws, InvalidParameterValue) and aws.message == "inner.n: Field required"
    assert invalid_from([]).message == "invalid value" and invalid_from([]).param is None
