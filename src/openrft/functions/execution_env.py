"""What one invocation of a function finds in its environment, as AWS Lambda sets it.

Every invocation (the Invoke API, the lambda grader) gets the function's own variables, then:

* the endpoint of this openrft server as the sandbox reaches it (``relay.py``: ``http://127.0.0.1:9001``),
  for boto3 (``AWS_ENDPOINT_URL`` and the service-specific ``AWS_ENDPOINT_URL_<SERVICE>`` variables
  botocore reads, which win over the generic one) and for the openai SDK (``OPENAI_BASE_URL`` =
  endpoint + ``/v1``); the function's own variables may override these;
* ``AWS_REGION`` / ``AWS_DEFAULT_REGION``;
* when the version's Role is an openrft role of the function's project: fresh temporary credentials
  of that role, issued for this invocation by ``sts.issue_for_service`` (the role must trust
  ``lambda.amazonaws.com``, else the invocation fails with AccessDenied, as on AWS) in
  ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, and the session token
  as ``OPENAI_API_KEY`` (the server accepts it as a Bearer secret). These are reserved: the function's
  own variables cannot replace them. A Role that is not an openrft role of the project (an AWS ARN
  kept from a notebook, another project's role) gives no credentials, and none of these four
  variables is set.

Nothing of the server's own environment is passed on (the sandbox starts from an empty environment:
``limits.sandbox_env``); variables named ``OPENRFT_*`` in a function's configuration are dropped too,
so a server setting can never be handed to user code by name.
"""

from __future__ import annotations

from typing import Any

from openrft.functions.arn import REGION
from openrft.functions.relay import INSIDE_URL

ENDPOINT_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ENDPOINT_URL_IAM",
)
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "OPENAI_API_KEY")
SERVER_PREFIX = "OPENRFT_"


def endpoint_env(api_url: str | None = INSIDE_URL) -> dict[str, str]:
    """The server's endpoint for boto3 and the openai SDK; empty without a relay (no network at all)."""
    if not api_url:
        return {}
    return {**dict.fromkeys(ENDPOINT_VARS, api_url), "OPENAI_BASE_URL": f"{api_url}/v1"}


def role_of(fn: Any) -> str | None:
    """The Role of the version that runs."""
    return str(fn.role) if getattr(fn, "role", None) else None


def role_credentials(ctx: Any, *, project_id: str, role_arn: str | None, session_name: str) -> dict[str, str]:
    """Fresh credentials of ``role_arn`` for one invocation, or {} when it is not an openrft role of the project.

    Raises ``AccessDenied`` when the role exists here but does not trust Lambda.
    """
    if not role_arn:
        return {}
    from openrft.auth import iam, sts
    from openrft.auth.keys import KeyCipher

    with ctx.store.begin() as conn:
        role = iam.role_by_arn(conn, role_arn)
    if role is None or role.project_id != project_id:
        return {}
    cipher = getattr(ctx, "cipher", None) or KeyCipher(ctx.settings.master_key_path)
    creds = sts.issue_for_service(ctx.store, cipher, project_id=project_id, role_arn=role_arn,
                                  session_name=session_name)  # fmt: skip
    return {
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_SESSION_TOKEN": creds.session_token,
        "OPENAI_API_KEY": creds.session_token,
    }


def invocation_environment(ctx: Any, fn: Any, *, api_url: str | None = INSIDE_URL) -> dict[str, str]:
    """The environment of one invocation of ``fn`` (a ResolvedFunction), credentials issued now."""
    own = {k: str(v) for k, v in (fn.environment or {}).items() if not str(k).upper().startswith(SERVER_PREFIX)}
    own = {k: v for k, v in own.items() if k not in CREDENTIAL_VARS}
    creds = role_credentials(ctx, project_id=fn.project_id, role_arn=role_of(fn), session_name=fn.name)
    region = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
    return {**endpoint_env(api_url), **own, **region, **creds}


def invocation_context(ctx: Any, fn: Any, request_id: str, *, api_url: str | None = INSIDE_URL) -> dict[str, Any]:
    """The ``context`` argument of ``SandboxPool.invoke`` for one invocation of ``fn``."""
    return {
        "function_name": fn.name,
        "function_version": fn.version,
        "invoked_function_arn": fn.arn,
        "memory_limit_in_mb": fn.memory_mb,
        "aws_request_id": request_id,
        "environment": invocation_environment(ctx, fn, api_url=api_url),
    }
