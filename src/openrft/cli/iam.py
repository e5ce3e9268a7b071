"""`openrft roles ...` and `openrft policies ...`: IAM roles and policies of a project (admin key).

A client of the organization API (`/v1/organization/projects/{project}/roles|policies`). Documents
(trust policies, permissions policies) are given as JSON text or as the path of a JSON file;
`--trust-service lambda.amazonaws.com` writes the usual trust policy of an execution role. Policies
attach to a role (`--role NAME`) or to a service account, the owner of a key (`--service-account ID`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from openrft.auth.keys import DEFAULT_PROJECT_ID
from openrft.cli.common import (
    JsonOption,
    api_errors,
    checked,
    console,
    err_console,
    get_config,
    print_json,
    print_table,
)
from openrft.cli.common import timestamp as when

roles_app = typer.Typer(help="IAM roles of a project (admin key).", no_args_is_help=True)
policies_app = typer.Typer(help="IAM managed policies of a project (admin key).", no_args_is_help=True)

ProjectOption = Annotated[str, typer.Option("--project", help="Project id (proj_...).")]
DocumentOption = Annotated[str, typer.Option("--document", help="A policy document: JSON text or a JSON file's path.")]


def read_document(value: str, *, option: str = "--document") -> dict[str, Any]:
    """JSON text, or the path of a file holding it; exits with a readable error otherwise."""
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            err_console.print(f"[red]error:[/] {option}: neither JSON nor a file: {value}")
            raise typer.Exit(2)
        text = path.read_text()
    try:
        document = json.loads(text)
    except ValueError as exc:
        err_console.print(f"[red]error:[/] {option}: not valid JSON ({exc})")
        raise typer.Exit(2) from None
    if not isinstance(document, dict):
        err_console.print(f"[red]error:[/] {option}: a policy document is a JSON object")
        raise typer.Exit(2)
    return document


def service_trust(service: str) -> dict[str, Any]:
    """The trust policy that lets one AWS-style service principal assume a role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _all_pages(http: Any, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100, **(params or {})}
    while True:
        page = checked(http.get(path, params=query))
        items += page["data"]
        if not page["has_more"]:
            return items
        query["after"] = page["last_id"]


def _print_role(role: dict[str, Any]) -> None:
    console.print(f"[bold]{role['name']}[/] {role['arn']} (id {role['id']})")
    if role["description"]:
        console.print(f"  {role['description']}")
    console.print(f"  max session: {role['max_session_duration']} s, created {when(role['created_at'])}")
    console.print("  trust policy:")
    console.print_json(json.dumps(role["trust_policy"]))
    console.print(f"  inline policies: {', '.join(role['inline_policies']) or '-'}")
    attached = ", ".join(p["arn"] for p in role["attached_policies"]) or "-"
    console.print(f"  attached policies: {attached}")


# ---- roles --------------------------------------------------------------------------------------------


@roles_app.command("create")
def create_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Role name.")],
    project: ProjectOption = DEFAULT_PROJECT_ID,
    trust: Annotated[str | None, typer.Option("--trust", help="Trust policy: JSON text or a file's path.")] = None,
    trust_service: Annotated[
        str | None, typer.Option("--trust-service", help="Trust this service instead (lambda.amazonaws.com).")
    ] = None,
    description: Annotated[str, typer.Option(help="What the role is for.")] = "",
    path: Annotated[str, typer.Option(help="IAM path of the role.")] = "/",
    max_session_duration: Annotated[int, typer.Option(help="Longest session, seconds (3600-43200).")] = 3600,
    as_json: JsonOption = False,
) -> None:
    """Create a role: who may assume it (--trust or --trust-service); then give it permissions (put-policy)."""
    if (trust is None) == (trust_service is None):
        err_console.print("[red]error:[/] give exactly one of --trust and --trust-service")
        raise typer.Exit(2)
    document = read_document(trust, option="--trust") if trust is not None else service_trust(str(trust_service))
    body = {
        "name": name,
        "trust_policy": document,
        "description": description,
        "path": path,
        "max_session_duration": max_session_duration,
    }
    with api_errors(), get_config(ctx).http() as http:
        role = checked(http.post(f"/organization/projects/{project}/roles", json=body))
    if as_json:
        print_json(role)
    else:
        console.print(f"created role [bold]{role['name']}[/] {role['arn']}")


@roles_app.command("list")
def list_roles(ctx: typer.Context, project: ProjectOption = DEFAULT_PROJECT_ID, as_json: JsonOption = False) -> None:
    """List the project's roles."""
    with api_errors(), get_config(ctx).http() as http:
        roles = _all_pages(http, f"/organization/projects/{project}/roles")
    if as_json:
        print_json(roles)
        return
    rows = [
        (r["name"], r["arn"], len(r["inline_policies"]), len(r["attached_policies"]), when(r["created_at"]))
        for r in roles
    ]
    print_table(f"Roles of {project}", ("name", "arn", "inline", "attached", "created"), rows)


@roles_app.command("get")
def get_role(
    ctx: typer.Context, name: str, project: ProjectOption = DEFAULT_PROJECT_ID, as_json: JsonOption = False
) -> None:
    """Show a role: its trust policy and permissions."""
    with api_errors(), get_config(ctx).http() as http:
        role = checked(http.get(f"/organization/projects/{project}/roles/{name}"))
    if as_json:
        print_json(role)
    else:
        _print_role(role)


@roles_app.command("delete")
def delete_role(ctx: typer.Context, name: str, project: ProjectOption = DEFAULT_PROJECT_ID) -> None:
    """Delete a role (its policies first: delete-policy, detach-policy); its sessions stop working."""
    with api_errors(), get_config(ctx).http() as http:
        checked(http.delete(f"/organization/projects/{project}/roles/{name}"))
    console.print(f"deleted role {name}")


@roles_app.command("put-policy")
def put_role_policy(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name.")],
    policy_name: Annotated[str, typer.Argument(help="Name of the inline policy.")],
    document: DocumentOption,
    project: ProjectOption = DEFAULT_PROJECT_ID,
) -> None:
    """Add or replace an inline permissions policy of a role."""
    body = {"document": read_document(document)}
    with api_errors(), get_config(ctx).http() as http:
        checked(http.put(f"/organization/projects/{project}/roles/{role}/policies/{policy_name}", json=body))
    console.print(f"put inline policy {policy_name} on role {role}")


@roles_app.command("delete-policy")
def delete_role_policy(
    ctx: typer.Context, role: str, policy_name: str, project: ProjectOption = DEFAULT_PROJECT_ID
) -> None:
    """Delete an inline policy of a role."""
    with api_errors(), get_config(ctx).http() as http:
        checked(http.delete(f"/organization/projects/{project}/roles/{role}/policies/{policy_name}"))
    console.print(f"deleted inline policy {policy_name} of role {role}")


@roles_app.command("attach-policy")
def attach_role_policy(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name.")],
    policy_arn: Annotated[str, typer.Argument(help="A managed policy's ARN (arn:aws:iam::aws:policy/...).")],
    project: ProjectOption = DEFAULT_PROJECT_ID,
) -> None:
    """Attach a managed policy (AWS's or the project's own) to a role."""
    with api_errors(), get_config(ctx).http() as http:
        checked(
            http.post(f"/organization/projects/{project}/roles/{role}/attach_policy", json={"policy_arn": policy_arn})
        )
    console.print(f"attached {policy_arn} to role {role}")


@roles_app.command("detach-policy")
def detach_role_policy(
    ctx: typer.Context, role: str, policy_arn: str, project: ProjectOption = DEFAULT_PROJECT_ID
) -> None:
    """Detach a managed policy from a role."""
    with api_errors(), get_config(ctx).http() as http:
        checked(
            http.post(f"/organization/projects/{project}/roles/{role}/detach_policy", json={"policy_arn": policy_arn})
        )
    console.print(f"detached {policy_arn} from role {role}")


@roles_app.command("revoke-sessions")
def revoke_sessions(ctx: typer.Context, role: str, project: ProjectOption = DEFAULT_PROJECT_ID) -> None:
    """Revoke every live session of a role (temporary credentials from AssumeRole or an execution role)."""
    with api_errors(), get_config(ctx).http() as http:
        out = checked(http.delete(f"/organization/projects/{project}/roles/{role}/sessions"))
    console.print(f"revoked {out['revoked']} session(s) of role {role}")


# ---- policies -----------------------------------------------------------------------------------------


@policies_app.command("create")
def create_policy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Policy name.")],
    document: DocumentOption,
    project: ProjectOption = DEFAULT_PROJECT_ID,
    description: Annotated[str, typer.Option(help="What the policy grants.")] = "",
    path: Annotated[str, typer.Option(help="IAM path of the policy.")] = "/",
    as_json: JsonOption = False,
) -> None:
    """Create a customer managed policy; attach it with `openrft policies attach`."""
    body = {"name": name, "document": read_document(document), "description": description, "path": path}
    with api_errors(), get_config(ctx).http() as http:
        policy = checked(http.post(f"/organization/projects/{project}/policies", json=body))
    if as_json:
        print_json(policy)
    else:
        console.print(f"created policy [bold]{policy['name']}[/] {policy['arn']}")


@policies_app.command("list")
def list_policies(
    ctx: typer.Context,
    project: ProjectOption = DEFAULT_PROJECT_ID,
    scope: Annotated[str, typer.Option(help="local (the project's), aws (AWS managed) or all.")] = "all",
    as_json: JsonOption = False,
) -> None:
    """List managed policies: the project's own and AWS's."""
    with api_errors(), get_config(ctx).http() as http:
        policies = _all_pages(http, f"/organization/projects/{project}/policies", {"scope": scope})
    if as_json:
        print_json(policies)
        return
    rows = [
        (p["arn"], "aws" if p["aws_managed"] else "local", p["attachment_count"], p["description"]) for p in policies
    ]
    print_table(f"Policies of {project}", ("arn", "kind", "attached", "description"), rows)


@policies_app.command("get")
def get_policy(
    ctx: typer.Context,
    policy: Annotated[str, typer.Argument(help="A customer managed policy's name, or any policy's ARN.")],
    project: ProjectOption = DEFAULT_PROJECT_ID,
    as_json: JsonOption = False,
) -> None:
    """Show a policy and its document."""
    with api_errors(), get_config(ctx).http() as http:
        found = checked(http.get(f"/organization/projects/{project}/policies/{policy}"))
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]{found['name']}[/] {found['arn']} (attached {found['attachment_count']}x)")
    if found["description"]:
        console.print(f"  {found['description']}")
    console.print_json(json.dumps(found["document"]))


@policies_app.command("delete")
def delete_policy(ctx: typer.Context, policy: str, project: ProjectOption = DEFAULT_PROJECT_ID) -> None:
    """Delete a customer managed policy (detach it everywhere first)."""
    with api_errors(), get_config(ctx).http() as http:
        out = checked(http.delete(f"/organization/projects/{project}/policies/{policy}"))
    console.print(f"deleted policy {out['arn']}")


def _principal_path(project: str, role: str | None, service_account: str | None) -> str:
    if (role is None) == (service_account is None):
        err_console.print("[red]error:[/] give exactly one of --role and --service-account")
        raise typer.Exit(2)
    if role is not None:
        return f"/organization/projects/{project}/roles/{role}"
    return f"/organization/projects/{project}/service_accounts/{service_account}"


RoleOption = Annotated[str | None, typer.Option("--role", help="Role name.")]
AccountOption = Annotated[
    str | None, typer.Option("--service-account", help="Service account id (svc_acct_...): its key.")
]


@policies_app.command("attach")
def attach_policy(
    ctx: typer.Context,
    policy_arn: Annotated[str, typer.Argument(help="A managed policy's ARN.")],
    role: RoleOption = None,
    service_account: AccountOption = None,
    project: ProjectOption = DEFAULT_PROJECT_ID,
) -> None:
    """Attach a managed policy to a role or to a service account (what its key may do)."""
    target = _principal_path(project, role, service_account)
    with api_errors(), get_config(ctx).http() as http:
        checked(http.post(f"{target}/attach_policy", json={"policy_arn": policy_arn}))
    console.print(f"attached {policy_arn} to {role or service_account}")


@policies_app.command("detach")
def detach_policy(
    ctx: typer.Context,
    policy_arn: Annotated[str, typer.Argument(help="A managed policy's ARN.")],
    role: RoleOption = None,
    service_account: AccountOption = None,
    project: ProjectOption = DEFAULT_PROJECT_ID,
) -> None:
    """Detach a managed policy from a role or a service account."""
    target = _principal_path(project, role, service_account)
    with api_errors(), get_config(ctx).http() as http:
        checked(http.post(f"{target}/detach_policy", json={"policy_arn": policy_arn}))
    console.print(f"detached {policy_arn} from {role or service_account}")
