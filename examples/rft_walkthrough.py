"""The steps the three example walkthroughs share, written with the openai SDK and boto3 only.

Nothing here imports openrft: it is what your own code against an openrft server (or, with the ARN
and endpoint changed, Amazon Bedrock) looks like. Each example's walkthrough.py calls `main` with its
folder, its reward function's name and its default hyperparameters.

    deploy_reward  zip reward/ and create_function or update_function_code, then publish_version
    upload         files.create(purpose="fine-tune") for data/train.jsonl and data/valid.jsonl
    preflight      a few base-model samples scored by the reward: is there a learning signal?
    create_job     fine_tuning.jobs.create with method.reinforcement (lambda grader, or one from a file)
    follow         print each metrics event: step, train/validation reward, the reward's criteria
    evaluate       greedy answers of a model on the validation prompts, scored by the deployed reward

Connection: --base-url / OPENRFT_BASE_URL (default http://127.0.0.1:8000), --api-key / OPENRFT_API_KEY
(the Bearer secret, also the AWS secret access key) and --key-id / OPENRFT_KEY_ID (the SigV4 access
key id: the key's id, `admin` for the server's admin key).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import openai
from botocore.config import Config

TERMINAL = {"succeeded", "failed", "cancelled", "paused"}


def lambda_client(args: argparse.Namespace) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=args.base_url,
        region_name="us-east-1",
        aws_access_key_id=args.key_id,
        aws_secret_access_key=args.api_key,
        config=Config(retries={"max_attempts": 2}, read_timeout=300),
    )


def openai_client(args: argparse.Namespace) -> openai.OpenAI:
    return openai.OpenAI(base_url=args.base_url + "/v1", api_key=args.api_key, timeout=300, max_retries=2)


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.py")):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def deploy_reward(client: Any, name: str, folder: Path, description: str) -> str:
    """Create or update the function from `folder`, publish a version; returns "NAME:VERSION"."""
    code = zip_folder(folder)
    try:
        client.get_function(FunctionName=name)
        client.update_function_code(FunctionName=name, ZipFile=code)
    except client.exceptions.ResourceNotFoundException:
        client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/openrft-reward",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": code},
            Timeout=60,
            MemorySize=256,
            Description=description,
        )
    version = client.publish_version(FunctionName=name)
    print(f"deployed {name} version {version['Version']} (CodeSha256 {version['CodeSha256'][:12]}...)")
    return f"{name}:{version['Version']}"


def upload(client: openai.OpenAI, path: Path, max_rows: int | None = None) -> str:
    """Upload a JSONL file for fine-tuning (its first `max_rows` lines when given: quick trial runs)."""
    lines = path.read_bytes().splitlines(keepends=True)[:max_rows]
    file = client.files.create(file=(path.name, b"".join(lines)), purpose="fine-tune")
    print(f"uploaded {len(lines)} rows of {path.name} as {file.id}")
    return file.id


def create_job(
    client: openai.OpenAI,
    *,
    model: str,
    training_file: str,
    validation_file: str,
    grader: dict[str, Any],
    hyperparameters: dict[str, Any],
    suffix: str,
    guard_graders: list[dict[str, Any]] | None = None,
) -> str:
    reinforcement: dict[str, Any] = {"grader": grader, "hyperparameters": hyperparameters}
    if guard_graders:  # openrft's extension: scored on the validation set, never part of the reward
        reinforcement["guard_graders"] = guard_graders
    job = client.fine_tuning.jobs.create(
        model=model,
        training_file=training_file,
        validation_file=validation_file,
        suffix=suffix,
        seed=42,
        extra_body={"method": {"type": "reinforcement", "reinforcement": reinforcement}},
    )
    print(f"created job {job.id} ({job.status}), grader type {grader['type']}")
    return job.id


def criteria(data: dict[str, Any], metric_names: list[str]) -> str:
    """The reward's criteria in a metrics event: the Lambda's metrics_list means, or a multi's sub-graders."""
    parts = [f"{name}={data[name]:.2f}" for name in metric_names if isinstance(data.get(name), int | float)]
    graders = (data.get("scores") or {}).get("graders") or []
    for grader in graders[1:]:  # the first entry is the top grader itself
        if isinstance(grader.get("train_reward_mean"), int | float):
            parts.append(f"{grader['name']}={grader['train_reward_mean']:.2f}")
    return " ".join(parts)


def follow(client: openai.OpenAI, job_id: str, metric_names: list[str]) -> Any:
    """Print the job's events as they come, the reward per step on one line; returns the final job."""
    seen: set[str] = set()
    while True:
        events = client.fine_tuning.jobs.list_events(job_id, limit=100).data
        for event in reversed(events):
            if event.id in seen:
                continue
            seen.add(event.id)
            data = event.data if isinstance(event.data, dict) else {}
            if event.type == "metrics" and "step" in data:
                scores = data.get("scores") or {}
                train = scores.get("train_reward_mean", float("nan"))
                line = f"step {data['step']}/{data.get('total_steps', '?')} train reward {train:.3f}"
                if "valid_reward_mean" in scores:
                    line += f" valid reward {scores['valid_reward_mean']:.3f}"
                print(f"{line}  {criteria(data, metric_names)}")
            else:
                print(f"[{event.level}] {event.message}")
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in TERMINAL:
            return job
        time.sleep(3)


def score(client: Any, function: str, rows: list[dict[str, Any]], answers: list[str]) -> list[float]:
    """Rewards of `answers` from the deployed function, sent in Bedrock's event shape."""
    name, _, qualifier = function.partition(":")
    events = [
        {
            "id": f"eval-{i}",
            "messages": [*row["messages"], {"role": "assistant", "content": answer}],
            **{k: v for k, v in row.items() if k != "messages"},
            "metadata": {k: v for k, v in row.items() if k != "messages"},
        }
        for i, (row, answer) in enumerate(zip(rows, answers, strict=True))
    ]
    response = client.invoke(FunctionName=name, Qualifier=qualifier or "$LATEST", Payload=json.dumps(events))
    payload = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise RuntimeError(f"the reward function failed: {payload}")
    by_id = {r["id"]: float(r["aggregate_reward_score"]) for r in payload}
    return [by_id[e["id"]] for e in events]


def answers_of(client: openai.OpenAI, model: str, rows: list[dict[str, Any]], max_tokens: int) -> list[str]:
    out = []
    for row in rows:
        completion = client.chat.completions.create(
            model=model, messages=row["messages"], temperature=0.0, max_tokens=max_tokens
        )
        out.append((completion.choices[0].message.content or "").strip())
    return out


def preflight(args: argparse.Namespace, function: str, model: str, max_tokens: int, temperature: float) -> None:
    """Score a few sampled answers of the base model before training: a reward that gives every sample
    of a prompt the same score teaches nothing, and this shows it in a minute instead of after a job."""
    rows = read_jsonl(args.folder / "data" / "train.jsonl")
    rows = rows[:: max(1, len(rows) // args.preflight_prompts)][: args.preflight_prompts]  # spread over the file
    oai, group = openai_client(args), 4
    answers = []
    for row in rows:
        completion = oai.chat.completions.create(
            model=model, messages=row["messages"], n=group, temperature=temperature, max_tokens=max_tokens, seed=0
        )
        answers.append([(c.message.content or "").strip() for c in completion.choices])
    flat_rows = [row for row in rows for _ in range(group)]
    rewards = score(lambda_client(args), function, flat_rows, [a for g in answers for a in g])
    groups = [rewards[i : i + group] for i in range(0, len(rewards), group)]
    flat = sum(1 for g in groups if max(g) == min(g)) / len(groups)
    print(
        f"preflight: {len(rewards)} base-model samples, mean reward {statistics.fmean(rewards):.3f}, "
        f"max {max(rewards):.2f}; prompts whose samples all score the same (no learning signal): {flat:.0%}"
    )


def evaluate(args: argparse.Namespace, function: str, models: list[str], max_tokens: int) -> dict[str, float]:
    """Mean reward of each model's greedy answers to the validation prompts; prints a few answers."""
    rows = read_jsonl(args.folder / "data" / "valid.jsonl")[: args.eval_rows]
    oai, lam = openai_client(args), lambda_client(args)
    answers = {m: answers_of(oai, m, rows, max_tokens) for m in models}
    rewards = {m: score(lam, function, rows, answers[m]) for m in models}
    for i, row in enumerate(rows[:3]):
        print(f"\nprompt: {row['messages'][-1]['content']}")
        for m in models:
            print(f"  {rewards[m][i]:.2f}  {m}: {answers[m][i]}")
    print()
    means = {m: statistics.fmean(rewards[m]) for m in models}
    for m in models:
        print(f"mean reward on {len(rows)} held-out prompts: {means[m]:.3f}  {m}")
    return means


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def parser(description: str, hyperparameters: dict[str, Any]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--base-url", default=os.environ.get("OPENRFT_BASE_URL", "http://127.0.0.1:8000"))
    p.add_argument("--api-key", default=os.environ.get("OPENRFT_API_KEY"), help="Bearer secret (env OPENRFT_API_KEY)")
    p.add_argument("--key-id", default=os.environ.get("OPENRFT_KEY_ID", "admin"), help="SigV4 access key id")
    p.add_argument("--model", default="smollm2-135m-instruct", help="base model to fine-tune")
    p.add_argument("--hyperparameters", default="{}", help=f"JSON merged over {json.dumps(hyperparameters)}")
    p.add_argument("--eval-rows", type=int, default=1000, help="held-out prompts in the before/after comparison")
    p.add_argument("--train-rows", type=int, help="upload only the first N training prompts (a quick trial run)")
    p.add_argument("--fine-tuned-model", help="skip training: only compare this model with the base")
    p.add_argument("--preflight-prompts", type=int, default=6, help="base-model check before training (0: skip)")
    return p


def main(
    args: argparse.Namespace,
    *,
    function_name: str,
    description: str,
    hyperparameters: dict[str, Any],
    metric_names: list[str],
    grader: dict[str, Any] | None = None,
    guard_graders: list[dict[str, Any]] | None = None,
) -> None:
    """Deploy, upload, train, follow, compare. `grader` replaces the lambda grader when given."""
    if not args.api_key:
        sys.exit("set OPENRFT_API_KEY (or --api-key) to a key of the server")
    args.base_url = args.base_url.rstrip("/")
    params = {**hyperparameters, **json.loads(args.hyperparameters)}
    reward_folder = args.folder / getattr(args, "reward_folder", "reward")
    function = deploy_reward(lambda_client(args), function_name, reward_folder, description)
    tuned = args.fine_tuned_model
    if tuned is None:
        client = openai_client(args)
        train = upload(client, args.folder / "data" / "train.jsonl", args.train_rows)
        valid = upload(client, args.folder / "data" / "valid.jsonl")
        if args.preflight_prompts > 0:
            max_tokens, temperature = int(params.get("max_completion_tokens", 64)), float(params.get("temperature", 1))
            preflight(args, function, args.model, max_tokens, temperature)
        job_grader = grader or {"type": "lambda", "lambda": {"function": function}}
        job_id = create_job(
            client,
            model=args.model,
            training_file=train,
            validation_file=valid,
            grader=job_grader,
            hyperparameters=params,
            suffix=function_name,
            guard_graders=guard_graders,
        )
        job = follow(client, job_id, metric_names)
        if job.status != "succeeded":
            sys.exit(f"job {job.id} ended {job.status}: {job.error}")
        tuned = job.fine_tuned_model
        print(f"fine-tuned model: {tuned}")
    evaluate(args, function, [args.model, tuned], int(params.get("max_completion_tokens", 64)))
