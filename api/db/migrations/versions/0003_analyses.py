"""Analyses: runs as records, their result features, modelled habitat.

- ``analysis_runs``: kind, parameters, inputs with their versions (``layer_versions`` of each
  table read, sha256 of each raster), status, times, results, error.
- ``analysis_features``: result geometries of a run (gap pieces, overlaps, loss pieces ...).
- ``habitat``: modelled Area of Habitat per species, ecosystem kind and country.
- ``ecosystems.analysis_run_id`` becomes a foreign key to the run that modelled the row.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _version_trigger(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_bump_version();
INSERT INTO layer_versions (table_name, version, changed_at) VALUES ('{table}', 0, now())
  ON CONFLICT (table_name) DO NOTHING;
"""


def upgrade() -> None:
    op.create_table(
        "analysis_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("inputs", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("results", postgresql.JSONB(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('ecosystems', 'habitat', 'overlap', 'gaps', 'loss')",
            name="ck_analysis_runs_kind",
        ),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name="ck_analysis_runs_status"
        ),
    )
    op.create_index("ix_analysis_runs_kind", "analysis_runs", ["kind", "started_at"])

    op.create_geospatial_table(
        "analysis_features",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("analysis_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("properties", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column(
            "geom",
            Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=False),
            nullable=False,
        ),
    )
    op.create_index("ix_analysis_features_run_kind", "analysis_features", ["run_id", "kind"])
    op.create_geospatial_index(
        "idx_analysis_features_geom",
        "analysis_features",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )

    op.create_geospatial_table(
        "habitat",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("species_id", sa.Integer(), sa.ForeignKey("species.id"), nullable=False),
        sa.Column("ecosystem", sa.String(16), nullable=False),
        sa.Column("iso3", sa.String(3), nullable=True),
        sa.Column(
            "analysis_run_id",
            sa.Integer(),
            sa.ForeignKey("analysis_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("params", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.CheckConstraint(
            "method IN ('observed', 'modelled', 'example')", name="ck_habitat_method"
        ),
        sa.CheckConstraint(
            "ecosystem IN ('mountain', 'arid_lowland', 'other')", name="ck_habitat_ecosystem"
        ),
    )
    op.create_index("ix_habitat_species_run", "habitat", ["species_id", "analysis_run_id"])
    op.create_geospatial_index(
        "idx_habitat_geom",
        "habitat",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_foreign_key(
        "fk_ecosystems_analysis_run",
        "ecosystems",
        "analysis_runs",
        ["analysis_run_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_ecosystems_analysis_run", "ecosystems", ["analysis_run_id"])
    op.execute(_version_trigger("analysis_runs"))
    op.execute(_version_trigger("habitat"))
    op.execute(_version_trigger("analysis_features"))


def downgrade() -> None:
    op.drop_index("ix_ecosystems_analysis_run", table_name="ecosystems")
    op.drop_constraint("fk_ecosystems_analysis_run", "ecosystems", type_="foreignkey")
    op.execute(
        "DELETE FROM layer_versions WHERE table_name IN "
        "('analysis_runs', 'habitat', 'analysis_features')"
    )
    op.drop_geospatial_index(
        "idx_habitat_geom", table_name="habitat", postgresql_using="gist", column_name="geom"
    )
    op.drop_index("ix_habitat_species_run", table_name="habitat")
    op.drop_geospatial_table("habitat")
    op.drop_geospatial_index(
        "idx_analysis_features_geom",
        table_name="analysis_features",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index("ix_analysis_features_run_kind", table_name="analysis_features")
    op.drop_geospatial_table("analysis_features")
    op.drop_index("ix_analysis_runs_kind", table_name="analysis_runs")
    op.drop_table("analysis_runs")
