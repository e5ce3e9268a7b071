"""Migration m006 (lineage of chained jobs), frozen: this file never changes.

A job may start from a fine-tuned model or checkpoint of its project (SFT -> RFT, RFT -> RFT). The job
records the model it starts from and the job that trained that model; a model records the model it was
trained from, so a parent with live children can be refused deletion (`registry.dependents`).
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE models ADD COLUMN parent_model VARCHAR(512)"))
    conn.execute(sa.text("CREATE INDEX ix_models_parent_model ON models (parent_model)"))
    conn.execute(sa.text("ALTER TABLE jobs ADD COLUMN parent_model VARCHAR(512)"))
    conn.execute(sa.text("ALTER TABLE jobs ADD COLUMN parent_job VARCHAR(64)"))
