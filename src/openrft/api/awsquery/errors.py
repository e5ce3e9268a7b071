"""Domain errors on the query protocol (IAM, STS): status and error code, from the one table.

An error whose `code` is one of the service model's own error codes (`NoSuchEntity`,
`EntityAlreadyExists`, `DeleteConflict`, `MalformedPolicyDocument`, `InvalidInput`, `LimitExceeded`,
...) is answered with that code and the status the model gives it, so botocore raises its exception
class. Any other error takes its row of `openrft.api.errors.WIRE` (the status and the restJson error
name of the AWS surface), the name translated to what query services call the same thing: a bad
signature is `SignatureDoesNotMatch` there, an unknown key `InvalidClientTokenId`, a refusal
`AccessDenied`, expired credentials `ExpiredToken`, a bad parameter `ValidationError`.
"""

from __future__ import annotations

from functools import cache

from openrft import errors as e
from openrft.api.awsquery.protocol import service_model
from openrft.api.errors import wire_of

# restJson error name (WIRE's aws_type) -> the query protocol's name for the same error.
QUERY_CODES = {
    "InvalidParameterValueException": "ValidationError",
    "InvalidRequestContentException": "ValidationError",
    "IncompleteSignatureException": "IncompleteSignature",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "AccessDeniedException": "AccessDenied",
    "ExpiredTokenException": "ExpiredToken",
    "TooManyRequestsException": "Throttling",
    "ResourceNotFoundException": "NoSuchEntity",
    "ServiceException": "ServiceFailure",
}


# The errors every query service answers, besides its model's own (AWS's "common errors").
COMMON_CODES = {"InvalidAction": 400, "ValidationError": 400, "MissingParameter": 400, "InvalidParameterValue": 400}


@cache
def model_codes(service: str) -> dict[str, int]:
    """Error code -> HTTP status: the service's common errors and those its botocore model declares."""
    codes: dict[str, int] = dict(COMMON_CODES)
    for shape in service_model(service).error_shapes:
        error = shape.metadata.get("error")
        if error:
            codes[str(error["code"])] = int(error.get("httpStatusCode", 400))
    return codes


def query_error(service: str, exc: e.OpenRFTError) -> tuple[int, str, bool]:
    """(status, code, the sender's fault) of `exc` on `service`'s query protocol."""
    codes = model_codes(service)
    if exc.code is not None and exc.code in codes:
        return codes[exc.code], exc.code, codes[exc.code] < 500
    row = wire_of(exc)
    return row.aws_status, QUERY_CODES.get(row.aws_type, row.aws_type), row.aws_status < 500
