"""grants as records: programme fields, history, documents (issue 11).

New columns of ``grants``: partners, ecosystem focus, exchange rate and its date for amounts in
a local currency, call or round, objectives and document links. Statuses become proposed,
active, closed and terminated (completed -> closed, cancelled -> terminated). Every change of a
grant is already kept by the audit trigger of migration 0001 (``audit_log``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OLD_STATUSES = "'proposed', 'active', 'completed', 'cancelled'"
_NEW_STATUSES = "'proposed', 'active', 'closed', 'terminated'"


def upgrade() -> None:
    op.execute("SELECT set_config('irbis.actor', 'migration 0007', true)")
    op.add_column(
        "grants",
        sa.Column(
            "partners",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::text[]"),
        ),
    )
    op.add_column(
        "grants",
        sa.Column(
            "ecosystem_focus",
            postgresql.ARRAY(sa.String(length=16)),
            nullable=False,
            server_default=sa.text("'{}'::varchar[]"),
        ),
    )
    op.add_column("grants", sa.Column("rate", sa.Numeric(precision=18, scale=6), nullable=True))
    op.add_column("grants", sa.Column("rate_date", sa.Date(), nullable=True))
    op.add_column("grants", sa.Column("call", sa.Text(), nullable=True))
    op.add_column("grants", sa.Column("objectives", sa.Text(), nullable=True))
    op.add_column(
        "grants",
        sa.Column(
            "documents",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.drop_constraint("ck_grants_status", "grants", type_="check")
    op.execute(
        "UPDATE grants SET status = CASE status WHEN 'completed' THEN 'closed'"
        " WHEN 'cancelled' THEN 'terminated' ELSE status END"
        " WHERE status IN ('completed', 'cancelled')"
    )
    op.create_check_constraint("ck_grants_status", "grants", f"status IN ({_NEW_STATUSES})")
    op.create_check_constraint(
        "ck_grants_ecosystem_focus",
        "grants",
        "ecosystem_focus <@ ARRAY['mountain', 'arid_lowland', 'other']::varchar[]",
    )
    # an amount in a local currency keeps its rate (units of the currency per USD) and date
    op.create_check_constraint(
        "ck_grants_rate",
        "grants",
        "currency = 'USD' OR (rate IS NOT NULL AND rate > 0 AND rate_date IS NOT NULL)",
    )
    op.create_check_constraint("ck_grants_currency", "grants", "currency ~ '^[A-Z]{3}$'")
    op.create_index("ix_grants_status", "grants", ["status"])


def downgrade() -> None:
    op.execute("SELECT set_config('irbis.actor', 'migration 0007 downgrade', true)")
    op.drop_index("ix_grants_status", table_name="grants")
    op.drop_constraint("ck_grants_currency", "grants", type_="check")
    op.drop_constraint("ck_grants_rate", "grants", type_="check")
    op.drop_constraint("ck_grants_ecosystem_focus", "grants", type_="check")
    op.drop_constraint("ck_grants_status", "grants", type_="check")
    op.execute(
        "UPDATE grants SET status = CASE status WHEN 'closed' THEN 'completed'"
        " WHEN 'terminated' THEN 'cancelled' ELSE status END"
        " WHERE status IN ('closed', 'terminated')"
    )
    op.create_check_constraint("ck_grants_status", "grants", f"status IN ({_OLD_STATUSES})")
    for column in ("documents", "objectives", "call", "rate_date", "rate", "ecosystem_focus"):
        op.drop_column("grants", column)
    op.drop_column("grants", "partners")
