"""prioritisation: planning grids and units, prioritisation scenarios and their units.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from geoalchemy2 import Geometry

from api.db.history import audit_triggers, drop_audit_triggers

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Grids and scenarios keep their history; units (thousands of rows per grid, written once
# with their grid and never edited) do not.
AUDITED = ("planning_grids", "prioritisation_scenarios")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "planning_grids",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("countries", postgresql.ARRAY(sa.String(3)), nullable=False),
        sa.Column("features", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("n_units", sa.Integer(), nullable=False),
        sa.Column("parameters", postgresql.JSONB(), nullable=False),
        sa.Column("inputs", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("resolution BETWEEN 0 AND 15", name="ck_planning_grids_resolution"),
    )
    op.create_table(
        "planning_units",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "grid_id",
            sa.Integer(),
            sa.ForeignKey("planning_grids.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("h3", sa.String(16), nullable=False),
        sa.Column("iso3", sa.String(3), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("values", postgresql.JSONB(), nullable=False),
        sa.Column(
            "geom",
            Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.UniqueConstraint("grid_id", "h3", name="uq_planning_units_grid_h3"),
        sa.CheckConstraint("area_km2 > 0", name="ck_planning_units_area"),
        sa.CheckConstraint("cost >= 0", name="ck_planning_units_cost"),
    )
    op.create_index("ix_planning_units_grid_id", "planning_units", ["grid_id"])
    op.create_index("idx_planning_units_geom", "planning_units", ["geom"], postgresql_using="gist")
    op.create_table(
        "prioritisation_scenarios",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "grid_id",
            sa.Integer(),
            sa.ForeignKey("planning_grids.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("objective", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", postgresql.JSONB(), nullable=False),
        sa.Column("inputs", postgresql.JSONB(), nullable=False),
        sa.Column("results", postgresql.JSONB(), nullable=True),
        sa.Column("solver", postgresql.JSONB(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "objective IN ('min_set', 'max_coverage')", name="ck_prioritisation_scenarios_objective"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'solved', 'infeasible', 'failed')",
            name="ck_prioritisation_scenarios_status",
        ),
    )
    op.create_index("ix_prioritisation_scenarios_grid_id", "prioritisation_scenarios", ["grid_id"])
    op.create_table(
        "scenario_units",
        sa.Column(
            "scenario_id",
            sa.Integer(),
            sa.ForeignKey("prioritisation_scenarios.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "unit_id",
            sa.BigInteger(),
            sa.ForeignKey("planning_units.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.String(3), nullable=True),
        sa.Column("frequency", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.CheckConstraint("locked IN ('in', 'out')", name="ck_scenario_units_locked"),
    )
    op.create_index("ix_scenario_units_unit_id", "scenario_units", ["unit_id"])
    for table in AUDITED:
        op.execute(audit_triggers(table))


def downgrade() -> None:
    for table in AUDITED:
        op.execute(drop_audit_triggers(table))
    op.drop_table("scenario_units")
    op.drop_table("prioritisation_scenarios")
    op.drop_table("planning_units")
    op.drop_table("planning_grids")
