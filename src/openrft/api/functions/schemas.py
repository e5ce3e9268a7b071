"""Request bodies of the Lambda API, with AWS's field names (botocore's lambda service model).

Only the fields a reward function needs are read; the rest of AWS's many options are accepted and
ignored (they do not change how a function runs here), except where ignoring them would surprise:
S3 code, container images and weighted alias routing are refused with InvalidParameterValueException.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openrft.api.errors import AwsError


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EnvironmentIn(_Body):
    Variables: dict[str, str] = Field(default_factory=dict)


class FunctionCodeIn(_Body):
    ZipFile: str | None = None  # base64, as botocore serializes a blob in JSON
    S3Bucket: str | None = None
    S3Key: str | None = None
    ImageUri: str | None = None


class CreateFunctionIn(_Body):
    FunctionName: str
    Runtime: str | None = None
    Role: str | None = None
    Handler: str | None = None
    Code: FunctionCodeIn
    Description: str = ""
    Timeout: int = 3
    MemorySize: int = 128
    Publish: bool = False
    PackageType: str = "Zip"
    Environment: EnvironmentIn | None = None


class UpdateFunctionCodeIn(_Body):
    ZipFile: str | None = None
    S3Bucket: str | None = None
    ImageUri: str | None = None
    Publish: bool = False
    DryRun: bool = False
    RevisionId: str | None = None


class UpdateFunctionConfigurationIn(_Body):
    Role: str | None = None
    Handler: str | None = None
    Description: str | None = None
    Timeout: int | None = None
    MemorySize: int | None = None
    Environment: EnvironmentIn | None = None
    Runtime: str | None = None
    RevisionId: str | None = None


class PublishVersionIn(_Body):
    CodeSha256: str | None = None
    Description: str | None = None
    RevisionId: str | None = None


class RoutingConfigIn(_Body):
    AdditionalVersionWeights: dict[str, float] | None = None


class CreateAliasIn(_Body):
    Name: str
    FunctionVersion: str
    Description: str = ""
    RoutingConfig: RoutingConfigIn | None = None


class UpdateAliasIn(_Body):
    FunctionVersion: str | None = None
    Description: str | None = None
    RoutingConfig: RoutingConfigIn | None = None
    RevisionId: str | None = None


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes) -> M:
    """JSON body -> model; any problem is AWS's 400 InvalidParameterValueException naming the field."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first: dict[str, Any] = dict(exc.errors()[0])
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise AwsError(400, "InvalidParameterValueException", f"{where}: {first['msg']}") from exc


def decode_zip(value: str | None, *, s3: str | None = None, image: str | None = None) -> bytes:
    if s3 or image:
        raise AwsError(
            400,
            "InvalidParameterValueException",
            "Only Code.ZipFile is supported here (no S3 code, no container images): send the zip inline.",
        )
    if not value:
        raise AwsError(400, "InvalidParameterValueException", "Code.ZipFile is required (base64 of a zip).")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AwsError(400, "InvalidParameterValueException", "Code.ZipFile is not valid base64.") from exc


def check_routing(routing: RoutingConfigIn | None) -> None:
    if routing is not None and routing.AdditionalVersionWeights:
        raise AwsError(
            400, "InvalidParameterValueException", "Weighted alias routing (RoutingConfig) is not supported."
        )
