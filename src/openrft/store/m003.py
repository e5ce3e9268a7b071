"""The tables migration m003 added (evals, their runs and output items, training samples), frozen: this
file never changes. Later changes to these tables are later migrations.
"""

from __future__ import annotations

import sqlalchemy as sa

_M003 = sa.MetaData()

sa.Table(
    "evals",
    _M003,
    sa.Column("id", sa.String(64), primary_key=True),  # eval_...
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("data_source_config", sa.JSON, nullable=False),  # as returned: {"type": "custom", "schema": ...}
    sa.Column("testing_criteria", sa.JSON, nullable=False),  # graders as returned, each with its "<name>-<uuid>" id
    sa.Column("metadata", sa.JSON),
    sa.Column("job_id", sa.String(64), index=True),  # the RFT job whose linked eval this is
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.Integer),
)

sa.Table(
    "eval_runs",
    _M003,
    sa.Column("id", sa.String(64), primary_key=True),  # evalrun_...
    sa.Column("eval_id", sa.String(64), nullable=False, index=True),
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("model", sa.String(512)),  # the completions data source's model; null for jsonl
    sa.Column("data_source", sa.JSON, nullable=False),  # as returned
    sa.Column("status", sa.String(16), nullable=False, index=True),  # queued|in_progress|completed|failed|canceled
    sa.Column("error", sa.JSON),  # {"code", "message"}
    sa.Column("result_counts", sa.JSON, nullable=False),  # {"total", "passed", "failed", "errored"}
    sa.Column("per_testing_criteria_results", sa.JSON, nullable=False),  # [{"testing_criteria", "passed", "failed"}]
    sa.Column("per_model_usage", sa.JSON, nullable=False),  # [{"model_name", "invocation_count", ...tokens}]
    sa.Column("metadata", sa.JSON),
    sa.Column("job_id", sa.String(64), index=True),  # set on the runs a job's evaluation steps write
    sa.Column("step", sa.Integer),  # ... and the step each one evaluated
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Integer),
    sa.Column("finished_at", sa.Integer),
    # Queue, as for jobs: a runner owns an in_progress run while lease_expires_at is in the future.
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("control", sa.String(16)),  # cancel: the runner stops at its next batch boundary
    sa.Column("deleted_at", sa.Integer),
)

sa.Table(
    "eval_output_items",
    _M003,
    sa.Column("id", sa.String(64), primary_key=True),  # outputitem_...
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("eval_id", sa.String(64), nullable=False),
    sa.Column("datasource_item_id", sa.Integer, nullable=False),  # the item's 0-based line in the data source
    sa.Column("datasource_item", sa.JSON, nullable=False),
    sa.Column("results", sa.JSON, nullable=False),  # one grade per testing criterion, OpenAI's result shape
    sa.Column("sample", sa.JSON, nullable=False),  # {"input", "output", "usage", "model", "finish_reason", ...}
    sa.Column("status", sa.String(8), nullable=False),  # pass | fail
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("run_id", "datasource_item_id", name="uq_eval_output_items_item"),
)

sa.Table(
    "job_samples",
    _M003,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the `after` cursor
    sa.Column("id", sa.String(64), nullable=False, unique=True),  # ftsample-...
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=False, index=True),
    sa.Column("group_index", sa.Integer, nullable=False),  # the prompt's place in its step's batch
    sa.Column("prompt", sa.JSON, nullable=False),  # the prompt's messages
    sa.Column("completions", sa.JSON, nullable=False),  # the G completions: text, reward, components, advantage, tokens
    sa.Column("reward_mean", sa.Float, nullable=False),
    sa.Column("reward_std", sa.Float, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
)


def create(conn: sa.Connection) -> None:
    _M003.create_all(conn)
