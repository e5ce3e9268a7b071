"""`openrft files ...`: upload fine-tune JSONL files, list and delete them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openrft.cli.common import JsonOption, api_errors, console, get_config, print_json, print_table, timestamp

files_app = typer.Typer(help="Training and validation files (JSONL).", no_args_is_help=True)


@files_app.command("upload")
def upload(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A JSONL file.")],
    purpose: Annotated[str, typer.Option(help="File purpose.")] = "fine-tune",
    as_json: JsonOption = False,
) -> None:
    """Upload a file; the server validates every line and names the first one at fault."""
    with api_errors(), path.open("rb") as handle:
        created = get_config(ctx).openai().files.create(file=(path.name, handle), purpose=purpose)  # type: ignore[arg-type]
    if as_json:
        print_json(created)
    else:
        console.print(f"uploaded [bold]{created.id}[/] ({created.bytes} bytes, {created.filename})")


@files_app.command("list")
def list_files(
    ctx: typer.Context,
    purpose: Annotated[str | None, typer.Option(help="Only files with this purpose.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the project's files, newest first."""
    with api_errors():
        client = get_config(ctx).openai()
        files = list(client.files.list(purpose=purpose) if purpose else client.files.list())
    if as_json:
        print_json(files)
        return
    rows = [(f.id, f.filename, f.purpose, f.bytes, f.status, timestamp(f.created_at)) for f in files]
    print_table("Files", ("id", "filename", "purpose", "bytes", "status", "created"), rows)


@files_app.command("delete")
def delete(ctx: typer.Context, file_id: str) -> None:
    """Delete a file."""
    with api_errors():
        get_config(ctx).openai().files.delete(file_id)
    console.print(f"deleted {file_id}")
