"""boto3 clients of a live openrft server (iam, sts, lambda), and service-account keys made through the admin API.

Shared by the IAM, STS and notebook contract tests: each builds the real boto3 client with only
`endpoint_url` (and openrft credentials) added, as a user would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import httpx
import pytest

from openrft.api.server import start_in_thread
from openrft.settings import Settings
from tests.conftest import LiveServer

NO_RETRIES = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60)


def client(
    service: str,
    server: LiveServer,
    key_id: str = "admin",
    secret: str | None = None,
    token: str | None = None,
) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.base_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret or server.admin_key,
        aws_session_token=token,
        config=NO_RETRIES,
    )


def credentials_client(service: str, server: LiveServer, credentials: dict[str, Any]) -> Any:
    """A client signing with STS credentials, as `assume_role(...)["Credentials"]` gives them."""
    return client(
        service,
        server,
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )


def admin_headers(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin_key}"}


def service_account_key(
    server: LiveServer, name: str = "ci", project: str = "proj_default", **extra: Any
) -> dict[str, str]:
    """A new service account's key in `project`: {"id", "value", "service_account_id"}; `extra`: more of the body."""
    url = f"{server.v1}/organization/projects/{project}/service_accounts"
    response = httpx.post(url, json={"name": name, **extra}, headers=admin_headers(server))
    response.raise_for_status()
    account = response.json()
    return {"id": account["api_key"]["id"], "value": account["api_key"]["value"], "service_account_id": account["id"]}


def restrict(server: LiveServer, service_account_id: str, *policy_arns: str, project: str = "proj_default") -> None:
    """Leave the service account with exactly these managed policies, through the organization API."""
    base = f"{server.v1}/organization/projects/{project}/service_accounts/{service_account_id}"
    admin = admin_headers(server)
    for policy in httpx.get(f"{base}/policies", headers=admin).json()["attached_policies"]:
        httpx.post(f"{base}/detach_policy", json={"policy_arn": policy["arn"]}, headers=admin).raise_for_status()
    for arn in policy_arns:
        httpx.post(f"{base}/attach_policy", json={"policy_arn": arn}, headers=admin).raise_for_status()


def error_of(exc: Any) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a botocore ClientError."""
    return (
        exc.response["Error"]["Code"],
        exc.response["ResponseMetadata"]["HTTPStatusCode"],
        exc.response["Error"]["Message"],
    )


def serve(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """A live server (no worker) with the IAM/STS query endpoint and the IAM organization API."""
    server = start_in_thread(settings, embedded_worker=False)
    yield LiveServer(base_url=server.base_url, settings=settings)
    server.stop(timeout_s=10)
