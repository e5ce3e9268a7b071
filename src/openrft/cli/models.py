"""`openrft models list|add|export`: see, register and export models.

`list` asks the server (`--base-url`, `--api-key`) like any client. `add` and `export` work on this
machine's installation (`OPENRFT_HOME` / `OPENRFT_DATABASE_URL`), since they read and write local folders.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from openrft.cli.common import JsonOption, api_errors, get_config, print_json, print_table, timestamp

app = typer.Typer(help="List, register and export models.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Models this key's project can call: base models and its fine-tuned models and checkpoints."""
    with api_errors():
        models = list(get_config(ctx).openai().models.list())
    if as_json:
        print_json(models)
        return
    print_table(
        "models", ["id", "owned_by", "created"], [(m.id, m.owned_by, timestamp(m.created or None)) for m in models]
    )


@app.command("add")
def add(model_id: str = typer.Argument(..., metavar="ID"), path: Path = typer.Argument(..., metavar="PATH")) -> None:
    """Register a local Hugging Face causal LM folder as a base model every project can call."""
    from openrft.errors import OpenRFTError
    from openrft.inference.registry import add_base_model
    from openrft.settings import get_settings
    from openrft.store.db import Store

    settings = get_settings()
    store = Store.from_settings(settings)
    try:
        add_base_model(store, settings, model_id, path)
    except OpenRFTError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    console.print(f"registered base model [bold]{model_id}[/bold] -> {path.resolve()}")


@app.command("export")
def export(
    model_id: str = typer.Argument(..., metavar="MODEL"), out_dir: Path = typer.Argument(..., metavar="DIR")
) -> None:
    """Write MODEL as a merged Hugging Face folder in DIR, and its LoRA adapter alone in DIR/adapter."""
    from openrft.errors import OpenRFTError
    from openrft.inference.export import export_model
    from openrft.settings import get_settings
    from openrft.store.db import Store

    settings = get_settings()
    store = Store.from_settings(settings)
    try:
        with console.status(f"exporting {model_id} ..."):
            model = export_model(store, settings, model_id, out_dir)
    except OpenRFTError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    console.print(f"merged model -> {out_dir}")
    if model.adapter_path is not None:
        console.print(f"PEFT adapter -> {out_dir / 'adapter'}")
