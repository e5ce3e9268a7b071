"""POST /v1/fine_tuning/alpha/graders/{validate,run} through the official openai SDK.

Every grader type is run with results checked independently (by hand, or by the library the metric
comes from); every bad grader is refused with a 400 naming the field, and contained failures (a
python grader that loops forever, a judge that is down) leave the server healthy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openrft.functions.sandbox import detect_mode
from openrft.settings import Settings
from tests.conftest import ADMIN_KEY, LiveServer
from tests.doubles.fake_judge import fake_judge
from tests.doubles.reward_server import reward_server
from tests.inference.tiny import TinyModels, tiny_dirs_fixture, tiny_fixture  # noqa: F401

needs_sandbox = pytest.mark.skipif(detect_mode()[0] == "unavailable", reason="no sandbox on this host")


@pytest.fixture
def settings(home: Path) -> Settings:
    # The fake judges and reward endpoints listen on loopback, which the operator must allow (the default
    # refusal is tested in test_hostile_tenant.py).
    return Settings(home=home, admin_key=ADMIN_KEY, python_grader_timeout_s=2.0, outbound_allow=["127.0.0.1"])


def sc(**kw: Any) -> dict[str, Any]:
    return {
        "type": "string_check",
        "name": "sc",
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.reference_answer }}",
        "operation": "eq",
    } | kw


def judge(url: str, **kw: Any) -> dict[str, Any]:
    return {
        "type": "score_model",
        "name": "judge",
        "model": "judge-1",
        "range": [0, 10],
        "input": [{"role": "user", "content": "ECHO: {{ sample.output_text }}"}],
        "openrft": {"api_base": url, "max_retries": 1},
    } | kw


def test_validate_echoes_the_normalized_grader(client: openai.OpenAI) -> None:
    multi = {
        "type": "multi",
        "name": "m",
        "graders": [sc(), sc(name="sc2", operation="ilike")],
        "calculate_output": "max(sc, sc2)",
    }
    out = client.fine_tuning.alpha.graders.validate(grader=multi)  # type: ignore[arg-type]
    assert out.grader is not None
    dumped = out.grader.model_dump()
    assert set(dumped["graders"]) == {"sc", "sc2"}
    assert client.fine_tuning.alpha.graders.validate(grader=sc()).grader.operation == "eq"  # type: ignore[union-attr]


def test_run_string_check_and_error_flags(client: openai.OpenAI) -> None:
    run = client.fine_tuning.alpha.graders.run
    ok = run(grader=sc(), model_sample="Paris", item={"reference_answer": "Paris"})  # type: ignore[arg-type]
    assert ok.reward == 1.0
    assert ok.metadata.name == "sc" and ok.metadata.type == "string_check"
    assert ok.metadata.errors.invalid_variable_error is False and ok.metadata.execution_time >= 0
    assert ok.sub_rewards == {} and ok.api_model_grader_token_usage_per_model == {}
    missing = run(grader=sc(), model_sample="Paris", item={})  # type: ignore[arg-type]
    assert missing.reward == 0.0 and missing.metadata.errors.invalid_variable_error is True
    assert "reference_answer" in (missing.metadata.errors.model_extra or {}).get("error_details", "")


def test_run_text_similarity_json_sample_and_reference_answer_form(client: openai.OpenAI) -> None:
    fuzzy = {
        "type": "text_similarity",
        "name": "f",
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.reference_answer }}",
        "evaluation_metric": "fuzzy_match",
    }
    # the API reference's own example: an exact match scores 1.0
    out = client.fine_tuning.alpha.graders.run(
        grader=fuzzy, model_sample="fuzzy wuzzy was a bear", item={"reference_answer": "fuzzy wuzzy was a bear"}
    )  # type: ignore[arg-type]
    assert out.reward == 1.0
    # the pre-1.83 request form: reference_answer instead of item
    old = client.fine_tuning.alpha.graders.run(
        grader={**fuzzy, "evaluation_metric": "rouge_1"},
        model_sample="the cat sat on the mat",
        extra_body={"reference_answer": "the cat is on the mat"},
    )  # type: ignore[arg-type,call-arg]
    assert old.reward == pytest.approx(5 / 6)
    # a JSON model_sample populates sample.output_json
    as_json = client.fine_tuning.alpha.graders.run(
        grader=sc(input="{{ sample.output_json.city }}", reference="{{ item.city }}"),
        model_sample='{"city": "Oslo"}',
        item={"city": "Oslo"},
    )  # type: ignore[arg-type]
    assert as_json.reward == 1.0


@needs_sandbox
def test_run_python_grader_and_contain_an_infinite_loop(client: openai.OpenAI, live_server: LiveServer) -> None:
    source = (
        "from rapidfuzz import fuzz, utils\n\ndef grade(sample, item) -> float:\n    return fuzz.WRatio("
        "sample['output_text'], item['reference_answer'], processor=utils.default_process) / 100.0\n"
    )
    grader = {"type": "python", "name": "py", "source": source, "image_tag": "2025-05-08"}
    out = client.fine_tuning.alpha.graders.run(
        grader=grader, model_sample="fuzzy wuzzy was a bear", item={"reference_answer": "fuzzy wuzzy was a bear"}
    )  # type: ignore[arg-type]
    assert out.reward == 1.0
    crash = {**grader, "source": "def grade(sample, item):\n    return {}['missing']\n"}
    failed = client.fine_tuning.alpha.graders.run(grader=crash, model_sample="x", item={})  # type: ignore[arg-type]
    assert failed.reward == 0.0 and failed.metadata.errors.python_grader_runtime_error is True
    assert "KeyError" in (failed.metadata.errors.python_grader_runtime_error_details or "")
    loop = {**grader, "source": "def grade(sample, item):\n    while True:\n        pass\n"}
    stuck = client.fine_tuning.alpha.graders.run(grader=loop, model_sample="x", item={})  # type: ignore[arg-type]
    assert stuck.reward == 0.0 and stuck.metadata.errors.python_grader_runtime_error is True
    assert "timed out" in (stuck.metadata.errors.python_grader_runtime_error_details or "").lower()
    assert httpx.get(live_server.base_url + "/health").json()["status"] == "ok"


def test_run_score_model_and_multi_with_label_model(client: openai.OpenAI) -> None:
    with fake_judge() as (url, _state):
        out = client.fine_tuning.alpha.graders.run(grader=judge(url), model_sample="Score: 7/10", item={})  # type: ignore[arg-type]
        label = {
            "type": "label_model",
            "name": "tone",
            "model": "judge-1",
            "labels": ["good", "bad"],
            "passing_labels": ["good"],
            "input": [{"role": "user", "content": "ECHO: {{ sample.output_text }}"}],
            "openrft": {"api_base": url},
        }
        multi = {
            "type": "multi",
            "name": "m",
            "graders": {"tone": label, "sc": sc()},
            "calculate_output": "0.5 * tone + 0.5 * sc",
        }
        combo = client.fine_tuning.alpha.graders.run(
            grader=multi, model_sample="good", item={"reference_answer": "good"}
        )  # type: ignore[arg-type]
        down = client.fine_tuning.alpha.graders.run(grader=judge(url), model_sample="BROKEN", item={})  # type: ignore[arg-type]
    assert out.reward == 7.0
    assert out.metadata.sampled_model_name == "judge-1" and out.metadata.token_usage == 14
    assert out.api_model_grader_token_usage_per_model["judge-1"]["prompt_tokens"] == 11  # type: ignore[index]
    assert combo.reward == 1.0 and combo.sub_rewards == {"tone": 1.0, "sc": 1.0}
    assert down.reward == 0.0 and down.metadata.errors.api_model_grader_server_error is True
    assert "HTTP 400" in (down.metadata.errors.api_model_grader_server_error_details or "")


def test_run_lambda_grader(client: openai.OpenAI) -> None:
    with reward_server() as (url, _seen):
        out = client.fine_tuning.alpha.graders.run(
            grader={"type": "lambda", "lambda": {"function": url}}, model_sample="42", item={"answer": "42"}
        )  # type: ignore[arg-type]
    assert out.reward == pytest.approx(1.2) and out.metadata.type == "lambda"


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "regex", "name": "x"}, "grader.type", "unknown grader type"),
    (sc(operation="startswith"), "grader.operation", "Input should be"),
    (
        {"type": "text_similarity", "name": "t", "input": "x", "reference": "y", "evaluation_metric": "jaccard"},
        "grader.evaluation_metric",
        "Input should be",
    ),
    (sc(input="{{ output_text }}"), "grader.input", "invalid template"),
    (
        {"type": "label_model", "name": "l", "model": "m", "input": [], "labels": ["a"], "passing_labels": ["a"]},
        "grader.type",
        "only allowed inside a multi",
    ),
    (
        {
            "type": "multi",
            "name": "m",
            "graders": {"in": {"type": "multi", "name": "in", "graders": {"sc": sc()}, "calculate_output": "sc"}},
            "calculate_output": "in",
        },
        "grader.graders.in.type",
        "cannot contain another multi",
    ),
    (
        {"type": "multi", "name": "m", "graders": {"sc": sc()}, "calculate_output": "__import__('os')"},
        "grader.calculate_output",
        "formula_parse_error",
    ),
    (
        {"type": "python", "name": "p", "source": "def grade(s, i):\n    return 1\n" + "#" * 262_144},
        "grader.source",
        "256 kB",
    ),
]


@pytest.mark.parametrize(("grader", "param", "message"), BAD)
def test_bad_graders_are_400s_naming_the_field(
    client: openai.OpenAI, grader: dict[str, Any], param: str, message: str
) -> None:
    for call in (
        lambda: client.fine_tuning.alpha.graders.validate(grader=grader),  # type: ignore[arg-type]
        lambda: client.fine_tuning.alpha.graders.run(grader=grader, model_sample="x", item={}),  # type: ignore[arg-type]
    ):
        with pytest.raises(openai.BadRequestError) as info:
            call()
        assert info.value.status_code == 400
        assert info.value.param is not None and info.value.param.startswith(param)
        assert message in info.value.message
        assert info.value.type == "invalid_request_error"


def test_request_shape_errors_and_auth(client: openai.OpenAI, live_server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/fine_tuning/alpha/graders/run", body={"grader": sc()}, cast_to=object)
    assert info.value.param == "model_sample"
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/fine_tuning/alpha/graders/validate", body={}, cast_to=object)
    assert info.value.param == "grader"
    with pytest.raises(openai.AuthenticationError):
        live_server.openai_client(api_key="sk-nope-000000000000000").fine_tuning.alpha.graders.validate(grader=sc())  # type: ignore[arg-type]


def test_judge_served_by_openrft(client: openai.OpenAI, tiny: TinyModels) -> None:
    """No `openrft.api_base`: the judge is a model this server serves (a tiny random Llama here)."""
    grader = judge("unused", model=tiny.base, sampling_params={"max_completions_tokens": 48, "temperature": 0})
    del grader["openrft"]
    out = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="hello", item={})  # type: ignore[arg-type]
    errors = out.metadata.errors
    assert errors.api_model_grader_server_error is False, errors.api_model_grader_server_error_details
    assert out.metadata.sampled_model_name == tiny.base and (out.metadata.token_usage or 0) > 0
    assert 0.0 <= out.reward <= 10.0
    unknown = client.fine_tuning.alpha.graders.run(grader={**grader, "model": "no-such-model"}, model_sample="x")  # type: ignore[arg-type]
    assert unknown.metadata.errors.api_model_grader_server_error is True
    assert "no-such-model" in (unknown.metadata.errors.api_model_grader_server_error_details or "")


@needs_sandbox
def test_lambda_grader_with_a_function_deployed_through_boto3(client: openai.OpenAI, live_server: LiveServer) -> None:
    from tests.api.test_lambda_api import create, lambda_client, make_zip

    source = """
def lambda_handler(event, context):
    return [{"id": e["id"], "aggregate_reward_score": float(e["messages"][-1]["content"] == e["answer"]),
             "metrics_list": [{"name": "exact", "value": 1.0, "type": "Metric"}]} for e in event]
"""
    lam = lambda_client(live_server)
    create(lam, "exact-reward", Code={"ZipFile": make_zip(source)})
    version = lam.publish_version(FunctionName="exact-reward")["Version"]
    grader = {"type": "lambda", "name": "fn", "lambda": {"function": f"exact-reward:{version}"}}
    hit = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="42", item={"answer": "42"})  # type: ignore[arg-type]
    miss = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="41", item={"answer": "42"})  # type: ignore[arg-type]
    assert (hit.reward, miss.reward) == (1.0, 0.0)
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.alpha.graders.run(
            grader={**grader, "lambda": {"function": "no-such-fn"}}, model_sample="x", item={}
        )  # type: ignore[arg-type]
    assert info.value.param == "grader.lambda.function"
