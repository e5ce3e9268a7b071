"""Helpers of the access-control tests: keys with exactly the policies a test gives them, through the APIs.

Customer managed policies are created with boto3's own `iam` client (admin key, the default project);
the key is a service account of the default project made through the organization API with those
policies (`policy_arns`, our extension), so a test's key can do exactly what its statements say.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import httpx

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.functions.arn import account_id
from tests.conftest import LiveServer

ACCOUNT = account_id(DEFAULT_PROJECT_ID)


@dataclass(frozen=True)
class Key:
    id: str
    secret: str
    service_account_id: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:user/{self.service_account_id}"


def aws_client(server: LiveServer, service: str, key_id: str = "admin", secret: str | None = None, **kw: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.base_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret or server.admin_key,
        config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=120),
        **kw,
    )


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def create_policy(server: LiveServer, document: dict[str, Any], name: str | None = None) -> str:
    iam = aws_client(server, "iam")
    created = iam.create_policy(PolicyName=name or f"p-{uuid.uuid4().hex[:8]}", PolicyDocument=json.dumps(document))
    return str(created["Policy"]["Arn"])


def make_key(
    server: LiveServer,
    *statements: dict[str, Any],
    managed: tuple[str, ...] = (),
    **restrictions: Any,
) -> Key:
    """A default-project key whose only identity policies are `statements` (one customer policy) and `managed`."""
    arns = [create_policy(server, policy(*statements))] if statements else []
    arns += [f"arn:aws:iam::aws:policy/{name}" for name in managed]
    body = {"name": f"k-{uuid.uuid4().hex[:6]}", "policy_arns": arns, **restrictions}
    reply = httpx.post(
        f"{server.v1}/organization/projects/{DEFAULT_PROJECT_ID}/service_accounts",
        json=body,
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    account = reply.json()
    return Key(id=account["api_key"]["id"], secret=account["api_key"]["value"], service_account_id=account["id"])
