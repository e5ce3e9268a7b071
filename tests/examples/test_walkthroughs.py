"""The walkthroughs' steps against a real server through boto3 and the openai SDK (no training).

Each example's reward is zipped, deployed and published with boto3, its files uploaded, its RFT job
created (it stays queued: the test server has no worker), and the deployed function scores the
dataset's ideal and empty answers through `invoke`, as the walkthrough's evaluation does.
"""

import argparse
import json
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.examples.loader import EXAMPLES, load_example_module
from tests.examples.test_datasets import IDEAL

walkthrough = load_example_module(".", "rft_walkthrough.py")

FUNCTIONS = {
    "legal_compliance": "gdpr-citation-reward",
    "maintenance_diagnostics": "aquila-diagnosis-reward",
    "banking": "banking-answer-reward",
}


def args_for(live_server: LiveServer, example: str) -> argparse.Namespace:
    args = walkthrough.parser("test", {}).parse_args(
        ["--base-url", live_server.base_url, "--api-key", live_server.admin_key, "--key-id", "admin"]
    )
    args.folder = EXAMPLES / example
    return args


@pytest.mark.parametrize("example", list(FUNCTIONS))
def test_deploy_upload_create_and_score(live_server: LiveServer, example: str) -> None:
    args = args_for(live_server, example)
    lam, client = walkthrough.lambda_client(args), walkthrough.openai_client(args)
    folder: Path = args.folder
    function = walkthrough.deploy_reward(lam, FUNCTIONS[example], folder / "reward", "test")
    assert function == f"{FUNCTIONS[example]}:1"
    # unchanged code: publish_version returns the version already published, as on AWS
    assert walkthrough.deploy_reward(lam, FUNCTIONS[example], folder / "reward", "test") == function

    train = walkthrough.upload(client, folder / "data" / "train.jsonl")
    five = walkthrough.upload(client, folder / "data" / "train.jsonl", 5)
    lines = (folder / "data" / "train.jsonl").read_bytes().splitlines(keepends=True)
    assert client.files.retrieve(five).bytes == len(b"".join(lines[:5]))
    valid = walkthrough.upload(client, folder / "data" / "valid.jsonl")
    graders = [{"type": "lambda", "lambda": {"function": function}}]
    if example == "banking":
        graders.append(json.loads((folder / "multi_grader.json").read_text()))
    for grader in graders:
        job_id = walkthrough.create_job(
            client,
            model="smollm2-135m-instruct",
            training_file=train,
            validation_file=valid,
            grader=grader,
            hyperparameters=load_example_module(example, "walkthrough.py").HYPERPARAMETERS,
            suffix=example,
        )
        job = client.fine_tuning.jobs.retrieve(job_id)
        assert job.method is not None and job.method.reinforcement is not None
        assert job.method.reinforcement.grader.type == grader["type"]

    rows = walkthrough.read_jsonl(folder / "data" / "valid.jsonl")[:8]
    ideal = [IDEAL[example]({k: v for k, v in row.items() if k != "messages"}) for row in rows]
    assert walkthrough.score(lam, function, rows, ideal) == [1.0] * len(rows)
    assert walkthrough.score(lam, function, rows, [""] * len(rows)) == [0.0] * len(rows)


def test_criteria_line_reads_lambda_metrics_and_multi_sub_graders() -> None:
    data = {
        "disclaimer": 0.5,
        "positioning": 0.25,
        "scores": {
            "train_reward_mean": 0.4,
            "graders": [
                {"name": "banking answer", "train_reward_mean": 0.4},
                {"name": "profile", "train_reward_mean": 0.75},
            ],
        },
    }
    line = walkthrough.criteria(data, ["disclaimer", "positioning", "profile_fit"])
    assert line == "disclaimer=0.50 positioning=0.25 profile=0.75"
