"""RL from AI feedback: a reward Lambda that asks a judge model served by openrft for a grade.

Each rollout's answer goes to the judge (``JUDGE_MODEL``, a model of this openrft installation) with the
question and the item's ``rubric``; the judge replies with a grade from 0 to 10, and the reward is
grade / 10 (0 when no grade can be read from the reply: ``judge_parsed`` is then 0).

The call is an ordinary openai SDK call: the SDK reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from
the environment, which openrft sets on every invocation when the function's Role is an openrft role
(temporary credentials of that role, as AWS Lambda sets AWS_ACCESS_KEY_ID and friends). The function can
therefore call exactly what its role allows: with ``models:InvokeModel`` on the judge it gets grades;
without it the judge call is refused (HTTP 403, ``openai.PermissionDeniedError``), the handler lets the
error propagate, and the grader reports it on every sample of the batch rather than training on zeros.
"""

from __future__ import annotations

import os
import re
from typing import Any

GRADE_RE = re.compile(r"(?<![\d.])(10|\d)(?:\s*/\s*10)?(?![\d.])")
JUDGE_MAX_TOKENS = 8
SYSTEM = (
    "You grade answers. Read the question, the rubric and the answer, then reply with one integer from 0 "
    "(useless) to 10 (meets every point of the rubric) and nothing else."
)


def judge_messages(question: str, answer: str, rubric: str) -> list[dict[str, str]]:
    """What the judge is asked: the rubric, the question and the answer to grade."""
    user = f"Question: {question}\nRubric: {rubric}\nAnswer: {answer}\nGrade (0-10):"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_grade(reply: str | None) -> int | None:
    """The first integer 0-10 standing alone in the judge's reply ("7", "7/10", "Grade: 10"); None if none."""
    match = GRADE_RE.search(reply or "")
    return int(match.group(1)) if match else None


def _last(messages: list[dict[str, Any]], role: str) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == role), "")


def score(rollout: dict[str, Any], reply: str | None) -> dict[str, Any]:
    """One rollout's result in Bedrock's reward contract, from the judge's reply."""
    grade = parse_grade(reply)
    reward = 0.0 if grade is None else grade / 10
    return {
        "id": rollout["id"],
        "aggregate_reward_score": reward,
        "metrics_list": [
            {"name": "judge_grade", "value": float(grade or 0), "type": "Metric"},
            {"name": "judge_parsed", "value": float(grade is not None), "type": "Metric"},
        ],
    }


def lambda_handler(event: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
    import openai  # the SDK is importable in openrft's sandbox (and packaged with a function on AWS)

    client = openai.OpenAI(max_retries=1, timeout=60)  # OPENAI_BASE_URL, OPENAI_API_KEY: the invocation's
    model = os.environ["JUDGE_MODEL"]
    results = []
    for rollout in event:
        messages = rollout.get("messages") or []
        rubric = str(rollout.get("rubric") or (rollout.get("metadata") or {}).get("rubric") or "a correct answer")
        reply = client.chat.completions.create(
            model=model,
            messages=judge_messages(_last(messages, "user"), _last(messages, "assistant"), rubric),  # type: ignore[arg-type]
            max_tokens=JUDGE_MAX_TOKENS,
            temperature=0,
        )
        results.append(score(rollout, reply.choices[0].message.content))
    return results
