"""The tables the code expects after every migration has run.

`migrations.py` builds this schema step by step; `tests/unit/test_migrations.py` checks the two agree.
Timestamps are Unix seconds (int) like OpenAI's `created_at`; lease deadlines are float seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # proj_...
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("archived_at", sa.Integer),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
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
    # Restrictions (m005): the key's scopes, the models it may call, its per-minute limits, its expiry.
    sa.Column("permissions", sa.JSON),  # {"mode": all|read_only|restricted, "scopes": [...]}; NULL: all
    sa.Column("allowed_models", sa.JSON),  # model ids (fnmatch patterns); NULL: any
    sa.Column("rpm_limit", sa.Integer),
    sa.Column("tpm_limit", sa.Integer),
    sa.Column("expires_at", sa.Integer),
)

files = sa.Table(
    "files",
    metadata,
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

jobs = sa.Table(
    "jobs",
    metadata,
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
    sa.Column("eval_id", sa.String(64)),  # the job's linked eval (m003): one run per evaluation step
    # Who the job acts as (m005): {"type": "key", "key_id", "arn"} or {"type": "role", "role_arn", ...}.
    sa.Column("identity", sa.JSON),
    # Lineage (m006): the ft:/checkpoint model the job starts from and the job that trained it; NULL for a base.
    sa.Column("parent_model", sa.String(512)),
    sa.Column("parent_job", sa.String(64)),
    sa.UniqueConstraint("project_id", "idempotency_key", name="uq_jobs_idempotency"),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # total order of events
    sa.Column("id", sa.String(64), nullable=False, unique=True),  # ftevent-...
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),  # info | warn | error
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),  # message | metrics
    sa.Column("data", sa.JSON),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # ftckpt-...
    sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id"), nullable=False, index=True),
    sa.Column("step_number", sa.Integer, nullable=False),
    sa.Column("fine_tuned_model_checkpoint", sa.String(512), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),  # folder under settings.checkpoints_dir
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.Integer),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),  # base id or ft:... id
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id")),  # null: a base model for all
    sa.Column("kind", sa.String(16), nullable=False),  # base | fine_tuned | checkpoint
    sa.Column("base_model", sa.String(256)),
    sa.Column("path", sa.String(1024)),  # HF folder (base) or adapter folder (fine-tuned)
    sa.Column("job_id", sa.String(64)),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.Integer),
    # Lineage (m006): the ft:/checkpoint model this one was trained from; NULL when trained from a base.
    sa.Column("parent_model", sa.String(512), index=True),
)

functions = sa.Table(
    "functions",
    metadata,
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("name", sa.String(140), primary_key=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("next_version", sa.Integer, nullable=False, default=1),
)

function_versions = sa.Table(
    "function_versions",
    metadata,
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
    sa.Column("role", sa.String(2048)),  # Lambda's Role (m002): an openrft role gives invocations its credentials
    sa.ForeignKeyConstraint(
        ["project_id", "function_name"], ["functions.project_id", "functions.name"], ondelete="CASCADE"
    ),
)

function_aliases = sa.Table(
    "function_aliases",
    metadata,
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

# m003: evals (OpenAI Evals API), their runs and output items; the training samples of each step.

evals = sa.Table(
    "evals",
    metadata,
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

eval_runs = sa.Table(
    "eval_runs",
    metadata,
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

eval_output_items = sa.Table(
    "eval_output_items",
    metadata,
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

job_samples = sa.Table(
    "job_samples",
    metadata,
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

# m004: the console's sign-in sessions; experts' ratings of completions (the console's expert review).
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_sha256", sa.String(64), primary_key=True),  # sha256 of the cookie's token; the token is never stored
    sa.Column("key_id", sa.String(64), nullable=False, index=True),  # the API key that signed in
    sa.Column("csrf_token", sa.String(64), nullable=False),  # sent back in X-CSRF-Token / the forms' csrf field
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("revoked_at", sa.Integer),  # sign-out
)

expert_ratings = sa.Table(
    "expert_ratings",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # rating_...
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    # What was rated: one completion of a training sample group, or one eval output item.
    sa.Column("job_id", sa.String(64), index=True),
    sa.Column("sample_id", sa.String(64)),  # ftsample-... (job_samples.id)
    sa.Column("completion_index", sa.Integer),  # which of the group's G completions
    sa.Column("eval_id", sa.String(64), index=True),
    sa.Column("run_id", sa.String(64), index=True),
    sa.Column("output_item_id", sa.String(64)),  # outputitem_...
    sa.Column("target", sa.String(160), nullable=False),  # "<sample_id>/<completion_index>" or "<output_item_id>"
    sa.Column("rating", sa.String(8), nullable=False),  # good | bad
    sa.Column("comment", sa.Text),
    sa.Column("rater", sa.String(64), nullable=False),  # the key id that rated
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("project_id", "rater", "target", name="uq_expert_ratings_rater_target"),
)

# Access control (m005): see openrft.auth.
iam_policies = sa.Table(
    "iam_policies",  # customer managed policies; AWS managed ones live in code (openrft.auth.managed)
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # ANPA... (AWS's PolicyId shape)
    sa.Column("project_id", sa.String(64), nullable=False, index=True),  # the account it belongs to
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),  # "/" unless given
    sa.Column("arn", sa.String(2048), nullable=False, unique=True),  # arn:aws:iam::<account>:policy<path><name>
    sa.Column("description", sa.Text),
    sa.Column("document", sa.JSON, nullable=False),  # the policy document, as parsed JSON
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("project_id", "name", name="uq_iam_policies_name"),
)

iam_roles = sa.Table(
    "iam_roles",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # AROA... (AWS's RoleId shape)
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(2048), nullable=False, unique=True),  # arn:aws:iam::<account>:role<path><name>
    sa.Column("description", sa.Text),
    sa.Column("trust_policy", sa.JSON, nullable=False),  # AssumeRolePolicyDocument
    sa.Column("max_session_duration_s", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("project_id", "name", name="uq_iam_roles_name"),
)

iam_inline_policies = sa.Table(
    "iam_inline_policies",  # put_role_policy (and inline policies of service accounts)
    metadata,
    sa.Column("principal_type", sa.String(16), primary_key=True),  # role | service_account
    sa.Column("principal_id", sa.String(64), primary_key=True),  # iam_roles.id | svc_acct_...
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
)

iam_attachments = sa.Table(
    "iam_attachments",  # attach_role_policy (and managed policies attached to service accounts)
    metadata,
    sa.Column("principal_type", sa.String(16), primary_key=True),  # role | service_account
    sa.Column("principal_id", sa.String(64), primary_key=True),
    sa.Column("policy_arn", sa.String(2048), primary_key=True),  # customer managed or arn:aws:iam::aws:policy/...
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
)

sts_sessions = sa.Table(
    "sts_sessions",  # temporary credentials of an assumed role (sts.assume_role, execution roles)
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),  # ASIA...; the SigV4 access key id
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("role_id", sa.String(32), nullable=False, index=True),
    sa.Column("role_arn", sa.String(2048), nullable=False),
    sa.Column("session_name", sa.String(64), nullable=False),
    sa.Column("secret_encrypted", sa.Text, nullable=False),  # Fernet(master key), as api_keys
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),  # of the SessionToken
    sa.Column("source", sa.String(2048), nullable=False),  # who assumed it: a principal ARN or a service
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("revoked_at", sa.Integer),
)

function_permissions = sa.Table(
    "function_permissions",  # Lambda resource policies: one row per AddPermission statement
    metadata,
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("function_name", sa.String(64), primary_key=True),
    sa.Column("qualifier", sa.String(128), primary_key=True),  # "" for the unqualified function
    sa.Column("statement_id", sa.String(100), primary_key=True),
    sa.Column("statement", sa.JSON, nullable=False),  # the statement as GetPolicy returns it
    sa.Column("created_at", sa.Integer, nullable=False),
)

audit_log = sa.Table(
    "audit_log",  # append-only and hash-chained: openrft.auth.audit
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the chain's order
    sa.Column("id", sa.String(64), nullable=False, unique=True),  # audit_log-...
    sa.Column("effective_at", sa.Integer, nullable=False, index=True),
    sa.Column("project_id", sa.String(64), index=True),
    sa.Column("type", sa.String(64), nullable=False, index=True),
    sa.Column("actor", sa.JSON),  # who: principal ARN, key id (never a secret), kind
    sa.Column("key_id", sa.String(64), index=True),
    sa.Column("source_ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("action", sa.String(128)),
    sa.Column("resource", sa.String(2048)),
    sa.Column("outcome", sa.String(16), nullable=False),  # allowed | denied | succeeded | failed
    sa.Column("decision", sa.JSON),  # effect, deciding policy and statement Sid, or the missing scopes
    sa.Column("request_id", sa.String(64), index=True),
    sa.Column("details", sa.JSON),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
