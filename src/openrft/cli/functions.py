"""`openrft functions ...`: deploy, invoke, list and preflight-test reward functions.

These commands drive the server's AWS Lambda API through boto3, exactly as a user's own scripts would.
SigV4 needs a key id and its secret: `--key-id` (env `OPENRFT_KEY_ID`, default `admin`, the key id of
`OPENRFT_ADMIN_KEY`) and the root `--api-key` (env `OPENRFT_API_KEY`, else `OPENRFT_ADMIN_KEY`).

`functions test` is the cheap check before hours of training: it scores dataset lines (completions in the
file, or sampled from `--model` through /v1/chat/completions) with the function and prints the reward
distribution, the share of prompts whose samples all score the same (no learning signal for GRPO) and
the errors.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from openrft.cli import common
from openrft.cli.common import ClientConfig, JsonOption, console, err_console, get_config, print_json, print_table
from openrft.functions.reward import build_reward_event, parse_reward_response
from openrft.reviews.preflight import summarize

functions_app = typer.Typer(help="Reward functions (AWS Lambda API, boto3).", no_args_is_help=True)

KeyIdOption = Annotated[
    str | None, typer.Option("--key-id", help="SigV4 access key id (OPENRFT_KEY_ID, default 'admin').")
]
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
BATCH = 64


def lambda_client(config: ClientConfig, key_id: str | None) -> Any:
    key_id = key_id or os.environ.get("OPENRFT_KEY_ID") or "admin"
    return common.lambda_client(config.base_url, key_id, config.require_key(), read_timeout_s=960, max_attempts=1)


def zip_dir(folder: Path) -> bytes:
    """Zip a folder's files (paths relative to it, sorted, caches skipped) with fixed timestamps, so the
    same sources always give the same CodeSha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_dir() or SKIP_DIRS.intersection(rel.parts) or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(rel.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buf.getvalue()


class _Fail(Exception):
    pass


def _client_errors(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(exc)


@functions_app.command("deploy")
def deploy(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder with the handler module.")],
    name: Annotated[str, typer.Option("--name", help="Function name.")],
    handler: Annotated[str, typer.Option(help="module.function")] = "lambda_function.lambda_handler",
    runtime: Annotated[str, typer.Option(help="python3.11 or python3.12.")] = "python3.12",
    timeout: Annotated[int, typer.Option(help="Seconds per invocation (1-900).")] = 60,
    memory: Annotated[int, typer.Option(help="MemorySize in MB (128-10240).")] = 512,
    description: Annotated[str, typer.Option(help="Description.")] = "",
    publish: Annotated[bool, typer.Option("--publish", help="Publish a numbered version.")] = False,
    key_id: KeyIdOption = None,
    as_json: JsonOption = False,
) -> None:
    """Zip FOLDER and create the function, or update its code and configuration when it exists."""
    client = lambda_client(get_config(ctx), key_id)
    zip_bytes = zip_dir(folder)
    config = {
        "Handler": handler,
        "Runtime": runtime,
        "Timeout": timeout,
        "MemorySize": memory,
        "Description": description,
    }
    try:
        try:
            out = client.create_function(
                FunctionName=name, Role="openrft", Code={"ZipFile": zip_bytes}, Publish=publish, **config
            )
        except client.exceptions.ResourceConflictException:
            client.update_function_code(FunctionName=name, ZipFile=zip_bytes)
            out = client.update_function_configuration(FunctionName=name, **config)
            if publish:
                out = client.publish_version(FunctionName=name)
    except Exception as exc:
        err_console.print(f"[red]error:[/] {_client_errors(exc)}")
        raise typer.Exit(1) from None
    out.pop("ResponseMetadata", None)
    if as_json:
        print_json(out)
        return
    console.print(f"deployed [bold]{out['FunctionName']}[/] version {out['Version']} ({len(zip_bytes)} bytes)")
    console.print(f"  CodeSha256 {out['CodeSha256']}\n  {out['FunctionArn']}")


@functions_app.command("invoke")
def invoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="NAME, NAME:QUALIFIER or ARN.")],
    payload: Annotated[Path | None, typer.Option(help="JSON file with the event.")] = None,
    logs: Annotated[bool, typer.Option("--logs/--no-logs", help="Print the log tail.")] = True,
    key_id: KeyIdOption = None,
) -> None:
    """Invoke a function once and print its response (and its log tail)."""
    import base64

    client = lambda_client(get_config(ctx), key_id)
    body = payload.read_bytes() if payload else b"{}"
    try:
        out = client.invoke(FunctionName=name, Payload=body, LogType="Tail" if logs else "None")
    except Exception as exc:
        err_console.print(f"[red]error:[/] {_client_errors(exc)}")
        raise typer.Exit(1) from None
    if logs and out.get("LogResult"):
        err_console.print(base64.b64decode(out["LogResult"]).decode(errors="replace"), markup=False)
    text = out["Payload"].read().decode(errors="replace")
    try:
        console.print_json(text)
    except Exception:
        console.print(text, markup=False)
    if out.get("FunctionError"):
        err_console.print(f"[red]function error:[/] {out['FunctionError']} (version {out.get('ExecutedVersion')})")
        raise typer.Exit(1)


@functions_app.command("list")
def list_functions(ctx: typer.Context, key_id: KeyIdOption = None, as_json: JsonOption = False) -> None:
    """List the project's functions ($LATEST of each)."""
    client = lambda_client(get_config(ctx), key_id)
    try:
        functions = [f for page in client.get_paginator("list_functions").paginate() for f in page["Functions"]]
    except Exception as exc:
        err_console.print(f"[red]error:[/] {_client_errors(exc)}")
        raise typer.Exit(1) from None
    if as_json:
        print_json(functions)
        return
    rows = [
        (
            f["FunctionName"],
            f["Runtime"],
            f["Handler"],
            f["Timeout"],
            f["MemorySize"],
            f["CodeSha256"],
            f["LastModified"],
        )
        for f in functions
    ]
    print_table("Functions", ("name", "runtime", "handler", "timeout", "memory", "CodeSha256", "modified"), rows)


# ---- functions test: the preflight -----------------------------------------------------------------


@dataclass
class PromptCase:
    line: int
    prompt: list[dict[str, Any]]  # messages before the completion
    item: dict[str, Any]  # every other field of the line (reference_answer, ...)
    completions: list[str] = field(default_factory=list)


def read_cases(data: str) -> list[PromptCase]:
    """JSONL lines -> prompts with their given completions: a last assistant message, or `completion`
    (a string or a list of strings). Lines without either need `--model`."""
    cases = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"line {number}: not JSON ({exc})") from None
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise typer.BadParameter(f"line {number}: needs a non-empty `messages` list")
        item = {k: v for k, v in row.items() if k not in ("messages", "completion", "tools")}
        given = row.get("completion")
        completions = [given] if isinstance(given, str) else [c for c in given or [] if isinstance(c, str)]
        if messages[-1].get("role") == "assistant":
            completions.append(str(messages[-1].get("content") or ""))
            messages = messages[:-1]
        cases.append(PromptCase(number, messages, item, completions))
    if not cases:
        raise typer.BadParameter("the file has no lines")
    return cases


def sample_completions(config: ClientConfig, model: str, cases: list[PromptCase], samples: int) -> None:
    """Fill each case with `samples` completions from the server's chat endpoint."""
    import openai

    client = config.openai()
    for case in cases:
        for _ in range(samples):
            try:
                out = client.chat.completions.create(model=model, messages=case.prompt, temperature=1.0)  # type: ignore[arg-type]
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                err_console.print(
                    f"[red]error:[/] --model needs inference at {config.v1}/chat/completions, which answered: {exc}"
                )
                raise typer.Exit(1) from None
            case.completions.append(out.choices[0].message.content or "")


def score_cases(client: Any, name: str, cases: list[PromptCase]) -> tuple[list[list[float | None]], list[str]]:
    """Invoke the function on every (prompt, completion) in batches; rewards per prompt, error lines."""
    events = [
        build_reward_event(case.prompt, case.item, f"line{case.line}-s{j}", completion)
        for case in cases
        for j, completion in enumerate(case.completions)
    ]
    index_of_line = {case.line: i for i, case in enumerate(cases)}
    rewards: list[list[float | None]] = [[None] * len(c.completions) for c in cases]
    problems: list[str] = []
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        ids = [e["id"] for e in batch]
        out = client.invoke(FunctionName=name, Payload=json.dumps(batch).encode())
        parsed = parse_reward_response(out["Payload"].read(), ids)
        if out.get("FunctionError"):
            parsed.errors = ["function_error"] * len(ids)
        for k, sample_id in enumerate(ids):
            line, j = sample_id.removeprefix("line").split("-s")
            if parsed.errors[k] is None:
                rewards[index_of_line[int(line)]][int(j)] = parsed.rewards[k]
            else:
                problems.append(f"line {line} sample {j}: {parsed.errors[k]}: {parsed.details[k] or ''}")
    return rewards, problems


@functions_app.command("test")
def test_function(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="NAME, NAME:QUALIFIER or ARN.")],
    file: Annotated[Path, typer.Option("--file", exists=True, dir_okay=False, help="JSONL dataset.")],
    model: Annotated[str | None, typer.Option(help="Sample completions from this model.")] = None,
    samples: Annotated[int, typer.Option(help="Completions per prompt with --model.")] = 4,
    key_id: KeyIdOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score dataset lines with the function before training: distribution, no-signal share, errors."""
    config = get_config(ctx)
    cases = read_cases(file.read_text())
    if model:
        sample_completions(config, model, cases, samples)
    missing = [c.line for c in cases if not c.completions]
    if missing:
        err_console.print(
            f"[red]error:[/] lines {missing[:10]} have no completion: end `messages` with an assistant turn, add "
            "a `completion` field, or pass --model to sample"
        )
        raise typer.Exit(2)
    client = lambda_client(config, key_id)
    try:
        rewards, problems = score_cases(client, name, cases)
    except Exception as exc:
        err_console.print(f"[red]error:[/] {_client_errors(exc)}")
        raise typer.Exit(1) from None
    report = summarize(rewards)
    report["errors"] = len(problems)
    report["error_families"] = dict(Counter(p.split(": ")[1] for p in problems))
    if as_json:
        print_json({**report, "error_details": problems})
        return
    _print_report(report, problems)


def _print_report(report: dict[str, Any], problems: list[str]) -> None:
    if report["samples"]:
        console.print(
            f"{report['samples']} scored samples: mean {report['mean']:.4f}  std {report['std']:.4f}  "
            f"min {report['min']:.4f}  max {report['max']:.4f}"
        )
        peak = max(c for _, _, c in report["histogram"]) or 1
        for lo, hi, count in report["histogram"]:
            console.print(f"  [{lo:7.3f}, {hi:7.3f})  {'#' * round(40 * count / peak):<40} {count}")
        if report["flat_share"] is not None:
            console.print(
                f"prompts whose samples all score the same (no learning signal): {report['flat_share']:.0%} "
                f"of {report['prompts_with_several_samples']}"
            )
    console.print(f"errors: {report['errors']} {report['error_families'] or ''}")
    for line in problems[:10]:
        console.print(f"  {line}", markup=False)
