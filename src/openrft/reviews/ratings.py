"""Experts' ratings in the store: the `expert_ratings` table (m004), one row per (project, rater, target).

A target is one completion of a training sample group (`<sample_id>/<completion_index>`) or one eval
output item (`<output_item_id>`); the rater is the id of the key that rated. Rating a target again
updates the row (the rating, the comment, `updated_at`), so each expert has one verdict per completion.
These functions take a connection and a project id and never read another project's rows; checking that
the target exists in the project is the caller's (openrft.api.reviews.service).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openrft.ids import new_id, now_s
from openrft.store import schema
from openrft.store.pages import keyset_page

RATINGS = ("good", "bad")
OBJECT = "review.rating"
t = schema.expert_ratings


@dataclass(frozen=True)
class SampleTarget:
    """One of the G completions of a training sample group."""

    job_id: str
    sample_id: str
    completion_index: int

    @property
    def key(self) -> str:
        return f"{self.sample_id}/{self.completion_index}"

    def columns(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "sample_id": self.sample_id, "completion_index": self.completion_index}


@dataclass(frozen=True)
class ItemTarget:
    """One output item of an eval run."""

    eval_id: str
    run_id: str
    output_item_id: str

    @property
    def key(self) -> str:
        return self.output_item_id

    def columns(self) -> dict[str, Any]:
        return {"eval_id": self.eval_id, "run_id": self.run_id, "output_item_id": self.output_item_id}


Target = SampleTarget | ItemTarget


def upsert(
    conn: sa.Connection, project_id: str, rater: str, target: Target, rating: str, comment: str | None
) -> tuple[Any, bool]:
    """Create or update the rater's rating of `target`; (the row, whether it was created)."""
    now = now_s()
    mine = (t.c.project_id == project_id, t.c.rater == rater, t.c.target == target.key)
    existing = conn.execute(sa.select(t.c.id).where(*mine)).first()
    if existing is None:
        values = {
            "id": new_id("rating_"),
            "project_id": project_id,
            **target.columns(),
            "target": target.key,
            "rating": rating,
            "comment": comment,
            "rater": rater,
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(t.insert().values(**values))
        rating_id = values["id"]
    else:
        rating_id = existing.id
        conn.execute(t.update().where(t.c.id == rating_id).values(rating=rating, comment=comment, updated_at=now))
    return conn.execute(sa.select(t).where(t.c.id == rating_id)).one(), existing is None


def scope(project_id: str, *, job_id: str | None = None, run_id: str | None = None) -> list[sa.ColumnElement[bool]]:
    where = [t.c.project_id == project_id]
    if job_id is not None:
        where.append(t.c.job_id == job_id)
    if run_id is not None:
        where.append(t.c.run_id == run_id)
    return where


def list_page(
    conn: sa.Connection,
    project_id: str,
    *,
    job_id: str | None,
    run_id: str | None,
    after: str | None,
    limit: int,
) -> tuple[list[Any], bool]:
    """Oldest first (created_at, then id); `after` is the id of the last rating already seen."""
    return keyset_page(
        conn,
        t,
        scope(project_id, job_id=job_id, run_id=run_id),
        keys=(t.c.created_at, t.c.id),
        id_column=t.c.id,
        after=after,
        limit=limit,
        unknown_after=f"Invalid 'after': no rating '{after}' in this list.",
    )


def all_rows(
    conn: sa.Connection, project_id: str, *, job_id: str | None = None, run_id: str | None = None
) -> list[Any]:
    """Every rating in the scope, oldest first."""
    query = sa.select(t).where(*scope(project_id, job_id=job_id, run_id=run_id)).order_by(t.c.created_at, t.c.id)
    return list(conn.execute(query).all())


def rated_keys(conn: sa.Connection, project_id: str, rater: str, keys: list[str]) -> dict[str, Any]:
    """The rater's ratings of these targets, by target key."""
    if not keys:
        return {}
    rows = conn.execute(sa.select(t).where(t.c.project_id == project_id, t.c.rater == rater, t.c.target.in_(keys)))
    return {r.target: r for r in rows}


def rating_object(row: Any) -> dict[str, Any]:
    """A row as the API's `review.rating`: the target in one of its two shapes."""
    m = row._mapping
    if m["sample_id"] is not None:
        target: dict[str, Any] = {
            "type": "training_sample",
            "job_id": m["job_id"],
            "sample_id": m["sample_id"],
            "completion_index": m["completion_index"],
        }
    else:
        target = {
            "type": "eval_output_item",
            "eval_id": m["eval_id"],
            "run_id": m["run_id"],
            "output_item_id": m["output_item_id"],
        }
    return {
        "id": m["id"],
        "object": OBJECT,
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
        "target": target,
        "rating": m["rating"],
        "comment": m["comment"],
        "rater": m["rater"],
    }
