"""former names of settlements and places, for search.

Towns renamed since independence are still known, and looked for, by their former names:
Esik was Issyk until 1993, Konaev was Kapchagay until 2022, Taraz was Dzhambul, Astana was
Akmola and Tselinograd, Semey was Semipalatinsk, Bishkek was Frunze. This migration adds

- ``settlements.former_names`` and ``places.former_names``: the well-known former names of a
  settlement or place, in Latin and Cyrillic letters, separated by `` / ``; empty for most;
- a trigram GIN index on ``settlements.former_names``, like the other searched settlement
  names (migration 0014), so that the search reads it through the index.

The demo loader fills them from the reviewed list ``api/demo/former_names.csv``; name search
(``layers.search``) matches them like the current names and answers the current name.

Revision ID: 0017_former_names
Revises: 0016_run_error_values
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_former_names"
down_revision = "0016_run_error_values"
branch_labels = None
depends_on = None

TABLES = ("settlements", "places")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("former_names", sa.Text(), nullable=True))
    op.execute(
        "CREATE INDEX settlements_former_names_trgm ON settlements "
        "USING gin (former_names gin_trgm_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS settlements_former_names_trgm")
    for table in reversed(TABLES):
        op.drop_column(table, "former_names")
