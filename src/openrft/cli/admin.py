"""`openrft projects ...` and `openrft keys ...`: the organization API (admin key needed).

`openrft keys create` makes a service account and its key, restricted as its options say (openrft's
extension of OpenAI's service account body): `--permissions all|read_only|restricted`, `--resource
models=read` per resource (implies restricted), `--allowed-model 'ft:*'`, `--rpm`, `--tpm`,
`--expires-in 30d`, `--policy ARN` (repeatable; OpenRFTFullAccess when none is named).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from openrft.cli.common import JsonOption, api_errors, checked, console, get_config, print_json, print_table, timestamp

projects_app = typer.Typer(help="Projects (admin key).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of a project (admin key).", no_args_is_help=True)


@projects_app.command("create")
def create_project(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """Create a project; its keys see only its own files and jobs."""
    with api_errors(), get_config(ctx).http() as http:
        project = checked(http.post("/organization/projects", json={"name": name}))
    if as_json:
        print_json(project)
    else:
        console.print(f"created project [bold]{project['id']}[/] ({project['name']})")


@projects_app.command("list")
def list_projects(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List projects."""
    projects: list[dict] = []
    with api_errors(), get_config(ctx).http() as http:
        params: dict[str, str | int] = {"limit": 100}
        while True:
            page = checked(http.get("/organization/projects", params=params))
            projects += page["data"]
            if not page["has_more"]:
                break
            params["after"] = page["last_id"]
    if as_json:
        print_json(projects)
        return
    rows = [(p["id"], p["name"], p["status"], timestamp(p["created_at"])) for p in projects]
    print_table("Projects", ("id", "name", "status", "created"), rows)


@projects_app.command("archive")
def archive_project(ctx: typer.Context, project: Annotated[str, typer.Argument(help="Project id.")]) -> None:
    """Archive a project for good: its keys stop working, its data stays."""
    with api_errors(), get_config(ctx).http() as http:
        checked(http.post(f"/organization/projects/{project}/archive"))
    console.print(f"archived project {project}; its keys are revoked")


UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """Seconds in "90", "45s", "30m", "12h", "30d", "2w" or a sum of them ("1h30m")."""
    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    parts = DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise typer.BadParameter(f"{text!r} is not a duration such as 3600, 90m, 12h, 30d or 1h30m.")
    return sum(int(n) * UNIT_S[u] for n, u in parts)


def parse_resources(pairs: list[str]) -> dict[str, str]:
    """{"models": "read", ...} from ["models=read", ...]; the server checks the names and levels."""
    resources: dict[str, str] = {}
    for pair in pairs:
        resource, sep, level = pair.partition("=")
        if not sep or not resource.strip() or not level.strip():
            raise typer.BadParameter(f"{pair!r} is not RESOURCE=LEVEL (e.g. models=read).", param_hint="--resource")
        resources[resource.strip()] = level.strip()
    return resources


def restrictions_body(
    *,
    permissions: str | None,
    resources: list[str],
    allowed_models: list[str],
    rpm: int | None,
    tpm: int | None,
    expires_in: str | None,
    policies: list[str],
) -> dict[str, Any]:
    """The extension fields of the service account body: only what was given, the server defaults the rest."""
    body: dict[str, Any] = {}
    if permissions is not None or resources:
        body["permissions"] = permissions or "restricted"
    if resources:
        body["resources"] = parse_resources(resources)
    if allowed_models:
        body["allowed_models"] = allowed_models
    if rpm is not None:
        body["rpm_limit"] = rpm
    if tpm is not None:
        body["tpm_limit"] = tpm
    if expires_in is not None:
        body["expires_in_s"] = parse_duration(expires_in)
    if policies:
        body["policy_arns"] = policies
    return body


def _restrictions_text(account: dict[str, Any]) -> str:
    scopes = account.get("scopes")
    parts = [f"permissions {account.get('permissions', 'all')}"]
    if scopes is not None:
        parts.append("scopes " + (", ".join(scopes) or "none"))
    if account.get("allowed_models"):
        parts.append("models " + ", ".join(account["allowed_models"]))
    for field, unit in (("rpm_limit", "requests/min"), ("tpm_limit", "tokens/min")):
        if account.get(field) is not None:
            parts.append(f"{account[field]} {unit}")
    if account.get("expires_at") is not None:
        parts.append(f"expires {timestamp(account['expires_at'])} UTC")
    return "; ".join(parts)


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Name of the key's service account.")],
    project_arg: Annotated[
        str | None, typer.Argument(metavar="[PROJECT]", help="Project id (proj_...), or --project.")
    ] = None,
    project_opt: Annotated[str | None, typer.Option("--project", help="Project id (proj_...).")] = None,
    permissions: Annotated[
        str | None,
        typer.Option("--permissions", help="all (default), read_only, or restricted (levels from --resource)."),
    ] = None,
    resources: Annotated[
        list[str] | None,
        typer.Option(
            "--resource",
            help="RESOURCE=LEVEL, repeatable: models, model_capabilities, fine_tuning, files, evals, functions, "
            "iam, audit = none|read|write (functions also invoke); implies --permissions restricted.",
        ),
    ] = None,
    allowed_models: Annotated[
        list[str] | None, typer.Option("--allowed-model", help="A model the key may call (fnmatch), repeatable.")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute.")] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime: seconds or 90m, 12h, 30d, 2w, 1h30m.")
    ] = None,
    policies: Annotated[
        list[str] | None,
        typer.Option("--policy", help="Identity policy ARN to attach, repeatable (default OpenRFTFullAccess)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key (a service account of the project), optionally restricted; the secret is printed once."""
    if (project_arg is None) == (project_opt is None):
        raise typer.BadParameter("give the project once: as the argument or as --project.", param_hint="PROJECT")
    project = project_arg or project_opt
    body = {
        "name": name,
        **restrictions_body(
            permissions=permissions,
            resources=resources or [],
            allowed_models=allowed_models or [],
            rpm=rpm,
            tpm=tpm,
            expires_in=expires_in,
            policies=policies or [],
        ),
    }
    with api_errors(), get_config(ctx).http() as http:
        account = checked(http.post(f"/organization/projects/{project}/service_accounts", json=body))
    if as_json:
        print_json(account)
        return
    key = account["api_key"]
    console.print(f"created key [bold]{key['id']}[/] in {project} (service account {account['id']})")
    console.print(_restrictions_text(account), highlight=False)
    console.print("secret (shown once, store it now):")
    console.print(key["value"], soft_wrap=True, highlight=False)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project id (proj_...).")],
    as_json: JsonOption = False,
) -> None:
    """List the live keys of a project (secrets redacted)."""
    keys: list[dict] = []
    with api_errors(), get_config(ctx).http() as http:
        params: dict[str, str | int] = {"limit": 100}
        while True:
            page = checked(http.get(f"/organization/projects/{project}/api_keys", params=params))
            keys += page["data"]
            if not page["has_more"]:
                break
            params["after"] = page["last_id"]
    if as_json:
        print_json(keys)
        return
    rows = [
        (
            k["id"],
            k["name"],
            k["redacted_value"],
            k["owner"]["type"],
            k.get("permissions", "all"),
            timestamp(k["created_at"]),
            timestamp(k.get("expires_at")),
        )
        for k in keys
    ]
    columns = ("id", "name", "value", "owner", "permissions", "created", "expires")
    print_table(f"API keys of {project}", columns, rows)


@keys_app.command("delete")
def delete_key(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project id (proj_...).")],
    key_id: Annotated[str, typer.Argument(help="Key id (key_...).")],
) -> None:
    """Revoke a key: its secret is refused from now on."""
    with api_errors(), get_config(ctx).http() as http:
        checked(http.delete(f"/organization/projects/{project}/api_keys/{key_id}"))
    console.print(f"revoked key {key_id}")
