"""The preflight of a reward function, as an eval run: sample the base model, score, summarize.

A preflight is an ordinary eval (openrft.api.evals) that this module creates for the caller: one `lambda`
criterion naming the function, and a `completions` run on the chosen model whose items are the first
`max_prompts` lines of the training file (purpose fine-tune), each repeated `samples_per_prompt` times
in a row, so item i is a sample of prompt i // G. The eval runner samples and scores them off the request
(temperature 1 by default, no seed: the G samples of a prompt differ as a training step's would); the
eval and its run stay readable under /v1/evals like any other. Reading a preflight groups its output
items back by prompt and summarizes their scores (openrft.reviews.preflight): the distribution and the
share of prompts whose samples all scored the same (no learning signal for GRPO). Errors of the eval
services are re-rooted at this body's fields (`function`, `model`, `training_file`).

Simplifications, stated: a line's `tools` are not offered to the model (the preflight samples plain chat
turns), and a line ending with an assistant turn is sampled from the turns before it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from openrft.api.evals import runs as eval_runs
from openrft.api.evals import service as evals_service
from openrft.api.files import service as files_service
from openrft.auth.keys import Principal
from openrft.context import AppContext
from openrft.datasets import DatasetError, load_file_rows
from openrft.errors import InvalidRequest, NotFound, OpenRFTError
from openrft.reviews.preflight import group_scores, summarize
from openrft.store import schema

OBJECT = "preflight"
MARKER = "openrft_preflight"  # the eval's metadata key that makes it a preflight
FIELDS = (
    "function",
    "training_file",
    "model",
    "samples_per_prompt",
    "max_prompts",
    "temperature",
    "max_completion_tokens",
)
LIMITS = {"samples_per_prompt": (2, 16, 4), "max_prompts": (1, 64, 8), "max_completion_tokens": (1, 4096, None)}
FINE_TUNE = "fine-tune"


def _int(body: dict[str, Any], key: str) -> int | None:
    low, high, default = LIMITS[key]
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"'{key}' must be an integer from {low} to {high}, got {value!r:.40}.", param=key)
    return value


def parse(payload: Any) -> dict[str, Any]:
    body = evals_service.check_keys(payload, FIELDS)
    for key in ("function", "training_file", "model"):
        value = body.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"Missing required parameter: '{key}' (a non-empty string).", param=key)
    temperature = body.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise InvalidRequest(
            f"'temperature' must be a number from 0 to 2, got {temperature!r:.40}.", param="temperature"
        )
    return {
        "function": body["function"],
        "training_file": body["training_file"],
        "model": body["model"],
        "samples_per_prompt": _int(body, "samples_per_prompt"),
        "max_prompts": _int(body, "max_prompts"),
        "max_completion_tokens": _int(body, "max_completion_tokens"),
        "temperature": float(temperature),
    }


def _reroot(exc: OpenRFTError, field: str) -> OpenRFTError:
    exc.param = field
    return exc


def _prompts(ctx: AppContext, principal: Principal, file_id: str, limit: int) -> list[dict[str, Any]]:
    try:
        file = files_service.get_file(ctx, principal, file_id)
    except NotFound as exc:
        raise _reroot(exc, "training_file") from None
    if file.purpose != FINE_TUNE:
        raise InvalidRequest(
            f"File {file_id} has purpose {file.purpose!r}; a preflight reads a training file (purpose 'fine-tune').",
            param="training_file",
        )
    try:
        rows = load_file_rows(ctx, file_id)[:limit]
    except DatasetError as exc:
        raise InvalidRequest(f"{file_id}: {exc.message}", param="training_file") from None
    except (FileNotFoundError, KeyError):
        raise NotFound(f"The content of {file_id} is no longer available.", param="training_file") from None
    out = []
    for row in rows:
        messages = row.messages[:-1] if row.messages and row.messages[-1].get("role") == "assistant" else row.messages
        out.append({**row.item, "messages": messages})
    return out


def create(ctx: AppContext, principal: Principal, payload: Any, base_url: str) -> dict[str, Any]:
    """Create the preflight's eval and queue its run; returns the preflight (status queued)."""
    body = parse(payload)
    items = _prompts(ctx, principal, body["training_file"], body["max_prompts"])
    g = body["samples_per_prompt"]
    metadata = {
        MARKER: "1",
        "function": body["function"],
        "training_file": body["training_file"],
        "model": body["model"],
        "samples_per_prompt": str(g),
    }
    criterion = {"type": "lambda", "name": "reward", "lambda": {"function": body["function"]}}
    try:
        ev = evals_service.create_eval(
            ctx,
            principal,
            {
                "name": f"preflight of {body['function']}"[:512],
                "data_source_config": {"type": "custom", "item_schema": {"type": "object"}},
                "testing_criteria": [criterion],
                "metadata": metadata,
            },
        )
    except OpenRFTError as exc:
        if (exc.param or "").startswith("testing_criteria"):
            raise _reroot(exc, "function") from None
        raise
    sampling: dict[str, Any] = {"temperature": body["temperature"]}
    if body["max_completion_tokens"] is not None:
        sampling["max_completion_tokens"] = body["max_completion_tokens"]
    source = {
        "type": "completions",
        "model": body["model"],
        "input_messages": {"type": "item_reference", "item_reference": "item.messages"},
        "sampling_params": sampling,
        "source": {"type": "file_content", "content": [{"item": item} for item in items for _ in range(g)]},
    }
    try:
        run = eval_runs.create_run(
            ctx, principal, ev["id"], {"name": "preflight", "data_source": source, "metadata": metadata}, base_url
        )
    except OpenRFTError as exc:
        evals_service.delete_eval(ctx, principal, ev["id"])  # no half-made preflight left behind
        param = exc.param or ""
        raise _reroot(exc, "model" if param == "data_source.model" else "training_file") from None
    return _object(run, metadata, [], len(items))


def _run_row(conn: sa.Connection, project_id: str, preflight_id: str) -> Any:
    runs = schema.eval_runs
    row = conn.execute(
        sa.select(runs).where(runs.c.id == preflight_id, runs.c.project_id == project_id, runs.c.deleted_at.is_(None))
    ).first()
    if row is None or not (row.metadata or {}).get(MARKER):
        raise NotFound(f"Preflight with id '{preflight_id}' not found.", param="preflight_id")
    return row


def get(ctx: AppContext, principal: Principal, preflight_id: str, base_url: str) -> dict[str, Any]:
    """The preflight's run with its scores grouped by prompt and summarized (partial while it runs)."""
    items = schema.eval_output_items
    with ctx.store.begin() as conn:
        row = _run_row(conn, principal.project_id, preflight_id)
        outputs = list(
            conn.execute(sa.select(items).where(items.c.run_id == row.id).order_by(items.c.datasource_item_id))
        )
    run = eval_runs.get_run(ctx, principal, row.eval_id, row.id, base_url)
    total = len(row.data_source["source"]["content"]) // max(1, int(row.metadata["samples_per_prompt"]))
    return _object(run, row.metadata, outputs, total)


def _score(output: Any) -> tuple[float | None, str | None]:
    """(score, error family) of one output item: an error leaves it unscored."""
    sample = output.sample or {}
    if sample.get("error"):
        return None, str(sample["error"].get("code") or "generation_failed")
    results = output.results or []
    if not results:
        return None, "not_graded"
    error = (results[0].get("sample") or {}).get("error")
    if error:
        return None, str(error.get("code") or "grader_error")
    return float(results[0].get("score") or 0.0), None


def _object(run: dict[str, Any], metadata: dict[str, str], outputs: list[Any], prompts: int) -> dict[str, Any]:
    g = int(metadata["samples_per_prompt"])
    by_index = {o.datasource_item_id: o for o in outputs}
    scored = [_score(by_index[i]) if i in by_index else (None, None) for i in range(prompts * g)]
    groups = group_scores([s for s, _ in scored], g)
    done = [grp for k, grp in enumerate(groups) if all((k * g + j) in by_index for j in range(g))]
    report = summarize(done) if done else {"samples": 0}
    per_prompt = []
    for k, grp in enumerate(groups):
        first = by_index.get(k * g)
        texts = [
            ((by_index[k * g + j].sample or {}).get("output") or [{}])[-1].get("content")
            if (k * g + j) in by_index
            else None
            for j in range(g)
        ]
        values = [v for v in grp if v is not None]
        per_prompt.append(
            {
                "prompt": (first.sample or {}).get("input") if first is not None else None,
                "scores": grp,
                "completions": texts,
                "flat": len(values) >= 2 and max(values) == min(values),
            }
        )
    errors = Counter(e for _, e in scored if e is not None)
    return {
        "id": run["id"],
        "object": OBJECT,
        "eval_id": run["eval_id"],
        "status": run["status"],
        "error": run["error"],
        "function": metadata["function"],
        "training_file": metadata["training_file"],
        "model": metadata["model"],
        "samples_per_prompt": g,
        "prompts": prompts,
        "completed_samples": len(by_index),
        "total_samples": prompts * g,
        "summary": report,
        "errors": dict(errors),
        "per_prompt": per_prompt,
        "report_url": run["report_url"],
    }
