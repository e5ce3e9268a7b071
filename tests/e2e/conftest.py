"""End-to-end fixtures: a real server WITH its embedded worker, and the user's workflow as steps.

Every step goes through a public client, as a user would: projects and keys through the admin API
(httpx), the reward function through boto3 (SigV4), files, jobs, models and chat through the openai SDK.
The tiny base model is tests/inference/tiny.py's builder (a 2-layer Llama with a byte-level BPE
tokenizer), registered as a base model before the server starts.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import httpx
import openai
import pytest

from openrft.api.server import start_in_thread
from openrft.inference.registry import add_base_model
from openrft.settings import Settings
from openrft.store.db import Store
from tests.conftest import ADMIN_KEY
from tests.inference.tiny import build_tiny_model

TINY_BASE = "tiny-base"
FUNCTION = "has-word"
ALIAS = "live"
# Bedrock's reward contract: a list of rollouts in, one score (and optional metrics) per rollout out.
# SLOW_S (a function environment variable) slows every call, so tests can act while a job runs.
REWARD_SOURCE = """
import os, time

def lambda_handler(event, context):
    time.sleep(float(os.environ.get("SLOW_S", "0")))
    out = []
    for rollout in event:
        text = rollout["messages"][-1]["content"] or ""
        hit = 1.0 if rollout.get("word", "o") in text else 0.0
        out.append({
            "id": rollout["id"],
            "aggregate_reward_score": hit,
            "metrics_list": [
                {"name": "has_word", "value": hit, "type": "Reward"},
                {"name": "completion_chars", "value": float(len(text)), "type": "Metric"},
            ],
        })
    return out
"""
PROMPTS = ["say hello", "the quick fox", "one two three", "how are you", "hello world", "the lazy dog"]
# The smallest settings that still run every part of a step: 2 prompts x 2 samples, 6 new tokens.
TINY_HP: dict[str, Any] = {
    "n_epochs": 1,
    "batch_size": 2,
    "samples_per_prompt": 2,
    "max_completion_tokens": 6,
    "eval_interval": 2,
    "eval_samples": 2,
    "lora_rank": 2,
    "lora_alpha": 4,
    "micro_batch_size": 4,
}


def rows_jsonl(n: int, word: str = "o") -> bytes:
    return b"".join(
        json.dumps({"messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}], "word": word}).encode()
        + b"\n"
        for i in range(n)
    )


def reward_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", REWARD_SOURCE)
    return buf.getvalue()


@dataclass
class Project:
    id: str
    key_id: str
    secret: str


@dataclass
class Deployed:
    name: str
    version: str
    code_sha256: str
    ref: str  # NAME:ALIAS, what the grader names


@dataclass
class Flow:
    """The user's workflow against one server, one step per method."""

    base_url: str
    settings: Settings
    admin_key: str = ADMIN_KEY
    projects: dict[str, Project] = field(default_factory=dict)

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def project(self, name: str) -> Project:
        """A project and a service-account key, through the admin API."""
        admin = {"Authorization": f"Bearer {self.admin_key}"}
        created = httpx.post(f"{self.v1}/organization/projects", json={"name": name}, headers=admin)
        created.raise_for_status()
        project_id = created.json()["id"]
        account = httpx.post(
            f"{self.v1}/organization/projects/{project_id}/service_accounts", json={"name": "ci"}, headers=admin
        )
        account.raise_for_status()
        key = account.json()["api_key"]
        self.projects[name] = Project(project_id, key["id"], key["value"])
        return self.projects[name]

    def client(self, project: Project) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.v1, api_key=project.secret, max_retries=0, timeout=120)

    def lam(self, project: Project) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=self.base_url,
            region_name="us-east-1",
            aws_access_key_id=project.key_id,
            aws_secret_access_key=project.secret,
            config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=120),
        )

    def deploy_reward(self, project: Project, *, slow_s: float = 0.0) -> Deployed:
        """create_function, publish_version, create_alias: the grader names the alias."""
        lam = self.lam(project)
        lam.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role="arn:aws:iam::123456789012:role/reward",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": reward_zip()},
            Environment={"Variables": {"SLOW_S": str(slow_s)}},
            Timeout=30,
        )
        version = lam.publish_version(FunctionName=FUNCTION, Description="e2e")
        lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=version["Version"])
        return Deployed(FUNCTION, version["Version"], version["CodeSha256"], f"{FUNCTION}:{ALIAS}")

    def upload(self, client: openai.OpenAI, n_train: int, n_valid: int) -> tuple[str, str]:
        train = client.files.create(file=("train.jsonl", rows_jsonl(n_train)), purpose="fine-tune")
        valid = client.files.create(file=("valid.jsonl", rows_jsonl(n_valid)), purpose="fine-tune")
        return train.id, valid.id

    def create_job(
        self, client: openai.OpenAI, deployed: Deployed, *, model: str, n_train: int, n_valid: int = 2, **hp: Any
    ) -> Any:
        train, valid = self.upload(client, n_train, n_valid)
        grader = {"type": "lambda", "lambda": {"function": deployed.ref}}  # openrft's grader: not in the SDK's types
        method: Any = {"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": TINY_HP | hp}}
        return client.fine_tuning.jobs.create(
            model=model,
            training_file=train,
            validation_file=valid,
            suffix="e2e",
            seed=3,
            method=method,
        )


def wait_for(
    client: openai.OpenAI, job_id: str, until: Callable[[Any], bool], *, timeout_s: float, what: str = ""
) -> Any:
    """Poll the job until `until(job)`; fail with its events when a terminal status or the deadline comes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if until(job):
            return job
        if job.status in ("failed", "cancelled", "succeeded") or time.monotonic() > deadline:
            pytest.fail(
                f"job {job_id} is {job.status} ({job.error}) while waiting for {what}:\n{event_log(client, job_id)}"
            )
        time.sleep(0.1)


def events(client: openai.OpenAI, job_id: str) -> list[Any]:
    """Every event of the job, oldest first."""
    return list(reversed(list(client.fine_tuning.jobs.list_events(job_id, limit=1000))))


def event_log(client: openai.OpenAI, job_id: str) -> str:
    return "\n".join(f"  [{e.level}] {e.message}" for e in events(client, job_id))


def trainer_pids(job_id: str) -> list[int]:
    """Processes running `openrft.training.run JOB_ID` (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"openrft.training.run" in argv and job_id.encode() in argv:
            pids.append(int(entry))
    return pids


def wait_trainer_gone(job_id: str, timeout_s: float = 20.0) -> list[int]:
    """The trainer exits shortly after it records the outcome; [] once it has, else the pids still there."""
    deadline = time.monotonic() + timeout_s
    while (pids := trainer_pids(job_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pids


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("e2e-tiny") / "base")


def serve(settings: Settings) -> Iterator[Flow]:
    server = start_in_thread(settings, embedded_worker=True)
    try:
        yield Flow(server.base_url, settings)
    finally:
        server.stop(timeout_s=30)


@pytest.fixture
def flow(settings: Settings, tiny_base_dir: Path) -> Iterator[Flow]:
    """A server with its embedded worker, and the tiny base model registered."""
    store = Store.from_settings(settings)
    add_base_model(store, settings, TINY_BASE, tiny_base_dir)
    store.dispose()
    yield from serve(settings)


@pytest.fixture
def real_flow(settings: Settings) -> Iterator[Flow]:
    """A server with its embedded worker and only the bundled base model."""
    yield from serve(settings)
