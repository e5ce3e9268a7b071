"""Score tool calls with AWS's BFCL reward function, run unmodified from where you fetched it.

AWS publishes a tool-calling reward for Bedrock RFT in aws-samples/amazon-bedrock-samples
(custom-models/bedrock-reinforcement-fine-tuning/reward-functions/bfcl_tool_call_rew_func.py). It is
not copied here: point OPENRFT_BFCL_REWARD (or --bfcl) at your copy of that file.

Its contract is Bedrock's reward event (a list of {"id", "messages", "metadata"}), and it reads the
last assistant message's *text* as BFCL writes calls, Python syntax one per line
(`get_weather(city='Paris', unit='celsius')`), against `metadata.ground_truth`. A model served by
openrft answers with OpenAI `tool_calls`, so `bfcl_text` writes those calls in that syntax (the
arguments' JSON values as Python literals); the events are openrft's own Bedrock events
(openrft.functions.reward.build_reward_event), which put every dataset field, `ground_truth` included,
into `metadata`.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from openrft.functions.reward import build_reward_event

ENV = "OPENRFT_BFCL_REWARD"


def bfcl_text(tool_calls: list[dict[str, Any]] | None, content: str | None = None) -> str:
    """OpenAI tool calls -> BFCL's `name(key=literal, ...)` lines; no calls -> the reply's text."""
    lines = []
    for call in tool_calls or []:
        function = call["function"]
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {}
        args = arguments.items() if isinstance(arguments, dict) else []
        lines.append(f"{function['name']}(" + ", ".join(f"{k}={v!r}" for k, v in args) + ")")
    return "\n".join(lines) if lines else (content or "")


def load(path: str | os.PathLike[str] | None = None) -> ModuleType:
    """The BFCL reward module from `path` or $OPENRFT_BFCL_REWARD, imported as it is."""
    where = Path(path or os.environ[ENV])
    spec = importlib.util.spec_from_file_location("bfcl_tool_call_rew_func", where)
    assert spec and spec.loader, where
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(
    module: ModuleType, rows: list[dict[str, Any]], replies: list[tuple[list[dict[str, Any]] | None, str | None]]
) -> list[float]:
    """BFCL scores of (tool_calls, content) replies to `rows`, through the function's lambda_handler."""
    events = [
        build_reward_event(row["messages"], row, f"row-{i}", completion=bfcl_text(calls, content))
        for i, (row, (calls, content)) in enumerate(zip(rows, replies, strict=True))
    ]
    results = {r["id"]: r for r in module.lambda_handler(events, None)}
    return [float(results[e["id"]]["aggregate_reward_score"]) for e in events]
