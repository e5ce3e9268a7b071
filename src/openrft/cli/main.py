"""The `openrft` command: the server, workers, and a client of the HTTP API.

    openrft quickstart                 the whole workflow once, end to end
    openrft serve                      API + embedded worker
    openrft worker                     another worker on the same store
    openrft projects|keys ...          organization admin (admin key)
    openrft files upload|list ...      training data
    openrft jobs create|list|show|events|cancel|pause|resume
    openrft evals list|runs|compare    evals: runs side by side
    openrft audit [verify]             the audit trail: list events, check the hash chain
    openrft roles|policies ...         IAM roles and managed policies of a project (admin key)

Client commands read `--base-url` / `OPENRFT_BASE_URL` and `--api-key` / `OPENRFT_API_KEY`
(falling back to `OPENRFT_ADMIN_KEY`); see cli/common.py.
"""

from __future__ import annotations

from typing import Annotated

import typer

from openrft.cli.admin import keys_app, projects_app
from openrft.cli.audit import audit_app
from openrft.cli.common import make_config
from openrft.cli.doctor import doctor
from openrft.cli.evals import evals_app
from openrft.cli.files import files_app
from openrft.cli.functions import functions_app
from openrft.cli.iam import policies_app, roles_app
from openrft.cli.jobs import jobs_app
from openrft.cli.models import app as models_app
from openrft.cli.quickstart import quickstart
from openrft.cli.server import serve, worker

app = typer.Typer(help="openrft: self-hosted reinforcement fine-tuning.", no_args_is_help=True)


@app.callback()
def main(
    ctx: typer.Context,
    base_url: Annotated[
        str | None, typer.Option(help="Server URL (OPENRFT_BASE_URL, default http://127.0.0.1:8000).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key (OPENRFT_API_KEY, else OPENRFT_ADMIN_KEY).", show_default=False)
    ] = None,
) -> None:
    ctx.obj = make_config(base_url, api_key)


app.command()(serve)
app.command()(worker)
app.command("doctor")(doctor)
app.command("quickstart")(quickstart)
app.add_typer(projects_app, name="projects")
app.add_typer(keys_app, name="keys")
app.add_typer(files_app, name="files")
app.add_typer(jobs_app, name="jobs")
app.add_typer(evals_app, name="evals")
app.add_typer(models_app, name="models")
app.add_typer(functions_app, name="functions")
app.add_typer(audit_app, name="audit")
app.add_typer(roles_app, name="roles")
app.add_typer(policies_app, name="policies")
