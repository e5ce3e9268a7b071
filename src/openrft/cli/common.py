"""What every CLI command shares: where the server is, which key to use, and how to print.

The CLI is a client of the HTTP API. `openrft --base-url URL --api-key KEY <group> <command>`; the
defaults come from `OPENRFT_BASE_URL` (http://127.0.0.1:8000) and `OPENRFT_API_KEY`, falling back to
`OPENRFT_ADMIN_KEY`, so on the machine that runs `openrft serve` no option is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import openai
import typer
from rich.console import Console
from rich.table import Table

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON response instead of a table.")]


@dataclass(frozen=True)
class ClientConfig:
    base_url: str  # server root, without /v1
    api_key: str | None

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.v1, api_key=self.require_key(), max_retries=2, timeout=120)

    def http(self) -> httpx.Client:
        """A plain HTTP client on /v1, for the endpoints the openai SDK lacks (organization admin)."""
        headers = {"Authorization": f"Bearer {self.require_key()}"}
        return httpx.Client(base_url=self.v1, headers=headers, timeout=60)

    def require_key(self) -> str:
        if not self.api_key:
            err_console.print("[red]error:[/] no API key: pass --api-key or set OPENRFT_API_KEY / OPENRFT_ADMIN_KEY")
            raise typer.Exit(2)
        return self.api_key


def lambda_client(base_url: str, key_id: str, secret: str, *, read_timeout_s: int, max_attempts: int) -> Any:
    """boto3's Lambda client for an openrft server: SigV4 with the key id and secret, region us-east-1.

    `read_timeout_s` must outlast the longest call (an Invoke runs up to the function's Timeout, 900 s).
    """
    import boto3  # a dependency; imported here so commands that don't use it start faster
    import botocore.config

    return boto3.client(
        "lambda",
        endpoint_url=base_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": max_attempts}, read_timeout=read_timeout_s),
    )


def make_config(base_url: str | None, api_key: str | None) -> ClientConfig:
    url = (base_url or os.environ.get("OPENRFT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    url = url.removesuffix("/v1")
    key = api_key or os.environ.get("OPENRFT_API_KEY") or os.environ.get("OPENRFT_ADMIN_KEY")
    return ClientConfig(base_url=url, api_key=key or None)


def get_config(ctx: typer.Context) -> ClientConfig:
    """The config the root callback stored; sub-apps of other modules call this too."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, ClientConfig) else make_config(None, None)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn API and connection errors into one readable line and exit status 1."""
    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        err_console.print(f"[red]error {exc.status_code}:[/] {body.get('message') or exc.message}")
        raise typer.Exit(1) from None
    except httpx.HTTPStatusError as exc:
        err_console.print(f"[red]error {exc.response.status_code}:[/] {error_message(exc.response)}")
        raise typer.Exit(1) from None
    except (openai.APIConnectionError, httpx.TransportError) as exc:
        err_console.print(f"[red]error:[/] cannot reach the server ({exc}); is `openrft serve` running?")
        raise typer.Exit(1) from None


def error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text


def checked(response: httpx.Response) -> Any:
    """The JSON of a successful response; raises httpx.HTTPStatusError (see api_errors) otherwise."""
    response.raise_for_status()
    return response.json()


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    console.print_json(json.dumps(to_jsonable(value)))


def timestamp(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, no_wrap=i == 0, overflow="fold")  # ids stay whole, to copy
    for row in rows:
        table.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(table)
