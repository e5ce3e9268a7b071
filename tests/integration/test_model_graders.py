"""score_model and label_model against a real OpenAI-compatible HTTP judge on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from openrft.graders import GradingContext, Sample, grade_batch
from openrft.settings import Settings
from tests.doubles.fake_judge import LOOPBACK, fake_judge


def score_grader(api_base: str, **extras: Any) -> dict[str, Any]:
    return {
        "type": "score_model",
        "name": "judge",
        "model": "judge-1",
        "range": [0, 10],
        "input": [
            {"role": "system", "content": "Grade against {{ item.ref }}."},
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "https://img.example/{{ item.ref }}.png"},
                    {"type": "input_text", "text": "ECHO: {{ sample.output_text }}"},
                ],
            },
        ],
        "sampling_params": {"temperature": 0, "seed": 7, "max_completions_tokens": 64},
        "openrft": {"api_base": api_base, "api_key": "sk-judge", "max_retries": 3} | extras,
    }


def grade(grader: dict[str, Any], texts: list[str], ctx: GradingContext | None = None) -> Any:
    ctx = ctx or GradingContext(project_id="p", settings=LOOPBACK)
    return grade_batch(grader, [Sample(output_text=t) for t in texts], [{"ref": "42"}] * len(texts), ctx=ctx)


def test_score_model_over_http() -> None:
    with fake_judge() as (url, state):
        result = grade(score_grader(url), ["Score: 8/10", '{"result": 3.5}', "Score: 15"])
    assert result.rewards == [8.0, 3.5, 10.0]  # 15 is clipped to the range
    body = state.requests[0]
    assert body["model"] == "judge-1"
    assert body["messages"][0] == {"role": "system", "content": "Grade against 42."}
    image, text = body["messages"][1]["content"]
    assert image == {"type": "image_url", "image_url": {"url": "https://img.example/42.png", "detail": "auto"}}
    assert text["type"] == "text" and text["text"] in {"ECHO: Score: 8/10", 'ECHO: {"result": 3.5}', "ECHO: Score: 15"}
    assert body["temperature"] == 0 and body["seed"] == 7 and body["max_completion_tokens"] == 64
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["steps", "result"]
    assert set(state.auth) == {"Bearer sk-judge"}
    usage = result.metrics("train")["usage"]["graders"][0]
    assert usage["model"] == "judge-1"
    assert usage["train_prompt_tokens_count"] == 33.0 and usage["train_completion_tokens_mean"] == 3.0


def test_default_range_and_structured_output_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", "sk-from-env")
    with fake_judge() as (url, state):
        grader = score_grader(url, structured_output=False, api_key_env="JUDGE_KEY_FOR_TEST")
        del grader["range"]
        allowed = Settings(outbound_allow=["127.0.0.1"], outbound_secrets={"JUDGE_KEY_FOR_TEST": [url]})
        result = grade(grader, ["0.4", "7"], GradingContext(project_id="p", settings=allowed))
    assert result.rewards == [0.4, 1.0]
    assert "response_format" not in state.requests[0]
    assert state.auth[0] == "Bearer sk-from-env"


def test_a_secret_goes_only_where_the_operator_allows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator allows JUDGE_KEY for one judge; a tenant's other loopback listener never receives it."""
    monkeypatch.setenv("JUDGE_KEY", "sk-operator-judge-key")
    monkeypatch.setenv("OPENRFT_ADMIN_KEY", "sk-admin")
    with fake_judge() as (allowed_url, _), fake_judge() as (tenant_url, tenant):
        settings = Settings(outbound_allow=["127.0.0.1"], outbound_secrets={"JUDGE_KEY": [allowed_url]})
        ctx = GradingContext(project_id="p", settings=settings)
        for name in ("JUDGE_KEY", "OPENRFT_ADMIN_KEY", "HOME"):
            result = grade(score_grader(tenant_url, api_key_env=name), ["ECHO 1"], ctx)
            assert result.errors == ["model_grader_server_error"], name
            assert "OUTBOUND_SECRETS" in (result.error_details[0] or "")
    assert tenant.requests == [] and tenant.auth == []


def test_transient_errors_are_retried() -> None:
    with fake_judge(fail_first=2) as (url, state):
        result = grade(score_grader(url), ["FLAKY Score: 6/10"])
    assert result.rewards == [6.0]
    assert len(state.requests) == 3


def test_server_errors_after_retries_are_counted() -> None:
    with fake_judge(fail_first=5) as (url, state):
        result = grade(score_grader(url, max_retries=1), ["FLAKY 1"])
    assert result.errors == ["model_grader_server_error"] and result.rewards == [0.0]
    assert "HTTP 503" in result.error_details[0]
    assert len(state.requests) == 2


def test_client_errors_are_not_retried_and_refusals_and_garbage_are_flagged() -> None:
    with fake_judge() as (url, state):
        result = grade(score_grader(url), ["BROKEN", "REFUSE", "no number here", "Score: 9/10"])
    assert result.errors == [
        "model_grader_server_error",
        "model_grader_refusal_error",
        "model_grader_parse_error",
        None,
    ]
    assert result.rewards == [0.0, 0.0, 0.0, 9.0]
    assert sum("BROKEN" in r["messages"][-1]["content"][1]["text"] for r in state.requests) == 1
    errors = result.metrics("valid")["errors"]["graders"][0]
    assert errors["valid_model_grader_parse_error_count"] == 1.0
    assert errors["valid_model_grader_server_error_mean"] == 0.25


def test_unreachable_judge_is_a_server_error() -> None:
    with fake_judge() as (url, _state):
        dead = url
    result = grade(score_grader(dead, max_retries=0, timeout_s=2), ["x"])
    assert result.errors == ["model_grader_server_error"]
    assert "ConnectError" in result.error_details[0]


def test_calls_are_cached_within_a_context() -> None:
    ctx = GradingContext(project_id="p", settings=LOOPBACK)
    with fake_judge() as (url, state):
        first = grade(score_grader(url), ["Score: 5/10"], ctx)
        second = grade(score_grader(url), ["Score: 5/10"], ctx)
        third = grade(score_grader(url), ["Score: 5/10"])  # a new job: no cache
    assert first.rewards == second.rewards == third.rewards == [5.0]
    assert len(state.requests) == 2
    assert second.metrics()["usage"]["graders"][0]["train_prompt_tokens_count"] == 0.0  # cached: not billed


def test_concurrency_is_bounded() -> None:
    ctx = GradingContext(project_id="p", settings=LOOPBACK, max_concurrency=3)
    with fake_judge() as (url, state):
        result = grade(score_grader(url), [f"SLOW {i}/10" for i in range(9)], ctx)
    assert result.rewards == [float(i) for i in range(9)]
    assert state.max_in_flight == 3


def test_label_model_inside_multi() -> None:
    with fake_judge() as (url, _state):
        label = {
            "type": "label_model",
            "name": "tone",
            "model": "judge-1",
            "labels": ["good", "bad"],
            "passing_labels": ["good"],
            "input": [{"role": "user", "content": "ECHO: {{ sample.output_text }}"}],
            "openrft": {"api_base": url},
        }
        check = {
            "type": "string_check",
            "name": "has_ok",
            "input": "{{ sample.output_text }}",
            "reference": "ok",
            "operation": "ilike",
        }
        grader = {
            "type": "multi",
            "name": "m",
            "graders": {"tone": label, "has_ok": check},
            "calculate_output": "0.5 * tone + 0.5 * has_ok",
        }
        result = grade(grader, ['{"result": "good"} OK', "bad", "Good."])
    assert result.rewards == [1.0, 0.0, 0.5]
    assert result.scores == {"m": [1.0, 0.0, 0.5], "tone": [1.0, 0.0, 1.0], "has_ok": [1.0, 0.0, 0.0]}


def test_local_judge_without_model_serving_is_a_clear_error() -> None:
    grader = score_grader("http://unused")
    del grader["openrft"]
    result = grade(grader, ["x"])  # a context without a model store (the API and trainer give one)
    assert result.errors == ["model_grader_server_error"]
    assert "model serving not available" in result.error_details[0]
