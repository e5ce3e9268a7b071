"""Answer the held-out requests with a served model and score its tool calls.

Every row of data/valid.jsonl goes to chat.completions with the row's `tools` at temperature 0, one
call per reply unless --parallel (every request needs one call). The reply's `tool_calls` are scored
by this example's grader (reward/grader.py) and, when OPENRFT_BFCL_REWARD (or --bfcl) names AWS's
BFCL reward file, by that function too (bfcl.py). Prints one line per row and the means; --json
writes them.

    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=$OPENRFT_ADMIN_KEY
    python examples/tool_calling/evaluate.py --model smollm2-135m-instruct --tool-choice required
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import openai

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bfcl  # noqa: E402


def grader() -> Any:
    spec = importlib.util.spec_from_file_location("tool_calling_grader", HERE / "reward" / "grader.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(split: str = "valid") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / "data" / f"{split}.jsonl").read_text().splitlines() if line]


def answer(
    client: openai.OpenAI, model: str, row: dict[str, Any], tool_choice: str, max_tokens: int, parallel: bool
) -> Any:
    return client.chat.completions.create(
        model=model,
        messages=row["messages"],
        tools=row["tools"],
        tool_choice=tool_choice,  # type: ignore[arg-type]
        parallel_tool_calls=parallel,
        temperature=0,
        max_tokens=max_tokens,
    )


def evaluate(
    client: openai.OpenAI,
    model: str,
    data: list[dict[str, Any]],
    *,
    tool_choice: str = "auto",
    max_tokens: int = 96,
    parallel: bool = False,
    bfcl_path: str | None = None,
) -> dict[str, Any]:
    """{"rows": [...], "call_rate", "reward_mean", "bfcl_mean" (None without the BFCL file)}."""
    grade = grader().grade
    replies, out = [], []
    for row in data:
        message = answer(client, model, row, tool_choice, max_tokens, parallel).choices[0].message
        calls = [c.model_dump() for c in message.tool_calls or []]
        replies.append((calls, message.content))
        reward = grade({"output_text": message.content or "", "output_tools": calls}, row)
        out.append(
            {"request": row["messages"][-1]["content"], "calls": calls, "content": message.content, "reward": reward}
        )
    path = bfcl_path or os.environ.get(bfcl.ENV)
    scores = bfcl.score(bfcl.load(path), data, replies) if path else None
    for entry, s in zip(out, scores or [None] * len(out), strict=True):
        entry["bfcl"] = s
    n = max(1, len(out))
    return {
        "model": model,
        "tool_choice": tool_choice,
        "rows": out,
        "call_rate": sum(1 for e in out if e["calls"]) / n,
        "reward_mean": sum(e["reward"] for e in out) / n,
        "bfcl_mean": None if scores is None else sum(scores) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tool-choice", default="auto", choices=["auto", "required", "none"])
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--parallel", action="store_true", help="allow several calls per reply (each row needs one)")
    parser.add_argument("--rows", type=int, default=0, help="only the first N held-out rows")
    parser.add_argument("--bfcl", default=None, help=f"path of bfcl_tool_call_rew_func.py (default ${bfcl.ENV})")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    data = rows()[: args.rows or None]
    result = evaluate(
        openai.OpenAI(),
        args.model,
        data,
        tool_choice=args.tool_choice,
        max_tokens=args.max_tokens,
        parallel=args.parallel,
        bfcl_path=args.bfcl,
    )
    for e in result["rows"]:
        said = bfcl.bfcl_text(e["calls"], e["content"]).replace("\n", " | ")[:90]
        print(f"{e['reward']:.2f} {e['bfcl'] if e['bfcl'] is not None else '-':>6}  {e['request'][:48]:48}  {said}")
    bfcl_mean = "-" if result["bfcl_mean"] is None else f"{result['bfcl_mean']:.3f}"
    print(
        f"{args.model} tool_choice={args.tool_choice}: calls {result['call_rate']:.0%}, "
        f"reward {result['reward_mean']:.3f}, BFCL {bfcl_mean}  ({len(data)} rows)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
