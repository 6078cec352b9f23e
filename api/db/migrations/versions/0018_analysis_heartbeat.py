"""a heartbeat for analysis runs worked in the background.

``POST /analyses`` with ``Prefer: respond-async`` (and an ecosystem classification finer than
half a minute of arc, asked or not) records the run as ``running`` first and computes it on
the server's background thread (:mod:`api.services.background`). While it works, the thread
writes the time into ``analysis_runs.heartbeat_at``; a run still ``running`` whose heartbeat is
old (its process is gone) is marked failed, as planning grids and scenarios are (migration
0011). Runs computed inside a request or by ``irbis analyse`` are written whole in one
transaction and never need it: it stays empty for them.

Revision ID: 0018_analysis_heartbeat
Revises: 0017_former_names
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_analysis_heartbeat"
down_revision = "0017_former_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "analysis_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )
    # the reader reads runs column by column (``created_by`` is not among them)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        "GRANT SELECT (heartbeat_at) ON analysis_runs TO irbis_reader; END IF; END $$;"
    )


def downgrade() -> None:
    op.drop_column("analysis_runs", "heartbeat_at")
