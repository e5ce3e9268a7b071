"""Expert review: rate completions, list and export the ratings, the review queue, the agreement report.

What can be rated (a *target*): one of the G completions of a stored training sample group
(`{job_id, sample_id, completion_index}`) or one eval output item (`{eval_id, run_id, output_item_id}`),
of the caller's project; another project's job, run or sample does not exist (404). The rater is the key
that rates; rating a target again replaces that rater's verdict.

The queue hands an expert completions to rate *without* what the reward made of them (no reward,
components, advantage, results or status), so the verdict is the expert's own: a step's stored groups
(already a random sample of the step's batch, training/samples.py) or a seeded random sample of a run's
output items. The agreement report (openrft.reviews.agreement) then sets each rating beside the reward's
verdict: a training completion is good for the reward when its reward is >= `threshold` (default 0.5),
each of its components likewise; an eval output item is good when it passed (each criterion by its own
pass rule), or, given a `threshold`, when every criterion scored >= it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from openrft.api.jobs import service as jobs_service
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.errors import InvalidRequest, NotFound
from openrft.reviews import agreement, ratings
from openrft.reviews.agreement import DEFAULT_THRESHOLD, Rated
from openrft.reviews.ratings import ItemTarget, SampleTarget, Target
from openrft.store import schema

MAX_COMMENT = 4000
SAMPLE_TARGET_KEYS = ("job_id", "sample_id", "completion_index")
ITEM_TARGET_KEYS = ("eval_id", "run_id", "output_item_id")
samples_t = schema.job_samples
runs_t = schema.eval_runs
items_t = schema.eval_output_items


# -- checks -------------------------------------------------------------------------------------------


def _str(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' must be a non-empty string.", param=param)
    return value


def parse_target(raw: Any) -> Target:
    """The body's `target`: a training completion or an eval output item (400 naming the field at fault)."""
    if not isinstance(raw, dict):
        raise InvalidRequest(
            "'target' must be an object: {job_id, sample_id, completion_index} for a training completion or "
            "{eval_id, run_id, output_item_id} for an eval output item.",
            param="target",
        )
    keys = SAMPLE_TARGET_KEYS if ("sample_id" in raw or "job_id" in raw) else ITEM_TARGET_KEYS
    extra = [k for k in raw if k not in keys]
    if extra:
        raise InvalidRequest(f"Unrecognized field 'target.{extra[0]}' for this target.", param=f"target.{extra[0]}")
    for key in keys:
        if key not in raw:
            raise InvalidRequest(f"Missing required parameter: 'target.{key}'.", param=f"target.{key}")
    if keys is ITEM_TARGET_KEYS:
        return ItemTarget(*(_str(raw[k], f"target.{k}") for k in keys))
    index = raw["completion_index"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidRequest("'target.completion_index' must be an integer >= 0.", param="target.completion_index")
    return SampleTarget(_str(raw["job_id"], "target.job_id"), _str(raw["sample_id"], "target.sample_id"), index)


def parse_rating(payload: Any) -> tuple[Target, str, str | None]:
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    extra = [k for k in payload if k not in ("target", "rating", "comment")]
    if extra:
        raise InvalidRequest(f"Unrecognized request argument supplied: {extra[0]}", param=extra[0])
    if "target" not in payload:
        raise InvalidRequest("Missing required parameter: 'target'.", param="target")
    target = parse_target(payload["target"])
    rating = payload.get("rating")
    if rating not in ratings.RATINGS:
        raise InvalidRequest(f"'rating' must be 'good' or 'bad', got {rating!r:.40}.", param="rating")
    comment = payload.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise InvalidRequest(f"'comment' must be a string of at most {MAX_COMMENT} characters.", param="comment")
    return target, rating, (comment or None)


def one_scope(job_id: str | None, run_id: str | None, *, required: bool) -> None:
    if job_id is not None and run_id is not None:
        raise InvalidRequest("Give job_id or run_id, not both: a rating is of one or the other.", param="run_id")
    if required and job_id is None and run_id is None:
        raise InvalidRequest(
            "Missing required parameter: 'job_id' (a training job) or 'run_id' (an eval run).", param="job_id"
        )


def _job(ctx: AppContext, principal: Principal, job_id: str) -> None:
    jobs_service.get_job(ctx, principal, job_id)  # NotFound (404) for another project's job


def _run_row(conn: sa.Connection, project_id: str, run_id: str, eval_id: str | None = None) -> Any:
    where = [runs_t.c.id == run_id, runs_t.c.project_id == project_id, runs_t.c.deleted_at.is_(None)]
    row = conn.execute(sa.select(runs_t).where(*where)).first()
    if row is None or (eval_id is not None and row.eval_id != eval_id):
        raise NotFound(
            f"Run with id '{run_id}' not found" + (f" in eval '{eval_id}'." if eval_id else "."), param="run_id"
        )
    return row


def _sample_row(conn: sa.Connection, job_id: str, sample_id: str) -> Any:
    row = conn.execute(sa.select(samples_t).where(samples_t.c.id == sample_id, samples_t.c.job_id == job_id)).first()
    if row is None:
        raise NotFound(f"Sample '{sample_id}' not found in job {job_id}.", param="target.sample_id")
    return row


def _check_target(ctx: AppContext, principal: Principal, conn: sa.Connection, target: Target) -> None:
    if isinstance(target, SampleTarget):
        row = _sample_row(conn, target.job_id, target.sample_id)
        count = len(row.completions)
        if target.completion_index >= count:
            raise InvalidRequest(
                f"'target.completion_index' {target.completion_index} is out of range: sample "
                f"{target.sample_id} has {count} completions (0-{count - 1}).",
                param="target.completion_index",
            )
        return
    _run_row(conn, principal.project_id, target.run_id, target.eval_id)
    found = conn.execute(
        sa.select(items_t.c.id).where(items_t.c.id == target.output_item_id, items_t.c.run_id == target.run_id)
    ).first()
    if found is None:
        raise NotFound(
            f"Output item with id '{target.output_item_id}' not found in run '{target.run_id}'.",
            param="target.output_item_id",
        )


# -- ratings ------------------------------------------------------------------------------------------


def rate(ctx: AppContext, principal: Principal, payload: Any) -> dict[str, Any]:
    """Create or replace the caller's rating of a target."""
    target, rating, comment = parse_rating(payload)
    if isinstance(target, SampleTarget):
        _job(ctx, principal, target.job_id)
    with ctx.store.begin_immediate() as conn:
        _check_target(ctx, principal, conn, target)
        row, _created = ratings.upsert(conn, principal.project_id, principal.key_id, target, rating, comment)
    return ratings.rating_object(row)


def _check_filters(ctx: AppContext, principal: Principal, job_id: str | None, run_id: str | None) -> None:
    one_scope(job_id, run_id, required=False)
    if job_id is not None:
        _job(ctx, principal, job_id)
    if run_id is not None:
        with ctx.store.begin() as conn:
            _run_row(conn, principal.project_id, run_id)


def list_ratings(
    ctx: AppContext, principal: Principal, *, job_id: str | None, run_id: str | None, after: str | None, limit: int
) -> dict[str, Any]:
    _check_filters(ctx, principal, job_id, run_id)
    with ctx.store.begin() as conn:
        rows, has_more = ratings.list_page(
            conn, principal.project_id, job_id=job_id, run_id=run_id, after=after, limit=limit
        )
    data = [ratings.rating_object(r) for r in rows]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def export_lines(ctx: AppContext, principal: Principal, *, job_id: str | None, run_id: str | None) -> Iterator[bytes]:
    """JSONL: each rating with the completion it rated and what the reward made of it."""
    _check_filters(ctx, principal, job_id, run_id)
    with ctx.store.begin() as conn:
        rows = ratings.all_rows(conn, principal.project_id, job_id=job_id, run_id=run_id)
        views = _views(conn, rows)
    for row in rows:
        view = views.get(row.id, {"prompt": None, "completion": None, "reward": None})
        line = ratings.rating_object(row) | {k: v for k, v in view.items() if k != "order"}
        yield json.dumps(line, ensure_ascii=False).encode() + b"\n"


# -- what was rated, and what the reward made of it ----------------------------------------------------


def _sample_view(row: Any, index: int) -> dict[str, Any] | None:
    if index >= len(row.completions):
        return None
    c = row.completions[index]
    return {
        "prompt": row.prompt,
        "completion": c.get("text"),
        "step": row.step,
        "order": (row.step, row.group_index, index),
        "reward": {
            "score": None if c.get("error") else c.get("reward"),
            "components": c.get("components") or {},
            "error": c.get("error"),
        },
    }


def _item_view(row: Any) -> dict[str, Any]:
    sample = row.sample or {}
    output = sample.get("output") or []
    results = row.results or []
    errored = bool(sample.get("error")) or any((r.get("sample") or {}).get("error") for r in results)
    return {
        "prompt": sample.get("input"),
        "completion": output[-1].get("content") if output else None,
        "order": (row.datasource_item_id, 0, 0),
        "reward": {
            "score": results[0].get("score") if len(results) == 1 else None,
            "components": {str(r.get("name")): r.get("score") for r in results},
            "passed": {str(r.get("name")): bool(r.get("passed")) for r in results},
            "status": row.status,
            "error": sample.get("error")
            or (next((r["sample"]["error"] for r in results if (r.get("sample") or {}).get("error")), None)),
            "errored": errored,
        },
    }


def _views(conn: sa.Connection, rows: list[Any]) -> dict[str, dict[str, Any]]:
    """rating id -> {prompt, completion, reward, ...} of what it rated (a pruned sample: absent)."""
    sample_ids = {r.sample_id for r in rows if r.sample_id}
    item_ids = {r.output_item_id for r in rows if r.output_item_id}
    by_sample = (
        {s.id: s for s in conn.execute(sa.select(samples_t).where(samples_t.c.id.in_(sample_ids)))}
        if sample_ids
        else {}
    )
    by_item = {i.id: i for i in conn.execute(sa.select(items_t).where(items_t.c.id.in_(item_ids)))} if item_ids else {}
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.sample_id and r.sample_id in by_sample and by_sample[r.sample_id].job_id == r.job_id:
            view = _sample_view(by_sample[r.sample_id], r.completion_index)
            if view is not None:
                out[r.id] = view
        elif r.output_item_id and r.output_item_id in by_item and by_item[r.output_item_id].run_id == r.run_id:
            out[r.id] = _item_view(by_item[r.output_item_id])
    return out


# -- the queue ----------------------------------------------------------------------------------------


def _steps(conn: sa.Connection, job_id: str) -> list[int]:
    query = sa.select(samples_t.c.step).where(samples_t.c.job_id == job_id).distinct().order_by(samples_t.c.step)
    return [int(s) for s in conn.execute(query).scalars()]


def _mine(conn: sa.Connection, principal: Principal, keys: list[str]) -> dict[str, dict[str, Any]]:
    rated = ratings.rated_keys(conn, principal.project_id, principal.key_id, keys)
    return {k: {"id": r.id, "rating": r.rating, "comment": r.comment} for k, r in rated.items()}


def queue(
    ctx: AppContext,
    principal: Principal,
    *,
    job_id: str | None,
    step: int | None,
    run_id: str | None,
    limit: int,
) -> dict[str, Any]:
    """Completions to rate, without their rewards; each with the caller's rating so far (or null)."""
    one_scope(job_id, run_id, required=True)
    if run_id is not None:
        if step is not None:
            raise InvalidRequest("'step' selects a training step: use it with job_id, not run_id.", param="step")
        return _run_queue(ctx, principal, run_id, limit)
    assert job_id is not None
    _job(ctx, principal, job_id)
    with ctx.store.begin() as conn:
        steps = _steps(conn, job_id)
        chosen = step if step is not None else (steps[-1] if steps else None)
        rows = []
        if chosen is not None:
            query = sa.select(samples_t).where(samples_t.c.job_id == job_id, samples_t.c.step == chosen)
            rows = list(conn.execute(query.order_by(samples_t.c.group_index).limit(limit)))
        keys = [f"{r.id}/{i}" for r in rows for i in range(len(r.completions))]
        mine = _mine(conn, principal, keys)
    groups = [
        {
            "prompt": r.prompt,
            "completions": [
                {
                    "target": {"job_id": job_id, "sample_id": r.id, "completion_index": i},
                    "text": c.get("text"),
                    "rating": mine.get(f"{r.id}/{i}"),
                }
                for i, c in enumerate(r.completions)
            ],
        }
        for r in rows
    ]
    return {"object": "review.queue", "job_id": job_id, "step": chosen, "steps": steps, "groups": groups}


def _run_queue(ctx: AppContext, principal: Principal, run_id: str, limit: int) -> dict[str, Any]:
    with ctx.store.begin() as conn:
        run = _run_row(conn, principal.project_id, run_id)
        ids = list(
            conn.execute(sa.select(items_t.c.id).where(items_t.c.run_id == run_id).order_by(items_t.c.id)).scalars()
        )
        chosen = set(random.Random(run_id).sample(ids, min(limit, len(ids))))  # the same sample on every call
        rows = [
            r
            for r in conn.execute(
                sa.select(items_t).where(items_t.c.run_id == run_id).order_by(items_t.c.datasource_item_id)
            )
            if r.id in chosen
        ]
        mine = _mine(conn, principal, [r.id for r in rows])
    groups = [
        {
            "prompt": (r.sample or {}).get("input"),
            "completions": [
                {
                    "target": {"eval_id": run.eval_id, "run_id": run_id, "output_item_id": r.id},
                    "text": _item_view(r)["completion"],
                    "rating": mine.get(r.id),
                }
            ],
        }
        for r in rows
    ]
    return {
        "object": "review.queue",
        "eval_id": run.eval_id,
        "run_id": run_id,
        "total_items": len(ids),
        "groups": groups,
    }


# -- the agreement report -----------------------------------------------------------------------------


def _rated_sample(rating: Any, view: dict[str, Any] | None, verdicts: dict[str, bool], threshold: float) -> Rated:
    score = view["reward"]["score"] if view else None
    return Rated(
        rating_id=rating.id,
        expert_good=rating.rating == "good",
        reward=score,
        reward_good=agreement.is_good(score, threshold),
        components=(view["reward"]["components"] if view else {}),
        component_good=verdicts,
    )


def _rated_item(rating: Any, view: dict[str, Any] | None, threshold: float | None) -> Rated:
    if view is None or view["reward"]["errored"]:
        return Rated(rating.id, rating.rating == "good", None, None)
    scores = view["reward"]["components"]
    if threshold is None:
        verdicts = dict(view["reward"]["passed"])
        overall = view["reward"]["status"] == "pass"
    else:
        verdicts = {name: s is not None and s >= threshold for name, s in scores.items()}
        overall = all(verdicts.values())
    return Rated(rating.id, rating.rating == "good", view["reward"]["score"], overall, scores, verdicts)


def _report_item(row: Any, view: dict[str, Any] | None, judged: Rated) -> dict[str, Any]:
    """One rating of the report: what was rated, the expert's verdict and the reward's, side by side."""
    view = view or {"prompt": None, "completion": None}
    return {
        "rating": ratings.rating_object(row),
        "prompt": view["prompt"],
        "completion": view["completion"],
        "reward": judged.reward,
        "reward_verdict": None if judged.reward_good is None else ("good" if judged.reward_good else "bad"),
        "components": [
            {"name": name, "value": judged.components.get(name), "verdict": "good" if good else "bad"}
            for name, good in sorted(judged.component_good.items())
        ],
        "agrees": None if judged.reward_good is None else judged.reward_good == judged.expert_good,
    }


def agreement_report(
    ctx: AppContext,
    principal: Principal,
    *,
    job_id: str | None,
    step: int | None,
    run_id: str | None,
    threshold: float | None,
) -> dict[str, Any]:
    """Every rating in the scope beside the reward's verdict, the figures, the disagreements first."""
    one_scope(job_id, run_id, required=True)
    if run_id is not None and step is not None:
        raise InvalidRequest("'step' selects a training step: use it with job_id, not run_id.", param="step")
    if job_id is not None:
        _job(ctx, principal, job_id)
    with ctx.store.begin() as conn:
        scope: dict[str, Any] = {"job_id": job_id, "step": step}
        if run_id is not None:
            scope = {"eval_id": _run_row(conn, principal.project_id, run_id).eval_id, "run_id": run_id}
        rows = ratings.all_rows(conn, principal.project_id, job_id=job_id, run_id=run_id)
        views = _views(conn, rows)
    if step is not None:
        rows = [r for r in rows if r.id in views and views[r.id].get("step") == step]
    rows.sort(key=lambda r: views[r.id]["order"] if r.id in views else (1 << 62, 0, 0))  # reading order
    skipped: list[dict[str, str]] = []
    used: float | None
    if run_id is None:
        used = DEFAULT_THRESHOLD if threshold is None else threshold
        values = [views[r.id]["reward"]["components"] if r.id in views else {} for r in rows]
        component_verdicts, skipped = agreement.judge_components(values, used)
        rated = [_rated_sample(r, views.get(r.id), v, used) for r, v in zip(rows, component_verdicts, strict=True)]
    else:
        used = threshold
        rated = [_rated_item(r, views.get(r.id), threshold) for r in rows]
    figures = agreement.report(rated)
    by_id = {r.id: r for r in rows}
    items = [
        _report_item(by_id[judged.rating_id], views.get(judged.rating_id), judged)
        for judged in agreement.disagreements_first(rated)
    ]
    return {
        "object": "review.agreement",
        **scope,
        "threshold": used,
        "overall": figures["overall"],
        "components": figures["components"],
        "skipped_components": skipped,
        "unscored": figures["unscored"],
        "disagreements": len(figures["disagreement_ids"]),
        "items": items,
    }
