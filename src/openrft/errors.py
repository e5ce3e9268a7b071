"""Domain errors: what went wrong, in openrft's terms, with no HTTP in them.

The core (store, auth, graders, functions, training, inference) raises these; `openrft.api.errors` is
the one place that turns them into an answer on the wire, from one table (status and error type per
class, for OpenAI's surface and for AWS's), resolved along each exception's MRO. Each error carries a
human `message`, the request field at fault (`param`, dotted) and a machine-readable `code`.

Where the Lambda API's contract names an error AWS's way (botocore turns the name into an exception
class), the error is its own subclass here and its `code` is that name, so a caller reads the same
code on either surface.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class OpenRFTError(Exception):
    """An error the caller caused or can act on."""

    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(OpenRFTError):
    """The request is malformed or a value in it is out of bounds."""


class InvalidParameterValue(InvalidRequest):
    """A Lambda parameter out of bounds (a function's configuration or code, a qualifier)."""

    code = "InvalidParameterValueException"


class InvalidRequestContent(InvalidRequest):
    """A body that does not parse as the JSON it must be."""

    code = "InvalidRequestContentException"


class IncompleteSignature(InvalidRequest):
    """A SigV4 Authorization header that lacks a part or scopes its credential wrongly."""

    code = "IncompleteSignatureException"


class AuthenticationFailed(OpenRFTError):
    """No credentials, or ones that name no live key."""

    code = "invalid_api_key"


class PermissionDenied(OpenRFTError):
    """The caller is known but may not do this."""

    code = "insufficient_permissions"


class InvalidSignature(PermissionDenied):
    """A SigV4 signature that does not match the request, or is out of its time window."""

    code = "InvalidSignatureException"


class UnrecognizedClient(PermissionDenied):
    """A SigV4 access key id that names no usable key."""

    code = "UnrecognizedClientException"


class AccessDenied(PermissionDenied):
    """An IAM-style policy decision refused the action: the message names the action and the resource."""

    code = "AccessDeniedException"


class MissingScopes(OpenRFTError):
    """A restricted key lacks a scope the operation needs (401 on OpenAI's surface, as OpenAI answers it)."""

    code = None

    def __init__(self, scopes: Sequence[str]):
        self.scopes = list(scopes)
        super().__init__(
            "You have insufficient permissions for this operation. Missing scopes: "
            + " ".join(self.scopes)
            + ". Check that you have the correct role in your organization (Reader, Writer, Owner) and project "
            "(Member, Owner), and if you're using a restricted API key, that it has the necessary scopes."
        )


class RateLimited(OpenRFTError):
    """A key over its requests- or tokens-per-minute limit; `headers` are OpenAI's x-ratelimit-* and retry-after."""

    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, headers: Mapping[str, str]):
        super().__init__(message)
        self.headers = dict(headers)


class MalformedPolicy(InvalidRequest):
    """A policy document that is not JSON or breaks IAM's grammar; the message names the element at fault."""

    code = "MalformedPolicyDocument"


class ExpiredToken(AuthenticationFailed):
    """Temporary credentials past their expiration (or revoked)."""

    code = "ExpiredToken"


class NotFound(OpenRFTError):
    """The resource does not exist (or is not the caller's to see)."""

    code = "not_found"


class ResourceNotFound(NotFound):
    """A Lambda function, version or alias that does not exist."""

    code = "ResourceNotFoundException"


class NoSuchEntity(NotFound):
    """An IAM role, policy or attachment that does not exist."""

    code = "NoSuchEntity"


class Conflict(OpenRFTError):
    """The resource's state does not allow this."""

    code = "conflict"


class EntityAlreadyExists(Conflict):
    """An IAM role or policy whose name is taken."""

    code = "EntityAlreadyExists"


class DeleteConflict(Conflict):
    """An IAM entity that something still depends on (a role with policies, a policy attached)."""

    code = "DeleteConflict"


class ResourceConflict(Conflict):
    """A Lambda function or alias that already exists, or is in use."""

    code = "ResourceConflictException"


class PreconditionFailed(Conflict):
    """A RevisionId that is not the latest one."""

    code = "PreconditionFailedException"


class PayloadTooLarge(OpenRFTError):
    """An upload or a body over its size limit."""

    code = "file_too_large"


class RequestTooLarge(PayloadTooLarge):
    """A Lambda request (or function code) over AWS's size limit."""

    code = "RequestTooLargeException"


class Unavailable(OpenRFTError):
    """A dependency is down or busy; the same request may work later."""

    code = "unavailable"


class ServerFault(OpenRFTError):
    """openrft failed, not the caller (e.g. no sandbox could start)."""


class GenerationFailed(ServerFault):
    """The inference engine failed while generating a completion."""

    code = "generation_failed"


# ---- pydantic's validation errors, read one way everywhere ----------------------------------------

# Members of a union that pydantic inserts into an error's location ("int", "literal['auto']",
# "function-after[...]", a discriminator tag such as "input_text"): not part of the field's path.
_UNION_TAG = re.compile(
    r"^(literal\[.*|function-.*|constrained-.*|int|float|str|bool|none|dict\[.*|list\[.*"
    r"|input_text|output_text|input_image|input_audio)$"
)
# Where FastAPI found the value, in front of the path: not part of it either.
_SOURCES = ("body", "query", "path", "header")


@dataclass(frozen=True)
class FieldError:
    """The first problem pydantic found: the dotted path of the field, pydantic's message and error type."""

    param: str | None
    message: str
    kind: str

    @property
    def parts(self) -> list[str]:
        return self.param.split(".") if self.param else []


def field_error(errors: Sequence[Mapping[str, Any]], *, prefix: str | None = None) -> FieldError:
    """The first of pydantic's `errors()` as a FieldError, its path rooted at `prefix` (e.g. "grader")."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid value", "type": "value_error"}
    loc = [str(p) for p in first.get("loc", ())]
    if loc and loc[0] in _SOURCES:
        loc = loc[1:]
    parts = [p for p in loc if not _UNION_TAG.match(p)]
    param = ".".join(([prefix] if prefix else []) + parts) or None
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return FieldError(param=param, message=message, kind=str(first.get("type", "value_error")))


def invalid_from(
    errors: Sequence[Mapping[str, Any]], *, prefix: str | None = None, kind: type[InvalidRequest] = InvalidRequest
) -> InvalidRequest:
    """The plain form most callers answer with: "<param>: <message>" naming the param."""
    err = field_error(errors, prefix=prefix)
    return kind(f"{err.param}: {err.message}" if err.param else err.message, param=err.param)
