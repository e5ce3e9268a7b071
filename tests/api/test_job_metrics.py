"""GET /v1/fine_tuning/jobs/{id}/metrics (openrft's extension) through the openai SDK's low-level client."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from openrft.ids import now_s
from openrft.jobstate import insert_event
from openrft.store import schema
from openrft.store.db import Store
from openrft.training.metrics import StepStats, step_event
from tests.api.test_jobs import create, db, error_of, new_project_key, train_file  # noqa: F401 (fixtures)
from tests.conftest import LiveServer, not_found

AUDIT = {"function_name": "has-word", "version": "2", "code_sha256": "abc123=", "alias": "live"}


def metrics_data(step: int, reward: float, *, valid: float | None = None) -> dict[str, Any]:
    """A metrics event's data as the trainer writes it (training/metrics.py step_event)."""
    stats = StepStats(
        reward_mean=reward,
        advantage_mean=0.0,
        pg_loss=0.5 - reward / 10,
        kl=0.01 * step,
        entropy=2.0 - step / 10,
        grad_norm=1.5,
        response_length_mean=10.0 + step,
        frac_reward_zero_std=0.25,
        learning_rate=1e-5,
    )
    train = {"scores": {"train_reward_mean": reward, "graders": [{"name": "reward", "type": "lambda",
                                                                  "train_reward_mean": reward}]}}  # fmt: skip
    fragments = {"scores": {"graders": [{"name": "reward", "valid_reward_mean": valid}]}} if valid is not None else None
    _, data = step_event(
        step=step,
        total_steps=4,
        stats=stats,
        train_fragments=train,
        valid_fragments=fragments,
        valid_reward_mean=valid,
        timing_s={"sampling": 0.2, "grading": 0.1, "full_iteration": 0.4},
        extra={"has_word": reward, "completion_chars": 30.0 + step},
        reward_hacking={"collapse": 0.1 * step, "kl_drift": None},
        signals={"distinct_within_groups": 0.9, "components": {"has_word": reward}, "penalties": {}},
    )
    return data


def seed_events(store: Store, job_id: str) -> dict[str, str]:
    """Audit at step 1, steps 1-3 (validation at 2), a warning at step 3, then a replayed step 3."""
    ids = {}
    with store.begin() as conn:
        ids["audit"] = insert_event(
            conn,
            job_id,
            "Grading with lambda grader 'reward': function has-word version 2 CodeSha256 abc123=",
            data={"grader": {"type": "lambda", "name": "reward"}, "audit": [AUDIT]},
        )
        insert_event(conn, job_id, "Step 1/4", type="metrics", data=metrics_data(1, 0.25))
        insert_event(conn, job_id, "Step 2/4", type="metrics", data=metrics_data(2, 0.5, valid=0.4))
        insert_event(conn, job_id, "Step 3/4", type="metrics", data=metrics_data(3, 0.1))
        ids["warn"] = insert_event(
            conn,
            job_id,
            "Reward hacking signal collapse: answers became alike.",
            level="warn",
            data={"signal": "collapse", "step": 3, "values": {"step": 3}, "fix": None, "sample_ids": ["ftsample-1"]},
        )
        insert_event(conn, job_id, "The job's worker stopped responding; re-queued", level="warn")
        insert_event(conn, job_id, "Step 3/4", type="metrics", data=metrics_data(3, 0.75))  # the replay
    return ids


def add_samples(store: Store, job_id: str, steps: list[int]) -> None:
    row = {
        "prompt": [],
        "completions": [],
        "reward_mean": 0.0,
        "reward_std": 0.0,
        "created_at": now_s(),
        "group_index": 0,
    }
    with store.begin() as conn:
        conn.execute(
            schema.job_samples.insert(),
            [row | {"id": f"ftsample-{i}", "job_id": job_id, "step": s} for i, s in enumerate(steps)],
        )


def get(client: openai.OpenAI, job_id: str, **params: Any) -> httpx.Response:
    return client.get(f"/fine_tuning/jobs/{job_id}/metrics", cast_to=httpx.Response, options={"params": params})


@pytest.fixture
def job_id(client: openai.OpenAI, train_file: str, db: Store) -> str:  # noqa: F811
    return str(create(client, train_file).id)


def test_metrics_are_columns_with_warnings_and_audit(client: openai.OpenAI, job_id: str, db: Store) -> None:  # noqa: F811
    ids = seed_events(db, job_id)
    add_samples(db, job_id, steps=[3, 1, 3])
    body = get(client, job_id).json()
    assert body["object"] == "fine_tuning.job.metrics" and body["fine_tuning_job_id"] == job_id
    assert (body["steps"], body["last_step"], body["total_steps"], body["status"]) == ([1, 2, 3], 3, 4, "queued")
    series = body["series"]
    assert series["train_reward_mean"] == [0.25, 0.5, 0.75]  # the replayed step 3 replaces the lost one
    assert series["valid_reward_mean"] == [None, 0.4, None]
    assert series["grader.reward"] == [0.25, 0.5, 0.75] and series["grader_valid.reward"] == [None, 0.4, None]
    assert series["component.has_word"] == [0.25, 0.5, 0.75]
    assert series["metric.completion_chars"] == [31.0, 32.0, 33.0] and "metric.has_word" not in series
    assert series["entropy"] == pytest.approx([1.9, 1.8, 1.7]) and series["kl"] == pytest.approx([0.01, 0.02, 0.03])
    assert series["response_length_mean"] == [11.0, 12.0, 13.0] and series["grad_norm"] == [1.5] * 3
    assert series["loss"] == pytest.approx([0.475, 0.45, 0.425]) and series["step_time_s"] == [0.4] * 3
    assert series["timing.sampling"] == [0.2] * 3 and series["signal.distinct_within_groups"] == [0.9] * 3
    assert series["reward_hacking.collapse"] == pytest.approx([0.1, 0.2, 0.3])
    assert "reward_hacking.kl_drift" not in series  # never measured: no column of nulls
    assert all(len(column) == 3 for column in series.values())

    [warning] = body["warnings"]  # the worker's warn event is not a reward-hacking warning
    assert (warning["step"], warning["signal"], warning["event_id"]) == (3, "collapse", ids["warn"])
    assert warning["message"].startswith("Reward hacking signal collapse") and warning["data"]["sample_ids"] == [
        "ftsample-1"
    ]
    [audit] = body["audit"]
    assert (audit["step"], audit["event_id"], audit["grader"]) == (
        1,
        ids["audit"],
        {"type": "lambda", "name": "reward"},
    )
    assert body["sample_steps"] == [1, 3]
    assert audit["functions"] == [{"function_name": "has-word", "version": "2", "code_sha256": "abc123="}]


def test_after_step_returns_only_what_is_new(client: openai.OpenAI, job_id: str, db: Store) -> None:  # noqa: F811
    seed_events(db, job_id)
    later = get(client, job_id, after_step=1).json()
    assert later["steps"] == [2, 3] and later["series"]["train_reward_mean"] == [0.5, 0.75]
    assert [w["step"] for w in later["warnings"]] == [3] and later["audit"] == []
    nothing = get(client, job_id, after_step=3).json()
    assert (nothing["steps"], nothing["series"], nothing["warnings"], nothing["last_step"]) == ([], {}, [], 3)
    some = get(client, job_id, series="train_reward_mean,kl").json()
    assert set(some["series"]) == {"train_reward_mean", "kl"}


def test_a_job_without_events_has_empty_series(client: openai.OpenAI, job_id: str) -> None:
    body = get(client, job_id).json()
    empty = (body["steps"], body["series"], body["warnings"], body["audit"], body["last_step"], body["sample_steps"])
    assert empty == ([], {}, [], [], None, [])


def test_bad_after_step_is_a_400_naming_it(client: openai.OpenAI, job_id: str) -> None:
    for bad in ("-1", "two"):
        with pytest.raises(openai.BadRequestError) as err:
            client.get(
                f"/fine_tuning/jobs/{job_id}/metrics", cast_to=httpx.Response, options={"params": {"after_step": bad}}
            )
        body = err.value.body
        assert isinstance(body, dict) and body["param"] == "after_step" and body["type"] == "invalid_request_error"


def test_another_projects_job_is_404(live_server: LiveServer, client: openai.OpenAI, job_id: str) -> None:
    other = live_server.openai_client(api_key=new_project_key(live_server))
    not_found(
        lambda: other.get(f"/fine_tuning/jobs/{job_id}/metrics", cast_to=httpx.Response),
        code="fine_tune_not_found",
        param="fine_tuning_job_id",
        mentions=job_id,
    )
    error_of(lambda: get(client, "ftjob-nope"), 404)


def test_a_nan_in_an_event_is_a_null(client: openai.OpenAI, job_id: str, db: Store) -> None:  # noqa: F811
    """A NaN the trainer wrote (json.dumps allows it; SQLite's JSON functions refuse it) reads as null."""
    with db.begin() as conn:
        insert_event(conn, job_id, "Step 1/4", type="metrics", data=metrics_data(1, 0.25))
        insert_event(
            conn, job_id, "Step 2/4", type="metrics", data=metrics_data(2, 0.5) | {"actor_grad_norm": float("nan")}
        )
    body = get(client, job_id).json()
    assert body["steps"] == [1, 2] and body["series"]["grad_norm"] == [1.5, None]
    assert body["series"]["train_reward_mean"] == [0.25, 0.5]
