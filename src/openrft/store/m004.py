"""The tables migration m004 added (console sign-in sessions, expert ratings), frozen: this file never
changes. Later changes to these tables are later migrations.
"""

from __future__ import annotations

import sqlalchemy as sa

_M004 = sa.MetaData()

sa.Table(
    "console_sessions",
    _M004,
    sa.Column("id_sha256", sa.String(64), primary_key=True),  # sha256 of the cookie's token; the token is never stored
    sa.Column("key_id", sa.String(64), nullable=False, index=True),  # the API key that signed in
    sa.Column("csrf_token", sa.String(64), nullable=False),  # sent back in X-CSRF-Token / the forms' csrf field
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("revoked_at", sa.Integer),  # sign-out
)

sa.Table(
    "expert_ratings",
    _M004,
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


def create(conn: sa.Connection) -> None:
    _M004.create_all(conn)
