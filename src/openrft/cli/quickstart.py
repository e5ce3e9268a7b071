"""`openrft quickstart`: the whole workflow once, end to end, on this machine.

Starts an embedded server (or uses `--base-url`), creates a project key, deploys the bundled
reward function with boto3, uploads the bundled ticket-triage dataset with the openai SDK,
preflights the reward on base-model samples, trains `smollm2-135m-instruct` with RFT while showing
the reward per step, then compares the base and the fine-tuned model on held-out tickets.
Every step goes through the public APIs, exactly as a user's own code would.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import openai
import plotext
import transformers
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openrft.api.server import start_in_thread
from openrft.cli.common import lambda_client
from openrft.functions.reward import build_reward_event
from openrft.ids import random_token
from openrft.inference.registry import DEFAULT_BASE_MODEL
from openrft.jobstatus import TERMINAL_STATUSES
from openrft.settings import Settings

console = Console()

FUNCTION_NAME = "ticket-triage-reward"
# Sized so the whole run takes 5-7 minutes on a 2-core CPU (README: measured figures).
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 3,
    "batch_size": 4,
    "samples_per_prompt": 8,
    "max_completion_tokens": 16,
    "eval_interval": 16,
    "eval_samples": 16,
    # x 1e-4 (LoRA base rate). Measured: 10 learned the one-word format in 5 steps, then collapsed onto one
    # category for every ticket (held-out 0.39); 3 over 3 epochs learned the categories too (0.65).
    "learning_rate_multiplier": 3.0,
}


@dataclass
class Connection:
    base_url: str  # http://host:port (no /v1)
    api_key: str
    key_id: str

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url + "/v1", api_key=self.api_key, max_retries=2, timeout=300)

    def lambda_client(self) -> Any:
        return lambda_client(self.base_url, self.key_id, self.api_key, read_timeout_s=300, max_attempts=2)


def data_path(*parts: str) -> Path:
    return Path(str(resources.files("openrft") / "data" / "quickstart" / Path(*parts)))


@contextmanager
def embedded_server(home: Path | None, port: int | None = None) -> Iterator[tuple[str, str, Path]]:
    """An API server with its worker in this process, on `port` or a free one; yields (base_url, admin_key, home)."""
    admin_key = os.environ.get("OPENRFT_ADMIN_KEY") or "sk-rft-admin-" + random_token(32)
    settings = Settings(admin_key=admin_key) if home is None else Settings(admin_key=admin_key, home=home)
    console.print(f"[dim]Starting an embedded server (data in {settings.home})...[/dim]")
    server = start_in_thread(settings, embedded_worker=True, port=port)
    try:
        yield server.base_url, admin_key, settings.home
    finally:
        server.stop()


def create_project_key(base_url: str, admin_key: str) -> tuple[str, str]:
    """A project and a service-account key for it, through the Administration API."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base_url + "/v1", headers=headers, timeout=60) as http:
        project = http.post("/organization/projects", json={"name": "quickstart"})
        project.raise_for_status()
        account = http.post(
            f"/organization/projects/{project.json()['id']}/service_accounts", json={"name": "quickstart"}
        )
        account.raise_for_status()
    key = account.json()["api_key"]
    return key["id"], key["value"]


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.py")):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def deploy_reward(conn: Connection) -> str:
    """Create (or update) the reward function and publish a version; returns `name:version`."""
    client = conn.lambda_client()
    code = zip_folder(data_path("reward"))
    try:
        client.get_function(FunctionName=FUNCTION_NAME)
        client.update_function_code(FunctionName=FUNCTION_NAME, ZipFile=code)
    except client.exceptions.ResourceNotFoundException:
        client.create_function(
            FunctionName=FUNCTION_NAME,
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/openrft",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": code},
            Timeout=30,
            MemorySize=256,
            Description="Quickstart reward: ticket category and brevity",
        )
    version = client.publish_version(FunctionName=FUNCTION_NAME)
    console.print(
        f"Deployed reward function [bold]{FUNCTION_NAME}[/bold] version {version['Version']} "
        f"(CodeSha256 {version['CodeSha256'][:12]}...)"
    )
    return f"{FUNCTION_NAME}:{version['Version']}"


def read_rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data_path(name).read_text().splitlines() if line.strip()]


def score(conn: Connection, function: str, rows: list[dict[str, Any]], answers: list[str]) -> list[float]:
    """Rewards of `answers` to `rows`, from the deployed function, in Bedrock's event shape."""
    name, _, qualifier = function.partition(":")
    events = [
        build_reward_event(row["messages"], row, f"s{i}", completion=answer)
        for i, (row, answer) in enumerate(zip(rows, answers, strict=True))
    ]
    response = conn.lambda_client().invoke(
        FunctionName=name, Qualifier=qualifier or "$LATEST", Payload=json.dumps(events).encode()
    )
    payload = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        console.print(f"[red]The reward function failed: {payload}[/red]")
        raise typer.Exit(1)
    by_id = {r["id"]: float(r["aggregate_reward_score"]) for r in payload}
    return [by_id[e["id"]] for e in events]


def sample_answers(
    conn: Connection, model: str, rows: list[dict[str, Any]], *, n: int, temperature: float, max_tokens: int
) -> list[list[str]]:
    client = conn.openai()
    answers = []
    for row in rows:
        completion = client.chat.completions.create(
            model=model, messages=row["messages"], n=n, temperature=temperature, max_tokens=max_tokens, seed=0
        )
        answers.append([(choice.message.content or "").strip() for choice in completion.choices])
    return answers


def preflight(conn: Connection, function: str, model: str, rows: list[dict[str, Any]]) -> None:
    """Score base-model samples before training: a broken reward shows here, not hours later."""
    console.rule("Preflight: the reward on base-model samples")
    groups = sample_answers(conn, model, rows, n=4, temperature=1.0, max_tokens=16)
    flat_rows = [row for row, group in zip(rows, groups, strict=True) for _ in group]
    rewards = score(conn, function, flat_rows, [a for group in groups for a in group])
    per_group = [rewards[i : i + 4] for i in range(0, len(rewards), 4)]
    flat = sum(1 for g in per_group if max(g) == min(g)) / len(per_group)
    console.print(
        f"{len(rewards)} samples: mean {statistics.fmean(rewards):.3f}, min {min(rewards):.2f}, "
        f"max {max(rewards):.2f}; prompts with no learning signal (all samples equal): {flat:.0%}"
    )


def follow(client: openai.OpenAI, job_id: str) -> tuple[Any, list[tuple[int, float]]]:
    """Show live progress until the job ends; returns the job and the (step, train reward) curve."""
    seen: set[str] = set()
    curve: list[tuple[int, float]] = []
    columns = (
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[reward]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("train", total=None, reward="")
        while True:
            events = client.fine_tuning.jobs.list_events(job_id, limit=100).data
            for event in reversed(events):
                if event.id in seen:
                    continue
                seen.add(event.id)
                data = event.data if isinstance(event.data, dict) else {}
                if event.type == "metrics" and "step" in data:
                    reward = float(data.get("scores", {}).get("train_reward_mean", float("nan")))
                    curve.append((int(data["step"]), reward))
                    progress.update(
                        task,
                        completed=data["step"],
                        total=data.get("total_steps"),
                        reward=f"train reward {reward:.3f}",
                    )
                progress.console.print(f"[dim]{event.message}[/dim]")
            job = client.fine_tuning.jobs.retrieve(job_id)
            if job.status in TERMINAL_STATUSES or job.status == "paused":
                return job, curve
            time.sleep(2)


def plot_curve(curve: list[tuple[int, float]]) -> None:
    if len(curve) < 2:
        return
    plotext.clear_figure()
    plotext.theme("clear")
    plotext.plot([s for s, _ in curve], [r for _, r in curve], marker="braille")
    plotext.title("train reward per step")
    plotext.plotsize(70, 15)
    plotext.show()


def compare(conn: Connection, function: str, base: str, tuned: str, rows: list[dict[str, Any]]) -> None:
    """Base vs fine-tuned through the Evals API: one eval graded by the deployed reward, one run per model."""
    console.rule("Base vs fine-tuned on held-out tickets (an eval, greedy decoding)")
    client = conn.openai()
    evaluation = client.evals.create(
        name="quickstart held-out tickets",
        data_source_config={"type": "custom", "item_schema": {"type": "object"}},
        testing_criteria=[
            {"type": "lambda", "name": "reward", "lambda": {"function": function}}  # type: ignore[list-item]
        ],
    )
    runs = {
        m: client.evals.runs.create(
            evaluation.id,
            name=m,
            data_source={
                "type": "completions",
                "model": m,
                "source": {"type": "file_content", "content": [{"item": row} for row in rows]},
                "input_messages": {"type": "item_reference", "item_reference": "item.messages"},
                "sampling_params": {"temperature": 0.0, "max_completion_tokens": 16, "seed": 0},
            },
        )
        for m in (base, tuned)
    }
    done = {m: wait_for_run(client, evaluation.id, run.id) for m, run in runs.items()}
    items = {
        m: sorted(client.evals.runs.output_items.list(run.id, eval_id=evaluation.id, limit=100), key=item_index)
        for m, run in runs.items()
    }
    summary = Table("model", "mean reward", "passed (reward >= 0.5)", "held-out tickets", "eval run")
    for m in (base, tuned):
        scores = [item.results[0].score for item in items[m] if item.results]
        counts = done[m].result_counts
        summary.add_row(
            m,
            f"{statistics.fmean(scores):.3f}" if scores else "-",
            f"{counts.passed}/{counts.total}",
            str(len(rows)),
            runs[m].id,
        )
    console.print(summary)
    side = Table("ticket", "expected", "base", "fine-tuned", show_lines=True)
    for row, a, b in list(zip(rows, items[base], items[tuned], strict=False))[:5]:
        side.add_row(row["messages"][-1]["content"], row.get("category", ""), answer_of(a), answer_of(b))
    console.print(side)
    console.print(f"Item by item: openrft evals compare {runs[base].id} {runs[tuned].id} --eval {evaluation.id}")


def wait_for_run(client: openai.OpenAI, eval_id: str, run_id: str) -> Any:
    while True:
        run = client.evals.runs.retrieve(run_id, eval_id=eval_id)
        if run.status in ("completed", "failed", "canceled"):
            if run.status != "completed":
                console.print(f"[red]Eval run {run_id} ended {run.status}: {run.error}[/red]")
                raise typer.Exit(1)
            return run
        time.sleep(1)


def item_index(item: Any) -> int:
    return int(item.datasource_item_id)


def answer_of(item: Any) -> str:
    return (item.sample.output[0].content or "").strip() if item.sample.output else ""


def print_usage(conn: Connection, model: str, *, embedded_home: Path | None) -> None:
    console.rule("Call your model")
    base_url = conn.base_url
    if embedded_home is not None:  # the embedded server stops with this command; the model stays in its home
        base_url = "http://127.0.0.1:8000"
        console.print(f"Serve it:  OPENRFT_HOME={embedded_home} openrft serve\n", highlight=False)
    message = '[{"role": "user", "content": "My parcel never arrived."}]'
    console.print(
        f"""[bold]openai SDK[/bold]
from openai import OpenAI
client = OpenAI(base_url="{base_url}/v1", api_key="{conn.api_key}")
client.chat.completions.create(model="{model}", messages={message})

[bold]curl[/bold]
curl {base_url}/v1/chat/completions -H "Authorization: Bearer {conn.api_key}" \\
  -H "Content-Type: application/json" \\
  -d '{{"model": "{model}", "messages": {message}}}'""",
        highlight=False,
        soft_wrap=True,
    )


def run_flow(
    base_url: str,
    admin_key: str,
    *,
    model: str,
    hyperparameters: dict[str, Any],
    compare_rows: int,
    embedded_home: Path | None = None,
) -> Any:
    key_id, secret = create_project_key(base_url, admin_key)
    conn = Connection(base_url=base_url, api_key=secret, key_id=key_id)
    console.print(f"Created project [bold]quickstart[/bold] with key {key_id}")
    function = deploy_reward(conn)
    client = conn.openai()
    train = client.files.create(file=data_path("train.jsonl").open("rb"), purpose="fine-tune")
    valid = client.files.create(file=data_path("valid.jsonl").open("rb"), purpose="fine-tune")
    console.print(f"Uploaded {train.id} (training) and {valid.id} (validation)")
    held_out = read_rows("valid.jsonl")[:compare_rows]
    preflight(conn, function, model, held_out[:8])
    job = client.fine_tuning.jobs.create(
        model=model,
        training_file=train.id,
        validation_file=valid.id,
        suffix="ticket-triage",
        seed=42,
        extra_body={
            "method": {
                "type": "reinforcement",
                "reinforcement": {
                    "grader": {"type": "lambda", "lambda": {"function": function}},
                    "hyperparameters": hyperparameters,
                },
            }
        },
    )
    console.rule(f"Training {job.id}")
    console.print(
        f"Watch it in the console: [bold]{base_url}/jobs/{job.id}[/bold] (curves, samples, warnings; the playground "
        f"at {base_url}/playground). Sign in with the project key {secret}",
        highlight=False,
        soft_wrap=True,
    )
    job, curve = follow(client, job.id)
    plot_curve(curve)
    if job.status != "succeeded":
        console.print(f"[red]Job {job.id} ended {job.status}: {job.error}[/red]")
        raise typer.Exit(1)
    console.print(f"Fine-tuned model: [bold]{job.fine_tuned_model}[/bold]")
    compare(conn, function, model, job.fine_tuned_model, held_out)
    print_usage(conn, job.fine_tuned_model, embedded_home=embedded_home)
    return job


def quickstart(
    base_url: str | None = typer.Option(None, help="Use a running server instead of an embedded one."),
    api_key: str | None = typer.Option(None, envvar="OPENRFT_ADMIN_KEY", help="Admin key of --base-url."),
    home: Path | None = typer.Option(None, help="OPENRFT_HOME of the embedded server."),
    model: str = typer.Option(DEFAULT_BASE_MODEL, help="Base model to fine-tune."),
    hyperparameters: str | None = typer.Option(None, help="JSON object merged over the defaults."),
    compare_rows: int = typer.Option(16, help="Held-out tickets in the before/after comparison."),
    port: int | None = typer.Option(None, help="Port of the embedded server (default: a free one)."),
    keep_serving: bool = typer.Option(
        False, "--keep-serving", help="After the run, keep the embedded server (and its console) up until Ctrl+C."
    ),
) -> None:
    """Run the whole RFT workflow once: reward function, data, training, before/after."""
    params = {**DEFAULT_HYPERPARAMETERS, **json.loads(hyperparameters or "{}")}
    if base_url:
        if not api_key:
            raise typer.BadParameter("--base-url needs the server's admin key (--api-key or OPENRFT_ADMIN_KEY)")
        run_flow(base_url.rstrip("/"), api_key, model=model, hyperparameters=params, compare_rows=compare_rows)
        return
    transformers.logging.set_verbosity_error()  # the embedded engine shares this terminal
    transformers.logging.disable_progress_bar()
    with embedded_server(home, port) as (url, admin_key, embedded_home):
        run_flow(
            url, admin_key, model=model, hyperparameters=params, compare_rows=compare_rows, embedded_home=embedded_home
        )
        if keep_serving:
            console.print(f"The console stays up at [bold]{url}/[/bold]; Ctrl+C stops the server.", highlight=False)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
