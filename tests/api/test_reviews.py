"""Contract tests of /v1/reviews (expert ratings, the review queue, agreement, export) through httpx."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from openrft.evals.records import OutputItem, insert_output_items
from openrft.ids import now_s
from openrft.store import schema
from openrft.store.db import Store
from tests.api.test_jobs import create, db, new_project_key, train_file  # noqa: F401 (fixtures)
from tests.conftest import LiveServer


def completion(text: str, reward: float, **components: float) -> dict[str, Any]:
    return {
        "text": text,
        "reward": reward,
        "components": components,
        "advantage": 0.1,
        "completion_tokens": 3,
        "error": None,
    }


# Two steps; step 2 has two groups of two completions: (reward, has_word, chars).
GROUPS = {
    ("ftsample-s1g0", 1, 0): [completion("early", 0.0, has_word=0.0, chars=5.0)],
    ("ftsample-s2g0", 2, 0): [
        completion("hello", 1.0, has_word=1.0, chars=5.0),
        completion("nope", 0.0, has_word=0.0, chars=4.0),
    ],
    ("ftsample-s2g1", 2, 1): [
        completion("world", 1.0, has_word=1.0, chars=5.0),
        completion("xx", 0.0, has_word=0.0, chars=2.0),
    ],
}


@dataclass
class Api:
    http: httpx.Client

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={k: v for k, v in params.items() if v is not None})

    def rate(self, target: dict[str, Any], rating: str, comment: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"target": target, "rating": rating}
        if comment is not None:
            body["comment"] = comment
        return self.http.post("/reviews/ratings", json=body)


def api_for(live_server: LiveServer, key: str) -> Api:
    return Api(httpx.Client(base_url=live_server.v1, headers={"Authorization": f"Bearer {key}"}, timeout=30))


@pytest.fixture
def api(live_server: LiveServer) -> Api:
    return api_for(live_server, live_server.admin_key)


@pytest.fixture
def job_id(client: openai.OpenAI, train_file: str, db: Store) -> str:  # noqa: F811
    job = create(client, train_file)
    rows = [
        {
            "id": sid,
            "job_id": job.id,
            "step": step,
            "group_index": g,
            "created_at": now_s(),
            "prompt": [{"role": "user", "content": f"prompt {step}.{g}"}],
            "completions": comps,
            "reward_mean": sum(c["reward"] for c in comps) / len(comps),
            "reward_std": 0.0,
        }
        for (sid, step, g), comps in GROUPS.items()
    ]
    with db.begin() as conn:
        conn.execute(schema.job_samples.insert(), rows)
    return job.id


@dataclass
class Run:
    eval_id: str
    run_id: str
    item_ids: list[str]


@pytest.fixture
def run(client: openai.OpenAI, db: Store) -> Run:  # noqa: F811
    ev = client.evals.create(
        name="answers",
        data_source_config={
            "type": "custom",
            "item_schema": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
        testing_criteria=[
            {
                "type": "string_check",
                "name": "exact",
                "input": "{{sample.output_text}}",
                "reference": "{{item.a}}",
                "operation": "eq",
            }
        ],
    )
    content = [{"item": {"a": a}, "sample": {"output_text": o}} for a, o in (("x", "x"), ("y", "n"), ("z", "z"))]
    created = client.evals.runs.create(
        ev.id, data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}}
    )
    outputs = []
    for i, row in enumerate(content):
        score = 1.0 if row["item"]["a"] == row["sample"]["output_text"] else 0.0
        result = {"name": "exact", "type": "string_check", "score": score, "passed": score == 1.0, "sample": None}
        sample = {
            "input": [{"role": "user", "content": row["item"]["a"]}],
            "error": None,
            "output": [{"role": "assistant", "content": row["sample"]["output_text"]}],
        }
        outputs.append(OutputItem(i, row["item"], [result], sample, score == 1.0))
    with db.begin() as conn:
        insert_output_items(conn, run_id=created.id, eval_id=ev.id, items=outputs)
        ids = conn.execute(
            schema.eval_output_items.select()
            .where(schema.eval_output_items.c.run_id == created.id)
            .order_by(schema.eval_output_items.c.datasource_item_id)
        ).all()
    return Run(ev.id, created.id, [r.id for r in ids])


def sample_target(job_id: str, sample_id: str, index: int) -> dict[str, Any]:
    return {"job_id": job_id, "sample_id": sample_id, "completion_index": index}


def error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and body["type"] == "invalid_request_error"
    return dict(body)


# -- ratings ----------------------------------------------------------------------------------------


def test_rate_again_replaces_the_raters_verdict_and_lists_page(api: Api, job_id: str) -> None:
    first = api.rate(sample_target(job_id, "ftsample-s2g0", 0), "bad", "too short")
    assert first.status_code == 200, first.text
    rating = first.json()
    assert rating["object"] == "review.rating" and rating["id"].startswith("rating_")
    assert rating["target"] == {"type": "training_sample", **sample_target(job_id, "ftsample-s2g0", 0)}
    assert (rating["rating"], rating["comment"], rating["rater"]) == ("bad", "too short", "admin")
    again = api.rate(sample_target(job_id, "ftsample-s2g0", 0), "good").json()
    assert again["id"] == rating["id"] and again["rating"] == "good" and again["comment"] is None
    api.rate(sample_target(job_id, "ftsample-s2g0", 1), "bad")
    api.rate(sample_target(job_id, "ftsample-s2g1", 0), "good")

    listed = api.get("/reviews/ratings", job_id=job_id).json()
    assert listed["object"] == "list" and len(listed["data"]) == 3 and not listed["has_more"]
    page = api.get("/reviews/ratings", job_id=job_id, limit=2).json()
    assert page["has_more"] and [r["id"] for r in page["data"]] == [r["id"] for r in listed["data"][:2]]
    rest = api.get("/reviews/ratings", job_id=job_id, after=page["last_id"]).json()
    assert [r["id"] for r in rest["data"]] == [listed["data"][2]["id"]] and not rest["has_more"]
    assert api.get("/reviews/ratings").json()["data"] == listed["data"]  # no filter: the project's


def test_the_queue_hides_the_rewards(api: Api, job_id: str, run: Run) -> None:
    queue = api.get("/reviews/queue", job_id=job_id).json()
    assert (queue["object"], queue["step"], queue["steps"]) == ("review.queue", 2, [1, 2])  # the newest step
    assert [g["prompt"][0]["content"] for g in queue["groups"]] == ["prompt 2.0", "prompt 2.1"]
    texts = [c["text"] for g in queue["groups"] for c in g["completions"]]
    assert texts == ["hello", "nope", "world", "xx"]
    flat = json.dumps(queue)
    assert "reward" not in flat and "advantage" not in flat and "components" not in flat
    assert queue["groups"][0]["completions"][1]["target"] == sample_target(job_id, "ftsample-s2g0", 1)
    assert (
        api.get("/reviews/queue", job_id=job_id, step=1, limit=1).json()["groups"][0]["completions"][0]["text"]
        == "early"
    )

    api.rate(queue["groups"][0]["completions"][1]["target"], "bad", "no")
    again = api.get("/reviews/queue", job_id=job_id).json()
    assert again["groups"][0]["completions"][1]["rating"]["rating"] == "bad"
    assert again["groups"][0]["completions"][0]["rating"] is None

    items = api.get("/reviews/queue", run_id=run.run_id, limit=2).json()
    assert items["eval_id"] == run.eval_id and items["total_items"] == 3 and len(items["groups"]) == 2
    assert items == api.get("/reviews/queue", run_id=run.run_id, limit=2).json()  # the same sample each time
    flat = json.dumps(items)
    assert "score" not in flat and "passed" not in flat and '"status"' not in flat


def test_agreement_for_a_training_step(api: Api, job_id: str) -> None:
    """Ratings vs rewards (threshold 0.5):
    hello r=1 expert good (agree), nope r=0 expert good (disagree), world r=1 expert bad (disagree),
    xx r=0 expert bad (agree): a=1 b=1 c=1 d=1, p_o = 0.5, p_e = (2*2 + 2*2)/16 = 0.5, kappa = 0."""
    for sid, i, verdict in (
        ("ftsample-s2g0", 0, "good"),
        ("ftsample-s2g0", 1, "good"),
        ("ftsample-s2g1", 0, "bad"),
        ("ftsample-s2g1", 1, "bad"),
    ):
        assert api.rate(sample_target(job_id, sid, i), verdict).status_code == 200
    report = api.get("/reviews/agreement", job_id=job_id, step=2).json()
    assert report["object"] == "review.agreement" and report["threshold"] == 0.5
    assert report["overall"]["n"] == 4 and report["overall"]["agreement_rate"] == 0.5
    assert report["overall"]["cohen_kappa"] == pytest.approx(0.0)
    assert report["disagreements"] == 2 and [i["agrees"] for i in report["items"]] == [False, False, True, True]
    first = report["items"][0]
    assert (first["completion"], first["reward"], first["reward_verdict"]) == ("nope", 0.0, "bad")
    assert first["rating"]["rating"] == "good" and first["components"] == [
        {"name": "has_word", "value": 0.0, "verdict": "bad"}
    ]
    assert [c["name"] for c in report["components"]] == ["has_word"]
    assert [s["name"] for s in report["skipped_components"]] == ["chars"]  # a length, not a score

    # At threshold 0 every completion is good for the reward: 2 of 4 agree, p_e = (2*4 + 2*0)/16 = 0.5, kappa 0.
    low = api.get("/reviews/agreement", job_id=job_id, threshold=0.0).json()
    assert low["threshold"] == 0.0 and low["overall"]["table"]["expert_bad_reward_good"] == 2
    # One more agreeing rating changes the figure: hello's group 1 at step 1 (r=0, expert bad).
    api.rate(sample_target(job_id, "ftsample-s1g0", 0), "bad")
    everything = api.get("/reviews/agreement", job_id=job_id).json()
    assert everything["overall"]["n"] == 5 and everything["overall"]["agreement_rate"] == pytest.approx(0.6)


def test_agreement_for_an_eval_run(api: Api, run: Run) -> None:
    # x passed (expert good: agree), n failed (expert good: disagree), z passed (expert bad: disagree)
    for item, verdict in zip(run.item_ids, ("good", "good", "bad"), strict=True):
        target = {"eval_id": run.eval_id, "run_id": run.run_id, "output_item_id": item}
        assert api.rate(target, verdict).status_code == 200
    report = api.get("/reviews/agreement", run_id=run.run_id).json()
    assert (report["eval_id"], report["threshold"]) == (run.eval_id, None)
    assert report["overall"]["n"] == 3 and report["overall"]["agreed"] == 1 and report["disagreements"] == 2
    assert [c["name"] for c in report["components"]] == ["exact"]
    assert [i["completion"] for i in report["items"]] == ["n", "z", "x"]
    assert report["items"][0]["reward_verdict"] == "bad" and report["items"][0]["reward"] == 0.0
    assert len(api.get("/reviews/ratings", run_id=run.run_id).json()["data"]) == 3


def test_export_is_jsonl_with_what_was_rated(api: Api, job_id: str, run: Run) -> None:
    api.rate(sample_target(job_id, "ftsample-s2g1", 1), "bad", "gibberish")
    api.rate({"eval_id": run.eval_id, "run_id": run.run_id, "output_item_id": run.item_ids[0]}, "good")
    out = api.get("/reviews/ratings/export", job_id=job_id)
    assert out.status_code == 200 and "attachment" in out.headers["content-disposition"]
    lines = [json.loads(line) for line in out.text.splitlines()]
    assert len(lines) == 1 and lines[0]["comment"] == "gibberish" and lines[0]["completion"] == "xx"
    assert lines[0]["reward"]["score"] == 0.0 and lines[0]["prompt"][0]["content"] == "prompt 2.1"
    assert len(api.get("/reviews/ratings/export").text.splitlines()) == 2


# -- refusals -------------------------------------------------------------------------------------------


def test_every_bad_input_is_a_400_naming_the_field(api: Api, job_id: str, run: Run) -> None:
    good = sample_target(job_id, "ftsample-s2g0", 0)
    bodies = [
        ([], None),
        ({"rating": "good"}, "target"),
        ({"target": "x", "rating": "good"}, "target"),
        ({"target": good, "rating": "meh"}, "rating"),
        ({"target": good, "rating": "good", "comment": 3}, "comment"),
        ({"target": good, "rating": "good", "comment": "x" * 4001}, "comment"),
        ({"target": good, "rating": "good", "score": 1}, "score"),
        ({"target": {**good, "completion_index": 2}, "rating": "good"}, "target.completion_index"),
        ({"target": {**good, "completion_index": True}, "rating": "good"}, "target.completion_index"),
        ({"target": {**good, "completion_index": -1}, "rating": "good"}, "target.completion_index"),
        ({"target": {"job_id": job_id, "sample_id": "ftsample-s2g0"}, "rating": "good"}, "target.completion_index"),
        ({"target": {**good, "run_id": run.run_id}, "rating": "good"}, "target.run_id"),
        ({"target": {"eval_id": run.eval_id, "run_id": run.run_id}, "rating": "good"}, "target.output_item_id"),
        ({"target": {"eval_id": run.eval_id, "run_id": "", "output_item_id": "x"}, "rating": "good"}, "target.run_id"),
    ]
    for body, param in bodies:
        assert error(api.http.post("/reviews/ratings", json=body))["param"] == param, body
    queries = [
        ("/reviews/ratings", {"limit": 0}, "limit"),
        ("/reviews/ratings", {"after": "rating_nope"}, "after"),
        ("/reviews/ratings", {"job_id": job_id, "run_id": run.run_id}, "run_id"),
        ("/reviews/queue", {}, "job_id"),
        ("/reviews/queue", {"job_id": job_id, "step": 0}, "step"),
        ("/reviews/queue", {"job_id": job_id, "step": 10**20}, "step"),
        ("/reviews/queue", {"run_id": run.run_id, "step": 1}, "step"),
        ("/reviews/queue", {"job_id": job_id, "limit": 101}, "limit"),
        ("/reviews/agreement", {}, "job_id"),
        ("/reviews/agreement", {"job_id": job_id, "threshold": "nan"}, "threshold"),
        ("/reviews/agreement", {"job_id": job_id, "threshold": "high"}, "threshold"),
        ("/reviews/ratings/export", {"job_id": job_id, "run_id": run.run_id}, "run_id"),
    ]
    for path, params, param in queries:
        assert error(api.get(path, **params))["param"] == param, (path, params)


def test_another_projects_job_run_and_sample_are_404(live_server: LiveServer, api: Api, job_id: str, run: Run) -> None:
    other = api_for(live_server, new_project_key(live_server))
    body = error(other.rate(sample_target(job_id, "ftsample-s2g0", 0), "good"), 404)
    assert body["code"] == "fine_tune_not_found" and job_id in body["message"]
    item = {"eval_id": run.eval_id, "run_id": run.run_id, "output_item_id": run.item_ids[0]}
    assert error(other.rate(item, "good"), 404)["param"] == "run_id"
    for path, params in (
        ("/reviews/ratings", {"job_id": job_id}),
        ("/reviews/ratings", {"run_id": run.run_id}),
        ("/reviews/queue", {"job_id": job_id}),
        ("/reviews/queue", {"run_id": run.run_id}),
        ("/reviews/agreement", {"job_id": job_id}),
        ("/reviews/agreement", {"run_id": run.run_id}),
        ("/reviews/ratings/export", {"job_id": job_id}),
    ):
        error(other.get(path, **params), 404)
    # In the owner's project: an unknown sample or output item is a 404 naming it.
    missing = error(api.rate(sample_target(job_id, "ftsample-nope", 0), "good"), 404)
    assert missing["param"] == "target.sample_id"
    gone = error(api.rate({**item, "output_item_id": "outputitem_nope"}, "good"), 404)
    assert gone["param"] == "target.output_item_id"
    assert error(api.rate({**item, "eval_id": "eval_other"}, "good"), 404)["param"] == "run_id"
    # The other project's ratings list sees none of these.
    api.rate(sample_target(job_id, "ftsample-s2g0", 0), "good")
    assert other.get("/reviews/ratings").json()["data"] == []
