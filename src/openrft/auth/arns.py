"""The ARNs that policies name: one function per kind of resource, in the caller's account.

openrft resources are named as AWS names its own: `arn:<partition>:<service>:<region>:<account>:<resource>`,
the account being the project's 12-digit pseudo account (`openrft.functions.arn.account_id`). Our own
services use the partition `openrft` (`arn:openrft:files:us-east-1:123456789012:file/file-abc`); Lambda
functions and IAM entities keep AWS's own (`arn:aws:lambda:...:function:name`, `arn:aws:iam::...:role/r`),
so a policy written for AWS reads the same here. A collection (create, list) is the kind's `*`: a
policy that grants one file does not grant listing them all.
"""

from __future__ import annotations

from openrft.functions.arn import REGION, account_id, function_arn


def files(project_id: str, file_id: str = "*") -> str:
    return f"arn:openrft:files:{REGION}:{account_id(project_id)}:file/{file_id}"


def job(project_id: str, job_id: str = "*") -> str:
    return f"arn:openrft:fine_tuning:{REGION}:{account_id(project_id)}:job/{job_id}"


def graders(project_id: str) -> str:
    return f"arn:openrft:fine_tuning:{REGION}:{account_id(project_id)}:grader/*"


def model(project_id: str, model_id: str = "*") -> str:
    return f"arn:openrft:models:{REGION}:{account_id(project_id)}:model/{model_id}"


def evaluation(project_id: str, eval_id: str = "*", run_id: str | None = None) -> str:
    arn = f"arn:openrft:evals:{REGION}:{account_id(project_id)}:eval/{eval_id}"
    return f"{arn}/run/{run_id}" if run_id else arn


def reviews(project_id: str) -> str:
    return f"arn:openrft:evals:{REGION}:{account_id(project_id)}:review/*"


def preflight(project_id: str, preflight_id: str = "*") -> str:
    return f"arn:openrft:evals:{REGION}:{account_id(project_id)}:preflight/{preflight_id}"


def audit_trail(project_id: str) -> str:
    return f"arn:openrft:audit:{REGION}:{account_id(project_id)}:trail"


def function(project_id: str, name: str = "*", qualifier: str | None = None) -> str:
    return function_arn(project_id, name, qualifier)


def role(project_id: str, name: str = "*", path: str = "/") -> str:
    return f"arn:aws:iam::{account_id(project_id)}:role{path}{name}"


def policy(project_id: str, name: str = "*", path: str = "/") -> str:
    return f"arn:aws:iam::{account_id(project_id)}:policy{path}{name}"


def project(project_id: str = "*") -> str:
    return f"arn:openrft:organization:::project/{project_id}"
