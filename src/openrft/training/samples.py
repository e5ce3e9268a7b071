"""Training samples: each step keeps a bounded record of what it sampled, how each completion was graded and
what the update made of it, readable through `GET /v1/fine_tuning/jobs/{id}/samples`.

One `job_samples` row per group (a prompt and its G completions): the prompt's messages and, per completion,
its text, reward, components, advantage, completion_tokens and error. Components are what the reward is
made of: the metrics_list values of a lambda grader, or each sub-grader's score of a multi grader (with the
metrics_list of its lambda sub-graders); a single built-in grader has none.

Bounds (Settings): at most `samples_groups_per_step` groups of each step, the first ones of the step's
batch (the batch is a seeded shuffle of the training file, so they are a random sample of its prompts), and
at most `samples_per_job` groups per job. Past that whole steps go, oldest first and the first stored step
last: it holds the base model's answers, which every later step is read against. The newest step never goes.
A step's rows and the pruning are one transaction fenced by the job's lease (`JobHandle.fenced`) with one
INSERT; a resumed run that replays a step first deletes what the lost attempt stored from that step on.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from openrft.ids import new_id, now_s
from openrft.jobstate import JobHandle
from openrft.settings import Settings
from openrft.store import schema

MAX_ERROR_CHARS = 500
OBJECT = "fine_tuning.job.sample"


def components(outcome: Any) -> dict[str, float]:
    """What one completion's reward is made of: sub-grader scores of a multi grader, then metrics_list values."""
    parts = {name: float(sub.score) for name, sub in outcome.sub.items()}
    parts.update(outcome.extra_metrics)
    return parts


def group_rows(
    *,
    step: int,
    messages: Sequence[list[dict[str, Any]]],
    texts: Sequence[str],
    graded: Any,
    advantages: Sequence[float],
    completion_tokens: Sequence[int],
    group_size: int,
    max_groups: int,
) -> list[dict[str, Any]]:
    """`job_samples` rows of the step's first `max_groups` groups; `messages[g]` is group g's prompt.

    `texts`, `graded` (a graders BatchResult), `advantages` and `completion_tokens` have one entry per
    completion, a group's G completions contiguous (as rollout.generate returns them).
    """
    created = now_s()
    out = []
    for g in range(min(max_groups, len(messages))):
        span = range(g * group_size, (g + 1) * group_size)
        rewards = [float(graded.rewards[i]) for i in span]
        completions = [
            {
                "text": texts[i],
                "reward": rewards[i - span.start],
                "components": components(graded.outcomes[i]),
                "advantage": float(advantages[i]),
                "completion_tokens": int(completion_tokens[i]),
                "error": _error(graded.outcomes[i]),
            }
            for i in span
        ]
        out.append(
            {
                "id": new_id("ftsample-"),
                "step": step,
                "group_index": g,
                "prompt": messages[g],
                "completions": completions,
                "reward_mean": statistics.fmean(rewards),
                "reward_std": statistics.stdev(rewards) if len(rewards) > 1 else 0.0,  # GRPO's sample std
                "created_at": created,
            }
        )
    return out


def _error(outcome: Any) -> dict[str, str] | None:
    if outcome.error is None:
        return None
    return {"code": outcome.error, "message": (outcome.details or "")[:MAX_ERROR_CHARS]}


def steps_to_drop(groups_per_step: Sequence[tuple[int, int]], cap: int) -> list[int]:
    """Steps to delete so at most `cap` groups remain: `groups_per_step` is (step, groups) oldest first.

    The middle steps go oldest first, then the first step; the newest step stays even when it alone is over
    the cap (the trainer never writes more than the cap in one step).
    """
    total = sum(n for _, n in groups_per_step)
    if total <= cap or len(groups_per_step) < 2:
        return []
    first, *middle, _newest = groups_per_step
    dropped = []
    for step, n in [*middle, first]:
        if total <= cap:
            break
        dropped.append(step)
        total -= n
    return dropped


def store_step(handle: JobHandle, rows: list[dict[str, Any]], *, cap: int) -> list[str]:
    """Write one step's sample groups (replacing what a lost attempt wrote from that step on) and prune the
    job's oldest steps down to `cap` groups, in one fenced transaction; returns the new rows' ids."""
    if not rows or cap <= 0:
        return []
    t = schema.job_samples
    rows = rows[:cap]
    with handle.fenced() as conn:
        conn.execute(t.delete().where(t.c.job_id == handle.job_id, t.c.step >= rows[0]["step"]))
        conn.execute(t.insert(), [{**r, "job_id": handle.job_id} for r in rows])
        counts = conn.execute(
            sa.select(t.c.step, sa.func.count())
            .where(t.c.job_id == handle.job_id)
            .group_by(t.c.step)
            .order_by(t.c.step)
        ).all()
        drop = steps_to_drop([(int(s), int(n)) for s, n in counts], cap)
        if drop:
            conn.execute(t.delete().where(t.c.job_id == handle.job_id, t.c.step.in_(drop)))
    return [r["id"] for r in rows]


def store_rollout(
    handle: JobHandle,
    settings: Settings,
    step: int,
    rows: list[Any],
    out: Any,
    graded: Any,
    advantages: list[float],
    group_size: int,
) -> list[dict[str, Any]]:
    """Store the step's first `samples_groups_per_step` groups (within the job's `samples_per_job`) of a
    rollout.Rollout `out` graded as `graded`; returns the rows stored."""
    groups = min(settings.samples_groups_per_step, settings.samples_per_job)
    if groups <= 0:
        return []
    stored = group_rows(
        step=step,
        messages=[r.messages for r in rows],
        texts=out.texts,
        graded=graded,
        advantages=advantages,
        completion_tokens=out.completion_tokens,
        group_size=group_size,
        max_groups=groups,
    )
    store_step(handle, stored, cap=settings.samples_per_job)
    return stored


def top_ids(rows: Sequence[dict[str, Any]], n: int = 3) -> list[str]:
    """The ids of the `n` groups with the highest mean reward: where a warning sends a reader first."""
    return [r["id"] for r in sorted(rows, key=lambda r: -r["reward_mean"])[:n]]


def sample_object(row: Any) -> dict[str, Any]:
    """A job_samples row as our `fine_tuning.job.sample` object."""
    m = row._mapping
    return {
        "id": m["id"],
        "object": OBJECT,
        "created_at": m["created_at"],
        "fine_tuning_job_id": m["job_id"],
        "step": m["step"],
        "group_index": m["group_index"],
        "prompt": m["prompt"],
        "completions": m["completions"],
        "reward_mean": m["reward_mean"],
        "reward_std": m["reward_std"],
    }
