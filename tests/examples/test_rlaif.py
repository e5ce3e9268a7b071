"""The RLAIF example (examples/rlaif/): its reward Lambda's grading by hand, then live with the tiny model.

Live: a server with its embedded worker and the tiny random model as both the judge and the model
trained. The function's role is created with boto3's iam client when the server answers it (else
with openrft.auth.iam directly, the same rows), the function deployed with that Role through boto3, and
the judge is called from inside the sandbox with the openai SDK and the invocation's temporary
credentials. With models:InvokeModel on the judge the job trains; a role without it gets 403 from the
judge, which the grader reports on every sample.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest
from botocore.parsers import ResponseParserError

from openrft.api.server import free_port, start_in_thread
from openrft.auth import iam, sts
from openrft.context import build_context
from openrft.inference.registry import add_base_model
from openrft.settings import Settings
from openrft.store.db import Store
from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import TINY_BASE, Flow, Project, wait_for
from tests.examples.loader import EXAMPLES, load_example_module
from tests.inference.tiny import build_tiny_model

reward = load_example_module("rlaif", "reward/lambda_function.py")
run = load_example_module("rlaif", "run.py")
JUDGE = "tiny-judge"  # the tiny model again, with room for the judge's prompt (1,024 tokens, not 96)
TINY_HP = {"n_epochs": 1, "batch_size": 2, "samples_per_prompt": 2, "max_completion_tokens": 6, "eval_interval": 2,
           "eval_samples": 2, "lora_rank": 2, "lora_alpha": 4, "micro_batch_size": 4}  # fmt: skip


# ---------------------------------------------------------------- the reward, by hand


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ("7", 7),
        ("7/10", 7),
        ("Grade: 10", 10),
        ("10/10, excellent", 10),
        ("0", 0),
        (" 3 out of 10", 3),
        ("12", None),  # not a grade: 12 > 10, and no digit of it stands alone
        ("7.5", None),  # a decimal is not an integer grade
        ("great answer", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_grade(reply: str | None, grade: int | None) -> None:
    assert reward.parse_grade(reply) == grade


def test_score_is_grade_over_ten_with_its_metrics() -> None:
    assert reward.score({"id": "a"}, "8") == {
        "id": "a",
        "aggregate_reward_score": 0.8,
        "metrics_list": [
            {"name": "judge_grade", "value": 8.0, "type": "Metric"},
            {"name": "judge_parsed", "value": 1.0, "type": "Metric"},
        ],
    }
    unparsed = reward.score({"id": "b"}, "no idea")
    assert unparsed["aggregate_reward_score"] == 0.0
    assert [m["value"] for m in unparsed["metrics_list"]] == [0.0, 0.0]


def test_handler_asks_the_judge_once_per_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, Any]] = []
    replies = iter(["9", "Grade: 4", "dunno"])

    class Completions:
        def create(self, **kwargs: Any) -> Any:
            asked.append(kwargs)
            message = types.SimpleNamespace(content=next(replies))
            return types.SimpleNamespace(choices=[types.SimpleNamespace(message=message)])

    class FakeOpenAI:
        def __init__(self, **kwargs: Any) -> None:
            self.chat = types.SimpleNamespace(completions=Completions())

    monkeypatch.setitem(sys.modules, "openai", types.SimpleNamespace(OpenAI=FakeOpenAI))
    monkeypatch.setenv("JUDGE_MODEL", "judge-1")
    event: list[dict[str, Any]] = [
        {"id": f"s{i}", "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "rubric": f"r{i}"}
        for i in range(3)
    ]  # fmt: skip
    event[2] = {**event[2], "rubric": None, "metadata": {"rubric": "from metadata"}}
    out = reward.lambda_handler(event, None)
    assert [r["aggregate_reward_score"] for r in out] == [0.9, 0.4, 0.0]
    assert [a["model"] for a in asked] == ["judge-1"] * 3
    assert asked[0]["messages"][1]["content"] == "Question: q0\nRubric: r0\nAnswer: a0\nGrade (0-10):"
    assert "Rubric: from metadata" in asked[2]["messages"][1]["content"]
    assert asked[0]["temperature"] == 0 and asked[0]["max_tokens"] == reward.JUDGE_MAX_TOKENS


def test_policy_names_only_the_judge() -> None:
    policy = run.invoke_policy("123456789012", "tiny-base")
    assert policy["Statement"] == [
        {
            "Sid": "AskTheJudge",
            "Effect": "Allow",
            "Action": "models:InvokeModel",
            "Resource": "arn:openrft:models:us-east-1:123456789012:model/tiny-base",
        }
    ]


def test_dataset_rows_have_a_prompt_and_a_rubric() -> None:
    for name, count in (("train.jsonl", 14), ("valid.jsonl", 6)):
        rows = [json.loads(line) for line in (EXAMPLES / "rlaif" / "data" / name).read_text().splitlines()]
        assert len(rows) == count
        assert all(r["messages"][-1]["role"] == "user" and r["rubric"] for r in rows)


# ---------------------------------------------------------------- live, with the tiny model


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rlaif-tiny")
    return {TINY_BASE: build_tiny_model(folder / "base"), JUDGE: build_tiny_model(folder / "judge", context=1024)}


@pytest.fixture
def flow(tmp_path: Path, tiny_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flow]:
    """A server with its embedded worker at a port known in advance: the trainer's functions reach it.

    The trainer runs in its own process with settings from the environment, so OPENRFT_PUBLIC_URL (the
    relay's destination there) is set before the server starts.
    """
    port = free_port()
    home = tmp_path / "home"
    monkeypatch.setenv("OPENRFT_HOME", str(home))
    monkeypatch.setenv("OPENRFT_PUBLIC_URL", f"http://127.0.0.1:{port}")
    settings = Settings(home=home, admin_key=ADMIN_KEY, lease_s=3.0, heartbeat_s=0.5, poll_s=0.2, port=port)
    store = Store.from_settings(settings)
    for name, folder in tiny_dirs.items():
        add_base_model(store, settings, name, folder)
    store.dispose()
    server = start_in_thread(settings, embedded_worker=True, port=port)
    try:
        yield Flow(server.base_url, settings)
    finally:
        server.stop(timeout_s=30)


def args_for(flow: Flow, project: Project, *, no_model_access: bool) -> Any:
    argv = ["--base-url", flow.base_url, "--api-key", project.secret, "--key-id", project.key_id,
            "--judge-model", JUDGE, "--model", TINY_BASE, "--hyperparameters", json.dumps(TINY_HP),
            "--train-rows", "4"]  # fmt: skip
    return run.parser().parse_args(argv + (["--no-model-access"] if no_model_access else []))


def make_role(flow: Flow, project: Project, args: Any) -> str:
    """The example's own boto3 calls where the server answers iam; else the same role through openrft.auth.iam."""
    try:
        account = run.aws_client(args, "sts").get_caller_identity()["Account"]
        return str(run.create_role(run.aws_client(args, "iam"), account, JUDGE,
                                   model_access=not args.no_model_access))  # fmt: skip
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, ResponseParserError) as exc:
        print(f"the server does not answer boto3's iam/sts yet ({exc}); creating the role directly")
    from openrft.functions.arn import account_id

    ctx = build_context(flow.settings)
    with ctx.store.begin() as conn:
        role = iam.create_role(conn, project.id, name=run.ROLE, trust_policy=run.LAMBDA_TRUST)
        if not args.no_model_access:
            policy = run.invoke_policy(account_id(project.id), JUDGE)
            iam.put_inline_policy(conn, project_id=project.id, principal_type="role", principal_id=role.id,
                                  name="invoke-judge", document=policy)  # fmt: skip
    return role.arn


def require_session_bearer(flow: Flow, role_arn: str, project: Project) -> None:
    ctx = build_context(flow.settings)
    token = sts.issue_for_service(ctx.store, ctx.cipher, project_id=project.id, role_arn=role_arn,
                                  session_name="probe").session_token  # fmt: skip
    answer = httpx.get(f"{flow.v1}/models", headers={"Authorization": f"Bearer {token}"})
    if answer.status_code == 401:
        pytest.skip("the server does not accept a session token as a Bearer secret yet (the lead's wiring)")


def test_rlaif_trains_with_its_judge(flow: Flow) -> None:
    project = flow.project("rlaif")
    args = args_for(flow, project, no_model_access=False)
    role_arn = make_role(flow, project, args)
    require_session_bearer(flow, role_arn, project)
    lam = run.rft_walkthrough.lambda_client(args)
    function = run.deploy(lam, role_arn, JUDGE)
    row = run.rft_walkthrough.read_jsonl(EXAMPLES / "rlaif" / "data" / "valid.jsonl")[0]
    tried = run.try_once(lam, function, row, "An answer.")
    assert "result" in tried, tried  # the judge answered (a random model: any grade, or none parsed)
    assert 0.0 <= tried["result"]["aggregate_reward_score"] <= 1.0
    client = flow.client(project)
    job_id = run.rft_walkthrough.create_job(
        client,
        model=TINY_BASE,
        training_file=run.rft_walkthrough.upload(client, EXAMPLES / "rlaif" / "data" / "train.jsonl", 4),
        validation_file=run.rft_walkthrough.upload(client, EXAMPLES / "rlaif" / "data" / "valid.jsonl", 2),
        grader={"type": "lambda", "lambda": {"function": function}},
        hyperparameters=TINY_HP,
        suffix="rlaif",
    )
    job = wait_for(client, job_id, lambda j: j.status == "succeeded", timeout_s=300, what="the RLAIF job")
    assert job.fine_tuned_model
    steps: list[Any] = [e.data for e in client.fine_tuning.jobs.list_events(job_id, limit=1000) if e.type == "metrics"]
    assert steps, "no metrics events"
    for m in steps:  # the judge's grades are the function's metrics_list: it ran, and its judge answered
        assert {"judge_grade", "judge_parsed"} <= set(m), m.keys()
        assert 0.0 <= m["scores"]["train_reward_mean"] <= 1.0


def test_role_without_model_access_is_refused_by_the_judge(flow: Flow) -> None:
    project = flow.project("rlaif-denied")
    args = args_for(flow, project, no_model_access=True)
    role_arn = make_role(flow, project, args)
    require_session_bearer(flow, role_arn, project)
    lam = run.rft_walkthrough.lambda_client(args)
    function = run.deploy(lam, role_arn, JUDGE)
    row = run.rft_walkthrough.read_jsonl(EXAMPLES / "rlaif" / "data" / "valid.jsonl")[0]
    tried = run.try_once(lam, function, row, "An answer.")
    assert tried["error"]["errorType"] == "PermissionDeniedError", tried
    assert "403" in tried["error"]["errorMessage"] and "models:InvokeModel" in tried["error"]["errorMessage"]
    # the lambda grader reports it on every sample (the graders run API, as a job's step would)
    answer = httpx.post(
        f"{flow.v1}/fine_tuning/alpha/graders/run",
        headers={"Authorization": f"Bearer {project.secret}"},
        json={"grader": {"type": "lambda", "lambda": {"function": function}}, "model_sample": "An answer.",
              "item": {"rubric": row["rubric"]}},
        timeout=120,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reward"] == 0.0
    errors = body["metadata"]["errors"]
    assert errors["python_grader_runtime_error"] is True, body
    assert "PermissionDeniedError" in errors["python_grader_runtime_error_details"], body
    assert "403" in errors["python_grader_runtime_error_details"], body
