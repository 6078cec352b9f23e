"""run heartbeat: when a grid's build or a scenario's solve last said it was alive (issue 13).

A planning grid built from the form and a scenario solved from the form work on a background
thread of the server. While they work, the server writes the time into ``heartbeat_at`` every
few seconds; a run left ``building``, ``pending`` or ``running`` whose heartbeat is older than a
bound was stopped with its process (a restart, a kill) and is marked as failed, so it does not
stay "running" for ever. The read-only role reads the column like the rest of the record.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("planning_grids", "prioritisation_scenarios")


def upgrade() -> None:
    for name in TABLES:
        op.add_column(name, sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    grants = " ".join(f"GRANT SELECT (heartbeat_at) ON {t} TO irbis_reader;" for t in TABLES)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        f"{grants} END IF; END $$;"
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_column(name, "heartbeat_at")
