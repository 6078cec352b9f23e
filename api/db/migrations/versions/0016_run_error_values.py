"""run error values: a failed analysis run's error, kept to be said in any language (issue 13).

A run that fails on an error written for people (a layer named twice, a species not loaded)
publishes that error, in English, in ``analysis_runs.error``. The new column ``error_values``
keeps the same error as the message it was made from, ``{"template": ..., "values": ...}``
(``geo.messages``), so that pages and JSON give it in Russian or Kazakh too; it is empty for
earlier runs and for a run stopped by an unexpected error, whose text stays for analysts (in
``results``). The read-only role reads the column like the rest of the public record.

Revision ID: 0016_run_error_values
Revises: 0015_feature_names
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_run_error_values"
down_revision = "0015_feature_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "analysis_runs",
        sa.Column("error_values", postgresql.JSONB(), nullable=True),
    )
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        "GRANT SELECT (error_values) ON analysis_runs TO irbis_reader; END IF; END $$;"
    )


def downgrade() -> None:
    op.drop_column("analysis_runs", "error_values")
