"""RL from AI feedback against a running openrft server: a judge model grades, a reward Lambda asks it.

Steps, with boto3 and the openai SDK only (what the same code does against AWS, endpoint aside):

1. sts.get_caller_identity: the account id that ARNs of this project carry;
2. iam.create_role with a trust policy for lambda.amazonaws.com, and iam.put_role_policy allowing
   ``models:InvokeModel`` on the judge model's ARN only (``--no-model-access``: no such policy);
3. lambda.create_function (or update) with that Role and ``JUDGE_MODEL`` in its environment, then
   publish_version; openrft gives each invocation temporary credentials of the role, which the openai
   SDK inside the function picks up (OPENAI_BASE_URL, OPENAI_API_KEY);
4. one lambda.invoke on a sample answer, to show the judge's grade (or, without model access, the
   403 the judge call gets);
5. upload data/, create an RFT job graded by the function (the lambda grader), and follow it.

    export OPENRFT_API_KEY=...   OPENRFT_KEY_ID=admin   # OPENRFT_BASE_URL=http://127.0.0.1:8000
    python examples/rlaif/run.py [--judge-model smollm2-135m-instruct] [--no-model-access] [--no-train]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import rft_walkthrough

HERE = Path(__file__).resolve().parent
FUNCTION = "rlaif-judge-reward"
ROLE = "rlaif-judge-caller"
REGION = "us-east-1"
HYPERPARAMETERS = {
    "n_epochs": 1,
    "batch_size": 4,
    "samples_per_prompt": 4,
    "max_completion_tokens": 48,
    "eval_interval": 2,
    "eval_samples": 6,
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def aws_client(args: argparse.Namespace, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=args.base_url,
        region_name=REGION,
        aws_access_key_id=args.key_id,
        aws_secret_access_key=args.api_key,
        config=Config(retries={"max_attempts": 2}, read_timeout=300),
    )


def model_arn(account: str, model: str) -> str:
    """An openrft model's ARN, what a policy's Resource names (models:InvokeModel's resource)."""
    return f"arn:openrft:models:{REGION}:{account}:model/{model}"


def invoke_policy(account: str, judge_model: str) -> dict[str, Any]:
    """Least privilege for the reward function: call the judge model, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AskTheJudge",
                "Effect": "Allow",
                "Action": "models:InvokeModel",
                "Resource": model_arn(account, judge_model),
            }
        ],
    }


def create_role(iam: Any, account: str, judge_model: str, *, model_access: bool, name: str = ROLE) -> str:
    """The function's execution role (created or reused); returns its ARN."""
    try:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
                               Description="RLAIF example: the reward Lambda's identity")  # fmt: skip
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=name)
    if model_access:
        iam.put_role_policy(RoleName=name, PolicyName="invoke-judge",
                            PolicyDocument=json.dumps(invoke_policy(account, judge_model)))  # fmt: skip
    else:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
    print(f"role {role['Role']['Arn']}: models:InvokeModel on {judge_model}: {'yes' if model_access else 'no'}")
    return str(role["Role"]["Arn"])


def deploy(lam: Any, role_arn: str, judge_model: str, *, name: str = FUNCTION) -> str:
    """Create or update the reward function with the role; publish a version; returns "NAME:VERSION"."""
    code = rft_walkthrough.zip_folder(HERE / "reward")
    config = {"Role": role_arn, "Environment": {"Variables": {"JUDGE_MODEL": judge_model}}, "Timeout": 300}
    try:
        lam.get_function(FunctionName=name)
        lam.update_function_code(FunctionName=name, ZipFile=code)
        lam.update_function_configuration(FunctionName=name, **config)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": code}, MemorySize=512, **config)  # fmt: skip
    version = lam.publish_version(FunctionName=name)
    print(f"deployed {name} version {version['Version']} with role {role_arn}")
    return f"{name}:{version['Version']}"


def try_once(lam: Any, function: str, row: dict[str, Any], answer: str) -> dict[str, Any]:
    """Invoke the function on one answer: its result, or the error the judge call raised."""
    event = [{"id": "try-1", "messages": [*row["messages"], {"role": "assistant", "content": answer}],
              "rubric": row["rubric"], "metadata": {"rubric": row["rubric"]}}]  # fmt: skip
    out = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    body: dict[str, Any] | list[Any] = json.loads(out["Payload"].read())
    if out.get("FunctionError"):
        print(f"the function failed: {body['errorType']}: {body['errorMessage'][:300]}")  # type: ignore[call-overload]
        return {"error": body}
    print(f"judge's reward for a sample answer: {body[0]['aggregate_reward_score']}")  # type: ignore[index]
    return {"result": body[0]}  # type: ignore[index]


def main(args: argparse.Namespace) -> Any:
    if not args.api_key:
        sys.exit("set OPENRFT_API_KEY (or --api-key) to a key of the server")
    args.base_url = args.base_url.rstrip("/")
    account = aws_client(args, "sts").get_caller_identity()["Account"]
    role_arn = create_role(aws_client(args, "iam"), account, args.judge_model, model_access=not args.no_model_access)
    lam = rft_walkthrough.lambda_client(args)
    function = deploy(lam, role_arn, args.judge_model)
    rows = rft_walkthrough.read_jsonl(HERE / "data" / "valid.jsonl")
    tried = try_once(lam, function, rows[0], "Overfitting is when a model memorises noise and fails on new data.")
    if args.no_train or "error" in tried:
        return tried
    client = rft_walkthrough.openai_client(args)
    params = {**HYPERPARAMETERS, **json.loads(args.hyperparameters)}
    job_id = rft_walkthrough.create_job(
        client,
        model=args.model,
        training_file=rft_walkthrough.upload(client, HERE / "data" / "train.jsonl", args.train_rows),
        validation_file=rft_walkthrough.upload(client, HERE / "data" / "valid.jsonl"),
        grader={"type": "lambda", "lambda": {"function": function}},
        hyperparameters=params,
        suffix="rlaif",
    )
    job = rft_walkthrough.follow(client, job_id, ["judge_grade", "judge_parsed"])
    print(f"job {job.id}: {job.status}, fine-tuned model {job.fine_tuned_model}")
    return job


def parser() -> argparse.ArgumentParser:
    p = rft_walkthrough.parser(__doc__.splitlines()[0], HYPERPARAMETERS)
    p.add_argument("--judge-model", default="smollm2-135m-instruct", help="the model that grades (served here)")
    p.add_argument("--no-model-access", action="store_true", help="a role without models:InvokeModel (403)")
    p.add_argument("--no-train", action="store_true", help="stop after the one invocation")
    return p


if __name__ == "__main__":
    main(parser().parse_args())
