"""The tables as migration m001 created them, frozen: this file never changes.

`m001_initial` used to create the tables of the live `schema.py`, so a fresh database skipped every
later migration's work and the upgrade path was never exercised. These are the m001 tables written
out as they shipped (SQLAlchemy Core, so the same definitions emit SQLite's and Postgres' DDL); later
changes live only in later migrations. tests/unit/test_migrations.py upgrades a database created at
every migration and checks it ends up as `schema.py` declares.
"""

from __future__ import annotations

import sqlalchemy as sa

_M001 = sa.MetaData()

sa.Table(
    "projects",
    _M001,
    sa.Column("id", sa.String(64), primary_key=True),  # proj_...
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("archived_at", sa.Integer),
)

sa.Table(
    "api_keys",
    _M001,
    sa.Column("id", sa.String(64), primary_key=True),  # key_...; the SigV4 access key id
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("service_account_id", sa.String(64), index=True),  # svc_acct_...
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("secret_encrypted", sa.Text),  # Fernet(master key); SigV4 needs the secret itself
    sa.Column("redacted_value", sa.String(64), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("last_used_at", sa.Integer),
    sa.Column("revoked_at", sa.Integer),
)

sa.Table(
    "files",
    _M001,
    sa.Column("id", sa.String(64), primary_key=True),  # file-...
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("filename", sa.String(512), nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("line_count", sa.Integer),
    sa.Column("status", sa.String(32), nullable=False),  # uploaded | processed | error
    sa.Column("status_details", sa.Text),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer),
    sa.Column("deleted_at", sa.Integer),
)

sa.Table(
    "jobs",
    _M001,
    sa.Column("id", sa.String(64), primary_key=True),  # ftjob-...
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("model", sa.String(256), nullable=False),
    sa.Column("training_file", sa.String(64), nullable=False),
    sa.Column("validation_file", sa.String(64)),
    sa.Column("suffix", sa.String(64)),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("metadata", sa.JSON),
    sa.Column("method", sa.JSON, nullable=False),  # {"type": "reinforcement", "reinforcement": {...}}
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("error", sa.JSON),  # {"code", "message", "param"}
    sa.Column("fine_tuned_model", sa.String(512)),
    sa.Column("trained_tokens", sa.Integer),
    sa.Column("result_files", sa.JSON, nullable=False),
    sa.Column("integrations", sa.JSON),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Integer),
    sa.Column("finished_at", sa.Integer),
    sa.Column("estimated_finish", sa.Integer),
    # Idempotency-Key of the create request and the hash of its body (same key + other body = error).
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("request_sha256", sa.String(64)),
    # Queue: a worker owns a running job while lease_expires_at is in the future.
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    # A control request the running trainer acts on at its next step boundary: cancel | pause.
    sa.Column("control", sa.String(16)),
    sa.UniqueConstraint("project_id", "idempotency_key", name="uq_jobs_idempotency"),
)

sa.Table(
    "job_events",
    _M001,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # total order of events
    sa.Column("id", sa.String(64), nullable=False, unique=True),  # ftevent-...
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),  # info | warn | error
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),  # message | metrics
    sa.Column("data", sa.JSON),
)

sa.Table(
    "checkpoints",
    _M001,
    sa.Column("id", sa.String(64), primary_key=True),  # ftckpt-...
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False, index=True),
    sa.Column("step_number", sa.Integer, nullable=False),
    sa.Column("fine_tuned_model_checkpoint", sa.String(512), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),  # folder under settings.checkpoints_dir
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.Integer),
)

sa.Table(
    "models",
    _M001,
    sa.Column("id", sa.String(512), primary_key=True),  # base id or ft:... id
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id")),  # null: a base model for all
    sa.Column("kind", sa.String(16), nullable=False),  # base | fine_tuned | checkpoint
    sa.Column("base_model", sa.String(256)),
    sa.Column("path", sa.String(1024)),  # HF folder (base) or adapter folder (fine-tuned)
    sa.Column("job_id", sa.String(64)),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.Integer),
)

sa.Table(
    "functions",
    _M001,
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("name", sa.String(140), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("next_version", sa.Integer, nullable=False, default=1),
)

sa.Table(
    "function_versions",
    _M001,
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("function_name", sa.String(140), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),  # $LATEST | 1 | 2 ...
    sa.Column("runtime", sa.String(32), nullable=False),
    sa.Column("handler", sa.String(256), nullable=False),
    sa.Column("timeout_s", sa.Integer, nullable=False),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("environment", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),  # base64 of sha256, as AWS reports it
    sa.Column("code_size", sa.Integer, nullable=False),
    sa.Column("code_blob", sa.String(1024), nullable=False),  # blob key of the zip
    sa.Column("revision_id", sa.String(64), nullable=False),
    sa.Column("last_modified", sa.String(64), nullable=False),  # AWS's ISO-8601 string
    sa.ForeignKeyConstraint(
        ["project_id", "function_name"], ["functions.project_id", "functions.name"], ondelete="CASCADE"
    ),
)

sa.Table(
    "function_aliases",
    _M001,
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("function_name", sa.String(140), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("function_version", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("revision_id", sa.String(64), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id", "function_name"], ["functions.project_id", "functions.name"], ondelete="CASCADE"
    ),
)


def create(conn: sa.Connection) -> None:
    _M001.create_all(conn)
