"""GET /v1/fine_tuning/jobs/{id}/samples (openrft's extension) through the openai SDK's low-level client."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from openrft.ids import now_s
from openrft.store import schema
from openrft.store.db import Store
from tests.api.test_jobs import create, db, error_of, new_project_key, train_file  # noqa: F401 (fixtures)
from tests.conftest import LiveServer

# (step, group_index, reward_mean) of the stored groups, in insertion order.
GROUPS = [(1, 0, 0.25), (1, 1, 0.75), (2, 0, 0.5), (2, 1, 1.0), (3, 0, 0.0)]


def add_samples(store: Store, job_id: str) -> list[str]:
    rows = [
        {
            "id": f"ftsample-{i:02d}",
            "job_id": job_id,
            "step": step,
            "group_index": g,
            "prompt": [{"role": "user", "content": f"prompt {step}.{g}"}],
            "completions": [
                {"text": "yes", "reward": r, "components": {}, "advantage": 0.0, "completion_tokens": 1, "error": None}
            ],
            "reward_mean": r,
            "reward_std": 0.0,
            "created_at": now_s(),
        }
        for i, (step, g, r) in enumerate(GROUPS)
    ]
    with store.begin() as conn:
        conn.execute(schema.job_samples.insert(), rows)
    return [r["id"] for r in rows]


def get(client: openai.OpenAI, job_id: str, **params: Any) -> dict[str, Any]:
    return client.get(f"/fine_tuning/jobs/{job_id}/samples", cast_to=httpx.Response, options={"params": params}).json()


def ids(page: dict[str, Any]) -> list[str]:
    return [s["id"] for s in page["data"]]


@pytest.fixture
def job_id(client: openai.OpenAI, train_file: str, db: Store) -> str:  # noqa: F811
    job = create(client, train_file)
    add_samples(db, job.id)
    return job.id


def test_samples_list_in_every_order_with_cursor_and_step(client: openai.OpenAI, job_id: str) -> None:
    page = get(client, job_id)
    assert page["object"] == "list" and page["has_more"] is False
    assert ids(page) == [f"ftsample-{i:02d}" for i in range(5)]  # default order_by=step: oldest first
    assert (page["first_id"], page["last_id"]) == ("ftsample-00", "ftsample-04")
    first = page["data"][0]
    assert first["object"] == "fine_tuning.job.sample" and first["fine_tuning_job_id"] == job_id
    assert (first["step"], first["group_index"], first["reward_mean"], first["reward_std"]) == (1, 0, 0.25, 0.0)
    assert first["prompt"] == [{"role": "user", "content": "prompt 1.0"}]
    assert first["completions"][0]["text"] == "yes" and isinstance(first["created_at"], int)

    assert ids(get(client, job_id, order_by="-step")) == [f"ftsample-{i:02d}" for i in (4, 3, 2, 1, 0)]
    assert ids(get(client, job_id, order_by="reward")) == [f"ftsample-{i:02d}" for i in (4, 0, 2, 1, 3)]
    best = get(client, job_id, order_by="-reward", limit=2)
    assert ids(best) == ["ftsample-03", "ftsample-01"] and best["has_more"] is True
    rest = get(client, job_id, order_by="-reward", limit=2, after=best["last_id"])
    assert ids(rest) == ["ftsample-02", "ftsample-00"] and rest["has_more"] is True
    assert ids(get(client, job_id, order_by="-reward", after=rest["last_id"])) == ["ftsample-04"]

    step2 = get(client, job_id, step=2)
    assert ids(step2) == ["ftsample-02", "ftsample-03"] and not step2["has_more"]
    assert ids(get(client, job_id, step=2, after="ftsample-02")) == ["ftsample-03"]
    empty = get(client, job_id, step=9)
    assert empty["data"] == [] and (empty["first_id"], empty["last_id"]) == (None, None)


BAD_QUERIES = [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"step": 0}, "step"),
    ({"order_by": "length"}, "order_by"),
    ({"after": "ftsample-nope"}, "after"),
    ({"step": 1, "after": "ftsample-03"}, "after"),  # a sample of another step is no cursor here
]


def test_a_bad_query_param_is_a_400_naming_it(client: openai.OpenAI, job_id: str) -> None:
    for params, param in BAD_QUERIES:
        body = error_of(lambda params=params: get(client, job_id, **params))
        assert body["param"] == param and body["type"] == "invalid_request_error", (params, body)


def test_another_projects_job_is_a_404(live_server: LiveServer, client: openai.OpenAI, job_id: str) -> None:
    other = live_server.openai_client(api_key=new_project_key(live_server))
    body = error_of(lambda: other.get(f"/fine_tuning/jobs/{job_id}/samples", cast_to=object), 404)
    assert body["code"] == "fine_tune_not_found" and job_id in body["message"]
    body = error_of(lambda: client.get("/fine_tuning/jobs/ftjob-nope/samples", cast_to=object), 404)
    assert body["param"] == "fine_tuning_job_id"
