"""`openrft projects ...` and `openrft keys ...`: the organization API (admin key needed)."""

from __future__ import annotations

from typing import Annotated

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


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project id (proj_...).")],
    name: Annotated[str, typer.Option("--name", help="Name of the key's service account.")],
    as_json: JsonOption = False,
) -> None:
    """Create a key (a service account of the project); the secret is printed once."""
    with api_errors(), get_config(ctx).http() as http:
        account = checked(http.post(f"/organization/projects/{project}/service_accounts", json={"name": name}))
    if as_json:
        print_json(account)
        return
    key = account["api_key"]
    console.print(f"created key [bold]{key['id']}[/] in {project} (service account {account['id']})")
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
    rows = [(k["id"], k["name"], k["redacted_value"], k["owner"]["type"], timestamp(k["created_at"])) for k in keys]
    print_table(f"API keys of {project}", ("id", "name", "value", "owner", "created"), rows)


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
