"""The tool-calling example: its data, its reward (scores worked by hand), AWS's BFCL reward run unmodified
on its outputs, and an RFT job on its rows (with `tools`) through to a servable model.

The BFCL tests need AWS's file (aws-samples/amazon-bedrock-samples, custom-models/
bedrock-reinforcement-fine-tuning/reward-functions/bfcl_tool_call_rew_func.py), never copied here:
OPENRFT_BFCL_REWARD=/path/to/bfcl_tool_call_rew_func.py; skipped without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from openrft import datasets
from openrft.inference.registry import add_base_model
from openrft.settings import Settings
from openrft.store.db import Store
from tests.conftest import LiveServer
from tests.e2e.conftest import TINY_HP, Flow, serve, wait_for
from tests.examples.loader import EXAMPLES, load_example_module
from tests.inference.tiny import build_tiny_model

HERE = EXAMPLES / "tool_calling"
make_data = load_example_module("tool_calling", "make_data.py")
grader = load_example_module("tool_calling", "reward/grader.py")
bfcl = load_example_module("tool_calling", "bfcl.py")
BFCL_PATH = os.environ.get("OPENRFT_BFCL_REWARD")
needs_bfcl = pytest.mark.skipif(not BFCL_PATH, reason="set OPENRFT_BFCL_REWARD to AWS's bfcl_tool_call_rew_func.py")
MODEL = "tiny-tools"


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / "data" / f"{name}.jsonl").read_text().splitlines()]


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": "call_x", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def expected(row: dict[str, Any]) -> dict[str, Any]:
    return call(row["expected_call"]["name"], **row["expected_call"]["arguments"])


# -- data --------------------------------------------------------------------------------------------


def test_files_match_their_generator_and_validate_for_their_method() -> None:
    train, valid = make_data.build()
    sft_train, sft_valid = make_data.build_sft()
    assert (rows("train"), rows("valid"), rows("sft_train"), rows("sft_valid")) == (train, valid, sft_train, sft_valid)
    assert len(train) >= 100 and len(valid) >= 20
    for name, method in [("train", "reinforcement"), ("valid", "reinforcement"), ("sft_train", "supervised")]:
        parsed = datasets.parse_finetune_jsonl((HERE / "data" / f"{name}.jsonl").read_bytes(), method=method)
        assert len(parsed) == len(rows(name)) and all(r.tools for r in parsed)
    held = {json.dumps(r["expected_call"], sort_keys=True) for r in valid}
    assert not held & {json.dumps(r["expected_call"], sort_keys=True) for r in train}  # unseen argument combinations
    assert {r["expected_call"]["name"] for r in valid} == {"get_weather", "convert_currency", "set_timer"}


# -- the example's reward ------------------------------------------------------------------------------

ROW = {"expected_call": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}


@pytest.mark.parametrize(
    ("calls", "score"),
    [
        ([call("get_weather", city="paris ", unit="celsius")], 1.0),  # strings compared case-insensitively
        ([call("get_weather", city="Paris", unit="fahrenheit")], 0.8333),  # (1 + 1 + 1/2) / 3
        ([call("get_weather", city="Paris")], 0.6667),  # (1 + 1/2 + 1/2) / 3
        ([call("get_weather", city="Paris", unit="celsius", extra=1)], 0.8333),  # keys 1 - 1/2
        ([call("set_timer", city="Paris", unit="celsius")], 0.6667),  # wrong function: (0 + 1 + 1) / 3
        ([call("get_weather", city="Paris", unit="celsius"), call("set_timer", minutes=3)], 0.5),  # diluted
        ([], 0.0),
    ],
)
def test_reward_scores_worked_by_hand(calls: list[dict[str, Any]], score: float) -> None:
    assert grader.grade({"output_text": "", "output_tools": calls}, ROW) == pytest.approx(score, abs=1e-4)


def test_reward_numbers_as_numbers() -> None:
    row = {
        "expected_call": {
            "name": "convert_currency",
            "arguments": {"amount": 20, "from_currency": "USD", "to_currency": "EUR"},
        }
    }
    got = call("convert_currency", amount="20.0", from_currency="usd", to_currency="EUR")
    assert grader.grade({"output_tools": [got]}, row) == 1.0
    broken = {"type": "function", "function": {"name": "convert_currency", "arguments": "{not json"}}
    assert grader.grade({"output_tools": [broken]}, row) == 0.0


def test_bfcl_text_writes_calls_as_bfcl_does() -> None:
    calls = [call("get_weather", city="Paris", unit="celsius"), call("set_timer", minutes=3, label="tea")]
    assert bfcl.bfcl_text(calls) == "get_weather(city='Paris', unit='celsius')\nset_timer(minutes=3, label='tea')"
    assert bfcl.bfcl_text(None, "no call") == "no call"
    assert make_data.bfcl_call("set_timer", {"minutes": 3, "label": "tea"}) == "set_timer(minutes=3, label='tea')"


# -- AWS's BFCL reward, unmodified ------------------------------------------------------------------------


@needs_bfcl
def test_bfcl_reward_scores_the_reference_calls_1_and_a_wrong_value_by_its_thirds() -> None:
    module = bfcl.load(BFCL_PATH)
    valid = rows("valid")
    assert bfcl.score(module, valid, [([expected(r)], None) for r in valid]) == [1.0] * len(valid)
    paris = next(r for r in valid if r["expected_call"]["name"] == "get_weather")
    args = dict(paris["expected_call"]["arguments"])
    args["unit"] = "fahrenheit" if args["unit"] == "celsius" else "celsius"
    wrong_unit = ([call("get_weather", **args)], None)
    # BFCL: 0.33 name + 0.33 parameter names + 0.34 * (1 of 2 values)
    assert bfcl.score(module, [paris, paris], [wrong_unit, (None, "It is sunny.")]) == [0.83, 0.0]


@pytest.fixture(scope="session")
def tools_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random model with room for the three tools' prompt."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-tool-calling") / "base", context=2048)


@needs_bfcl
def test_bfcl_reward_scores_served_tool_calls(live_server: LiveServer, tools_model_dir: Path) -> None:
    """The example's outputs as a served model gives them (chat.completions tool_calls), scored by BFCL."""
    store = Store.from_settings(live_server.settings)
    add_base_model(store, live_server.settings, MODEL, tools_model_dir)
    store.dispose()
    client = live_server.openai_client()
    valid = rows("valid")[:3]
    replies = []
    for row in valid:
        named = {"type": "function", "function": {"name": row["expected_call"]["name"]}}
        out = client.chat.completions.create(
            model=MODEL,
            messages=row["messages"],
            tools=row["tools"],
            tool_choice=named,  # type: ignore[arg-type]
            parallel_tool_calls=False,
            temperature=0,
            max_tokens=200,
        )
        message = out.choices[0].message
        assert out.choices[0].finish_reason == "tool_calls" and message.tool_calls, message
        replies.append(([c.model_dump() for c in message.tool_calls], message.content))
    scores = bfcl.score(bfcl.load(BFCL_PATH), valid, replies)
    # The right function (named) with every required argument (the schema is enforced): at least 0.66.
    assert all(0.66 <= s <= 1.0 for s in scores), scores


# -- an RFT job on rows with tools --------------------------------------------------------------------------


@pytest.fixture
def tools_flow(settings: Settings, tools_model_dir: Path) -> Iterator[Flow]:
    store = Store.from_settings(settings)
    add_base_model(store, settings, MODEL, tools_model_dir)
    store.dispose()
    yield from serve(settings)


def test_rft_job_on_rows_with_tools_succeeds_and_serves_calls(tools_flow: Flow) -> None:
    client = openai.OpenAI(base_url=tools_flow.v1, api_key=tools_flow.admin_key, max_retries=0, timeout=120)
    train = b"".join(json.dumps(r).encode() + b"\n" for r in rows("train")[:4])
    valid = b"".join(json.dumps(r).encode() + b"\n" for r in rows("valid")[:2])
    train_file = client.files.create(file=("train.jsonl", train), purpose="fine-tune")
    valid_file = client.files.create(file=("valid.jsonl", valid), purpose="fine-tune")
    source = (HERE / "reward" / "grader.py").read_text()
    method: Any = {
        "type": "reinforcement",
        "reinforcement": {
            "grader": {"type": "python", "name": "tool-call", "source": source},
            "hyperparameters": TINY_HP,
        },
    }
    job = client.fine_tuning.jobs.create(
        model=MODEL, training_file=train_file.id, validation_file=valid_file.id, suffix="tools", seed=3, method=method
    )
    job = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout_s=300, what="success")
    assert job.fine_tuned_model
    row = rows("valid")[0]
    out = client.chat.completions.create(
        model=job.fine_tuned_model,
        messages=row["messages"],
        tools=row["tools"],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=200,
    )
    calls = out.choices[0].message.tool_calls
    assert (
        out.choices[0].finish_reason == "tool_calls"
        and calls
        and calls[0].function.name in {"get_weather", "convert_currency", "set_timer"}
    )
