"""Request and response bodies of the Lambda API, with AWS's field names (botocore's lambda service model).

Only the fields a reward function needs are read; the rest of AWS's many options are accepted and
ignored (they do not change how a function runs here), except where ignoring them would surprise:
S3 code, container images and weighted alias routing are refused with InvalidParameterValueException.
Responses carry the members openrft fills, in the service model's order; the routes leave out unset
ones (AWS never sends null).
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openrft.errors import InvalidParameterValue, invalid_from


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Environment(_Body):
    Variables: dict[str, str] = Field(default_factory=dict)


_Environment = Environment  # members named like their shape (`Environment: Environment`) need another name


class FunctionCode(_Body):
    ZipFile: str | None = None  # base64, as botocore serializes a blob in JSON
    S3Bucket: str | None = None
    S3Key: str | None = None
    ImageUri: str | None = None


class CreateFunctionRequest(_Body):
    FunctionName: str
    Runtime: str | None = None
    Role: str | None = None
    Handler: str | None = None
    Code: FunctionCode
    Description: str = ""
    Timeout: int = 3
    MemorySize: int = 128
    Publish: bool = False
    PackageType: str = "Zip"
    Environment: _Environment | None = None


class UpdateFunctionCodeRequest(_Body):
    ZipFile: str | None = None
    S3Bucket: str | None = None
    ImageUri: str | None = None
    Publish: bool = False
    DryRun: bool = False
    RevisionId: str | None = None


class UpdateFunctionConfigurationRequest(_Body):
    Role: str | None = None
    Handler: str | None = None
    Description: str | None = None
    Timeout: int | None = None
    MemorySize: int | None = None
    Environment: _Environment | None = None
    Runtime: str | None = None
    RevisionId: str | None = None


class PublishVersionRequest(_Body):
    CodeSha256: str | None = None
    Description: str | None = None
    RevisionId: str | None = None


class AliasRoutingConfiguration(_Body):
    AdditionalVersionWeights: dict[str, float] | None = None


class CreateAliasRequest(_Body):
    Name: str
    FunctionVersion: str
    Description: str = ""
    RoutingConfig: AliasRoutingConfiguration | None = None


class UpdateAliasRequest(_Body):
    FunctionVersion: str | None = None
    Description: str | None = None
    RoutingConfig: AliasRoutingConfiguration | None = None
    RevisionId: str | None = None


class AddPermissionRequest(_Body):
    StatementId: str
    Action: str
    Principal: str
    SourceArn: str | None = None
    SourceAccount: str | None = None
    PrincipalOrgID: str | None = None
    RevisionId: str | None = None


# -- responses -------------------------------------------------------------------------------------


class TracingConfigResponse(BaseModel):
    Mode: Literal["Active", "PassThrough"]


class EnvironmentResponse(BaseModel):
    Variables: dict[str, str]


class EphemeralStorage(BaseModel):
    Size: int


class SnapStartResponse(BaseModel):
    ApplyOn: Literal["PublishedVersions", "None"]
    OptimizationStatus: Literal["On", "Off"]


class LoggingConfig(BaseModel):
    LogFormat: Literal["JSON", "Text"]
    LogGroup: str


_EphemeralStorage = EphemeralStorage
_LoggingConfig = LoggingConfig


class FunctionConfiguration(BaseModel):
    """botocore's FunctionConfiguration: what CreateFunction, GetFunctionConfiguration and the updates return."""

    FunctionName: str
    FunctionArn: str
    Runtime: str
    Role: str
    Handler: str
    CodeSize: int
    Description: str
    Timeout: int
    MemorySize: int
    LastModified: str
    CodeSha256: str
    Version: str
    Environment: EnvironmentResponse | None = None
    TracingConfig: TracingConfigResponse
    RevisionId: str
    State: Literal["Pending", "Active", "Inactive", "Failed"]
    LastUpdateStatus: Literal["Successful", "Failed", "InProgress"]
    PackageType: Literal["Zip", "Image"]
    Architectures: list[Literal["x86_64", "arm64"]]
    EphemeralStorage: _EphemeralStorage
    SnapStart: SnapStartResponse
    LoggingConfig: _LoggingConfig


class FunctionCodeLocation(BaseModel):
    RepositoryType: str
    Location: str = Field(description="openrft: GET .../functions/{name}/code with the caller's credentials.")


class GetFunctionResponse(BaseModel):
    Configuration: FunctionConfiguration
    Code: FunctionCodeLocation


class ListFunctionsResponse(BaseModel):
    NextMarker: str | None = None
    Functions: list[FunctionConfiguration]


class ListVersionsByFunctionResponse(BaseModel):
    NextMarker: str | None = None
    Versions: list[FunctionConfiguration]


class AliasConfiguration(BaseModel):
    AliasArn: str
    Name: str
    FunctionVersion: str
    Description: str
    RevisionId: str


class ListAliasesResponse(BaseModel):
    NextMarker: str | None = None
    Aliases: list[AliasConfiguration]


class AddPermissionResponse(BaseModel):
    Statement: str  # the statement added, as a JSON string (AWS's shape)


class GetPolicyResponse(BaseModel):
    Policy: str  # the resource policy document, as a JSON string
    RevisionId: str


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes) -> M:
    """JSON body -> model; any problem is AWS's 400 InvalidParameterValueException naming the field."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise invalid_from(exc.errors(), kind=InvalidParameterValue) from exc


def decode_zip(value: str | None, *, s3: str | None = None, image: str | None = None) -> bytes:
    if s3 or image:
        raise InvalidParameterValue(
            "Only Code.ZipFile is supported here (no S3 code, no container images): send the zip inline."
        )
    if not value:
        raise InvalidParameterValue("Code.ZipFile is required (base64 of a zip).")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterValue("Code.ZipFile is not valid base64.") from exc


def check_routing(routing: AliasRoutingConfiguration | None) -> None:
    if routing is not None and routing.AdditionalVersionWeights:
        raise InvalidParameterValue("Weighted alias routing (RoutingConfig) is not supported.")
