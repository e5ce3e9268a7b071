"""`openrft jobs ...`: create fine-tuning jobs (supervised, dpo, reinforcement) and watch, pause, resume or
cancel them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import openai
import typer

from openrft.cli.common import (
    JsonOption,
    api_errors,
    console,
    get_config,
    print_json,
    print_table,
    timestamp,
)
from openrft.jobstatus import TERMINAL_STATUSES

jobs_app = typer.Typer(help="Fine-tuning jobs (supervised, dpo, reinforcement).", no_args_is_help=True)
METHODS = ("supervised", "dpo", "reinforcement")

STOP_FOLLOWING = TERMINAL_STATUSES | {"paused"}
LEVEL_STYLE = {"info": "", "warn": "yellow", "error": "red"}


def _json_option(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return value


def _file_ref(client: openai.OpenAI, ref: str | None) -> str | None:
    """A file id as given, or the id of a local JSONL file uploaded now."""
    if ref is None or ref.startswith("file-") or not Path(ref).is_file():
        return ref
    with Path(ref).open("rb") as handle:
        created = client.files.create(file=(Path(ref).name, handle), purpose="fine-tune")
    console.print(f"uploaded {ref} as {created.id}")
    return created.id


@jobs_app.command("create")
def create(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Option(help="Base model (e.g. smollm2-135m-instruct), or an ft: model or checkpoint to chain from.")
    ],
    training_file: Annotated[str, typer.Option(help="File id, or a local JSONL path to upload first.")],
    method: Annotated[
        str, typer.Option(help="supervised, dpo or reinforcement (the default when --grader-file is given).")
    ] = "",
    grader_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Grader as JSON (reinforcement).")
    ] = None,
    validation_file: Annotated[str | None, typer.Option(help="File id or local JSONL path.")] = None,
    suffix: Annotated[str | None, typer.Option(help="Added to the fine-tuned model's name.")] = None,
    hyperparameters: Annotated[
        str | None, typer.Option(help='JSON object, e.g. \'{"n_epochs": 1, "batch_size": 4}\'.')
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a fine-tuning job: reinforcement with --grader-file, else --method supervised or dpo."""
    kind = method or ("reinforcement" if grader_file is not None else "")
    if kind not in METHODS:
        raise typer.BadParameter(f"--method must be one of {', '.join(METHODS)} (reinforcement needs --grader-file)")
    if (kind == "reinforcement") != (grader_file is not None):
        raise typer.BadParameter("--grader-file is for reinforcement jobs, and a reinforcement job needs one")
    settings: dict[str, Any] = {}
    if grader_file is not None:
        settings["grader"] = _json_option(grader_file.read_text(), f"grader file {grader_file}")
    if (hp := _json_option(hyperparameters, "--hyperparameters")) is not None:
        settings["hyperparameters"] = hp
    with api_errors():
        client = get_config(ctx).openai()
        job = client.fine_tuning.jobs.create(
            model=model,
            training_file=_file_ref(client, training_file) or training_file,
            validation_file=_file_ref(client, validation_file) or openai.omit,
            suffix=suffix or openai.omit,
            seed=seed if seed is not None else openai.omit,
            method={"type": kind, kind: settings},  # type: ignore[arg-type]
        )
    if as_json:
        print_json(job)
    else:
        console.print(f"created job [bold]{job.id}[/] ({job.status}); follow it with: openrft jobs events {job.id} -f")


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many jobs, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List the project's jobs."""
    with api_errors():
        jobs = get_config(ctx).openai().fine_tuning.jobs.list(limit=limit).data
    if as_json:
        print_json(jobs)
        return
    rows = [(j.id, j.model, j.status, j.fine_tuned_model, timestamp(j.created_at)) for j in jobs]
    print_table("Fine-tuning jobs", ("id", "model", "status", "fine-tuned model", "created"), rows)


@jobs_app.command("show")
def show(ctx: typer.Context, job_id: str) -> None:
    """Print a job as JSON."""
    with api_errors():
        print_json(get_config(ctx).openai().fine_tuning.jobs.retrieve(job_id))


def _summary(event: Any) -> str:
    """One line per event; metrics events show their top-level numbers."""
    text = event.message
    if event.type == "metrics" and isinstance(event.data, dict):
        numbers = [
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in event.data.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        text = f"{text}  {' '.join(numbers[:8])}".strip()
    return text


def _print_event(event: Any) -> None:
    style = LEVEL_STYLE.get(event.level, "")
    line = f"{timestamp(event.created_at)}  {event.level:<5}  {_summary(event)}"
    console.print(f"[{style}]{line}[/]" if style else line, highlight=False, markup=bool(style))


def _new_events(client: openai.OpenAI, job_id: str, seen: set[str]) -> list[Any]:
    """Events not printed yet, oldest first (the API lists newest first)."""
    fresh = []
    for event in client.fine_tuning.jobs.list_events(job_id, limit=100):
        if event.id in seen:
            break
        fresh.append(event)
    seen.update(e.id for e in fresh)
    return list(reversed(fresh))


@jobs_app.command("events")
def events(
    ctx: typer.Context,
    job_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job stops.")] = False,
    interval_s: Annotated[float, typer.Option("--interval", help="Seconds between polls.")] = 2.0,
    as_json: JsonOption = False,
) -> None:
    """Print a job's events; with --follow, live until it succeeds, fails, is cancelled or paused."""
    seen: set[str] = set()
    with api_errors():
        client = get_config(ctx).openai()
        if as_json and not follow:
            print_json(list(reversed(_new_events(client, job_id, seen))))
            return
        for event in _new_events(client, job_id, seen):
            print_json(event) if as_json else _print_event(event)
        if not follow:
            return
        with console.status(f"following {job_id}...") as status:
            while True:
                job = client.fine_tuning.jobs.retrieve(job_id)
                for event in _new_events(client, job_id, seen):
                    print_json(event) if as_json else _print_event(event)
                status.update(f"{job_id}: {job.status}")
                if job.status in STOP_FOLLOWING:
                    break
                time.sleep(interval_s)
    console.print(f"job {job_id} is {job.status}" + (f": {job.error.message}" if job.error else ""))


def _control(ctx: typer.Context, job_id: str, action: str) -> None:
    with api_errors():
        jobs = get_config(ctx).openai().fine_tuning.jobs
        job = {"cancel": jobs.cancel, "pause": jobs.pause, "resume": jobs.resume}[action](job_id)
    console.print(f"{job.id}: {job.status}")


@jobs_app.command("cancel")
def cancel(ctx: typer.Context, job_id: str) -> None:
    """Cancel a job."""
    _control(ctx, job_id, "cancel")


@jobs_app.command("pause")
def pause(ctx: typer.Context, job_id: str) -> None:
    """Pause a running job at its next step (it keeps its checkpoints)."""
    _control(ctx, job_id, "pause")


@jobs_app.command("resume")
def resume(ctx: typer.Context, job_id: str) -> None:
    """Resume a paused job from its last checkpoint."""
    _control(ctx, job_id, "resume")
