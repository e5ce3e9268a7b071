"""Eval records: the ids, the output items of a run, the counts derived from them, a job's linked eval.

An output item is the truth of a run: `insert_output_items` writes each data-source item once (a resumed
run skips what is there; the table's unique (run_id, datasource_item_id) backs it), and `refresh_counts`
recomputes the run's `result_counts`, `per_testing_criteria_results` and `per_model_usage` from every item
it holds, so the counts of a resumed or re-counted run are right by construction. The rules
(`summarize`, pure):

- an item is *errored* when its sample carries an error (generation failed) or a criterion could not
  grade it (its result's `sample.error`); otherwise it *passed* when every criterion passed, else it
  *failed*; total = passed + failed + errored;
- each criterion counts the items it graded: passed when its result passed, failed otherwise (a grader
  error is a fail of that criterion); an item with no results (its generation failed) counts in none;
- each model named by a sample counts one invocation per sample that reached it (usage total > 0) and the
  sum of those samples' tokens; a sample the model never saw (refused before generation) is not one.

The RFT job's linked eval (`create_linked_eval`) and its runs (`record_job_eval`, one per evaluation
step, written by the trainer already graded) live here too, so every writer of these tables is one module.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openrft.datasets import DatasetRow
from openrft.ids import now_s
from openrft.inference import prompts
from openrft.store import schema

EVAL_PREFIX = "eval_"
RUN_PREFIX = "evalrun_"
OUTPUT_ITEM_PREFIX = "outputitem_"
REWARD_CRITERION = "reward"  # the name of a linked eval's criterion that is the job's grader
DEFAULT_PASS_THRESHOLD = 0.5  # the job's text_similarity grader has none; OpenAI's evals require one


def new_eval_id() -> str:
    """`eval_` + 32 hex characters, as OpenAI's eval ids look."""
    return EVAL_PREFIX + uuid.uuid4().hex


def new_run_id() -> str:
    return RUN_PREFIX + uuid.uuid4().hex


def new_output_item_id() -> str:
    return OUTPUT_ITEM_PREFIX + uuid.uuid4().hex


def empty_counts() -> dict[str, Any]:
    """The counts of a run with no output items yet (a new run's row)."""
    return {
        "result_counts": {"total": 0, "passed": 0, "failed": 0, "errored": 0},
        "per_testing_criteria_results": [],
        "per_model_usage": [],
    }


@dataclass(frozen=True)
class OutputItem:
    """One graded data-source item, as a run writes it (OpenAI's output item without its ids)."""

    datasource_item_id: int  # the item's 0-based index in the data source
    datasource_item: dict[str, Any]
    results: list[dict[str, Any]]  # one Result per criterion: {"name", "type", "score", "passed", "sample"}
    sample: dict[str, Any]  # OpenAI's Sample: input, output, usage, model, finish_reason, ..., error
    passed: bool

    @property
    def status(self) -> str:
        return "pass" if self.passed else "fail"


def build_sample(
    *,
    messages: Sequence[Mapping[str, Any]],
    text: str | None,
    model: str | None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    finish_reason: str | None = None,
    sampling: Mapping[str, Any] | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """OpenAI's output-item Sample: the prompt's messages (text only), the assistant's answer, usage, sampling."""
    sampling = sampling or {}
    return {
        "input": sample_input(messages),
        "output": [] if text is None else [{"role": "assistant", "content": text}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cached_tokens": 0,  # no prompt cache between sequences in this engine
        },
        "model": model,
        "finish_reason": finish_reason,
        "max_completion_tokens": sampling.get("max_completion_tokens"),
        "seed": sampling.get("seed"),
        "temperature": sampling.get("temperature"),
        "top_p": sampling.get("top_p"),
        "error": error,
    }


def sample_input(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """[{role, content}] with content as text, flattened as the one chat renderer flattens it."""
    try:
        flat = prompts.template_messages(messages)
    except prompts.UnsupportedContent:  # an image part: shown as it came, the renderer refused it
        return [{"role": str(m.get("role")), "content": str(m.get("content"))} for m in messages]
    return [{"role": str(m.get("role")), "content": str(f["content"])} for m, f in zip(messages, flat, strict=True)]


# -- output items and counts ---------------------------------------------------------------------------


def insert_output_items(conn: sa.Connection, *, run_id: str, eval_id: str, items: Sequence[OutputItem]) -> int:
    """Write the items `run_id` doesn't hold yet (by datasource_item_id); returns how many were new."""
    if not items:
        return 0
    table = schema.eval_output_items
    wanted = sorted({item.datasource_item_id for item in items})
    existing = set(
        conn.execute(
            sa.select(table.c.datasource_item_id).where(
                table.c.run_id == run_id, table.c.datasource_item_id.in_(wanted)
            )
        ).scalars()
    )
    created, rows = now_s(), []
    for item in items:
        if item.datasource_item_id in existing:
            continue
        existing.add(item.datasource_item_id)  # a list naming one item twice writes it once
        rows.append(
            {
                "id": new_output_item_id(),
                "run_id": run_id,
                "eval_id": eval_id,
                "datasource_item_id": item.datasource_item_id,
                "datasource_item": item.datasource_item,
                "results": item.results,
                "sample": item.sample,
                "status": item.status,
                "created_at": created,
            }
        )
    if rows:
        conn.execute(table.insert(), rows)
    return len(rows)


def written_item_ids(conn: sa.Connection, run_id: str) -> set[int]:
    """The datasource_item_ids `run_id` already holds (what a resumed run skips)."""
    table = schema.eval_output_items
    return set(conn.execute(sa.select(table.c.datasource_item_id).where(table.c.run_id == run_id)).scalars())


def is_errored(results: Sequence[Mapping[str, Any]], sample: Mapping[str, Any] | None) -> bool:
    if sample and sample.get("error"):
        return True
    return any(isinstance(r.get("sample"), Mapping) and r["sample"].get("error") for r in results)


def _criterion_of(criteria: Sequence[Mapping[str, Any]], result: Mapping[str, Any], taken: set[int]) -> int | None:
    """The criterion a result grades: by its `testing_criteria` id, else the first one of its name not matched
    yet in this item (names may repeat; results keep the criteria's order)."""
    for i, criterion in enumerate(criteria):
        if "testing_criteria" in result:
            if criterion.get("id") == result["testing_criteria"]:
                return i
        elif i not in taken and criterion.get("name") == result.get("name"):
            return i
    return None


def summarize(items: Sequence[Mapping[str, Any]], criteria: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The three count fields of a run from its items ({"results", "sample", "status"} each); see the docstring."""
    counts = {"total": 0, "passed": 0, "failed": 0, "errored": 0}
    per_criterion: list[dict[str, Any]] = [
        {"testing_criteria": c.get("id"), "passed": 0, "failed": 0} for c in criteria
    ]
    usage: dict[str, dict[str, Any]] = {}
    for item in items:
        results, sample = item.get("results") or [], item.get("sample") or {}
        counts["total"] += 1
        if is_errored(results, sample):
            counts["errored"] += 1
        else:
            counts["passed" if item.get("status") == "pass" else "failed"] += 1
        taken: set[int] = set()
        for result in results:
            index = _criterion_of(criteria, result, taken)
            if index is None:
                continue
            taken.add(index)
            per_criterion[index]["passed" if result.get("passed") else "failed"] += 1
        tokens = sample.get("usage") or {}
        if sample.get("model") and int(tokens.get("total_tokens") or 0) > 0:
            entry = usage.setdefault(
                str(sample["model"]),
                {
                    "model_name": str(sample["model"]),
                    "invocation_count": 0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "total_tokens": 0,
                    "cached_tokens": 0,
                },
            )
            entry["invocation_count"] += 1
            for key in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"):
                entry[key] = int(entry[key]) + int(tokens.get(key) or 0)
    return {
        "result_counts": counts,
        "per_testing_criteria_results": per_criterion,
        "per_model_usage": [usage[name] for name in sorted(usage)],
    }


def refresh_counts(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    """Recount `run_id` from its output items, write the counts onto its row, and return them."""
    runs, evals, table = schema.eval_runs, schema.evals, schema.eval_output_items
    criteria = conn.execute(
        sa.select(evals.c.testing_criteria).join(runs, runs.c.eval_id == evals.c.id).where(runs.c.id == run_id)
    ).scalar()
    rows = conn.execute(
        sa.select(table.c.results, table.c.sample, table.c.status).where(table.c.run_id == run_id)
    ).mappings()
    counts = summarize([dict(r) for r in rows], criteria or [])
    conn.execute(runs.update().where(runs.c.id == run_id).values(**counts))
    return counts


# -- the RFT job's linked eval ---------------------------------------------------------------------------


def linked_criteria(grader: Mapping[str, Any], guard_graders: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A job's testing criteria, before ids: its grader named "reward" (pass at score >= 0.5 unless it sets a
    pass_threshold; a text_similarity grader, which evals require to set one, gets 0.5), then each guard."""
    reward = {**grader, "name": REWARD_CRITERION}
    if reward.get("type") == "text_similarity" and reward.get("pass_threshold") is None:
        reward["pass_threshold"] = DEFAULT_PASS_THRESHOLD
    return [reward, *(dict(g) for g in guard_graders)]


def create_linked_eval(
    conn: sa.Connection, *, project_id: str, job_id: str, grader: dict[str, Any], guard_graders: list[dict[str, Any]]
) -> str:
    """Insert the eval of an RFT job (its grader + guard graders as criteria) and point the job at it."""
    from openrft.evals import criteria, definitions

    testing_criteria = criteria.parse_criteria(linked_criteria(grader, guard_graders))
    eval_id = new_eval_id()
    conn.execute(
        schema.evals.insert().values(
            id=eval_id,
            project_id=project_id,
            name=f"{job_id} validation",
            data_source_config=definitions.custom_config({"type": "object"}, include_sample_schema=True),
            testing_criteria=testing_criteria,
            metadata={"fine_tuning_job": job_id},
            job_id=job_id,
            created_at=now_s(),
        )
    )
    conn.execute(schema.jobs.update().where(schema.jobs.c.id == job_id).values(eval_id=eval_id))
    return eval_id


def record_job_eval(
    begin: Callable[[], AbstractContextManager[sa.Connection]],
    *,
    eval_id: str,
    job_id: str,
    project_id: str,
    step: int,
    model_id: str,
    rows: list[DatasetRow],
    texts: list[str],
    prompt_tokens: list[int],
    completion_tokens: list[int],
    finish_reasons: list[str],
    results: list[tuple[list[dict[str, Any]], bool]],
    sampling: dict[str, Any],
) -> str:
    """Write one evaluation step of a job as a completed run named "step N", with one output item per
    validation row (`results` as criteria.grade_items returns them, aligned with `rows`).

    The items' datasource_item is the validation file's line (messages, tools, fields) and its id the
    line's 0-based index in that file. One transaction from `begin` (the trainer passes its lease-fenced
    `JobHandle.fenced`, so a trainer that lost its job writes nothing): the run is never seen half written,
    and a replayed evaluation step (a resumed job) replaces the run an earlier attempt wrote for that step.
    """
    n = len(rows)
    if not (len(texts) == len(prompt_tokens) == len(completion_tokens) == len(finish_reasons) == len(results) == n):
        raise ValueError("record_job_eval: rows, texts, token counts, finish reasons and results must align")
    items = []
    for row, text, p_tok, c_tok, reason, (graded, passed) in zip(
        rows, texts, prompt_tokens, completion_tokens, finish_reasons, results, strict=True
    ):
        line = {"messages": row.messages, **({"tools": row.tools} if row.tools else {}), **row.item}
        sample = build_sample(
            messages=row.messages,
            text=text,
            model=model_id,
            prompt_tokens=p_tok,
            completion_tokens=c_tok,
            finish_reason=reason,
            sampling=sampling,
        )
        items.append(OutputItem(row.line - 1, line, graded, sample, passed))
    run_id, now = new_run_id(), now_s()
    with begin() as conn:
        stale = conn.scalars(
            sa.select(schema.eval_runs.c.id).where(schema.eval_runs.c.job_id == job_id, schema.eval_runs.c.step == step)
        ).all()
        if stale:
            conn.execute(schema.eval_output_items.delete().where(schema.eval_output_items.c.run_id.in_(stale)))
            conn.execute(schema.eval_runs.delete().where(schema.eval_runs.c.id.in_(stale)))
        validation_file = conn.execute(
            sa.select(schema.jobs.c.validation_file).where(schema.jobs.c.id == job_id)
        ).scalar()
        data_source = {
            "type": "completions",
            "model": model_id,
            "source": {"type": "file_id", "id": validation_file},
            "input_messages": {"type": "item_reference", "item_reference": "item.messages"},
            "sampling_params": dict(sampling),
        }
        conn.execute(
            schema.eval_runs.insert().values(
                id=run_id,
                eval_id=eval_id,
                project_id=project_id,
                name=f"step {step}",
                model=model_id,
                data_source=data_source,
                status="completed",
                metadata={"fine_tuning_job": job_id, "step": str(step)},
                job_id=job_id,
                step=step,
                created_at=now,
                started_at=now,
                finished_at=now,
                attempts=0,
                **empty_counts(),
            )
        )
        insert_output_items(conn, run_id=run_id, eval_id=eval_id, items=items)
        refresh_counts(conn, run_id)
    return run_id
