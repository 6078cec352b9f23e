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


_LATEST = (
    "(SELECT max(r.id) FROM analysis_runs r WHERE r.kind = '{kind}' AND r.status = 'succeeded')"
)
#: Views of the latest successful run of each kind: the published result layers.
VIEWS = {
    "habitat_latest": f"""
SELECT h.id, h.species_id, h.ecosystem, h.iso3, h.area_ha, h.analysis_run_id,
       h.source, h.licence, h.method, h.geom
FROM habitat h WHERE h.analysis_run_id = {_LATEST.format(kind="habitat")}""",
    "ecosystems_latest": f"""
SELECT e.id, e.kind, e.iso3, (e.properties->>'eco_class')::int AS eco_class,
       e.properties->>'label' AS label, (e.properties->>'dem_source')::int AS dem_source,
       e.properties->>'dem' AS dem, (e.properties->>'area_ha')::float AS area_ha,
       e.analysis_run_id, e.source, e.licence, e.method, e.geom
FROM ecosystems e WHERE e.analysis_run_id = {_LATEST.format(kind="ecosystems")}""",
    "coverage_gaps": f"""
SELECT f.id, f.run_id AS analysis_run_id, (f.properties->>'rank')::int AS rank,
       f.properties->>'species' AS species, f.properties->>'ecosystem' AS ecosystem,
       f.properties->>'iso3' AS iso3, (f.properties->>'area_ha')::float AS area_ha,
       'Irbis analysis run ' || f.run_id || ': coverage gaps (habitat neither protected nor funded)'
         AS source,
       'Derived from public-domain data (GEBCO 2023, USGS/NOAA via Mapzen, Natural Earth) and the stored layers'::text AS licence, 'modelled'::text AS method,
       f.geom::geometry(MultiPolygon, 4326) AS geom
FROM analysis_features f
WHERE f.kind = 'gap' AND f.run_id = {_LATEST.format(kind="gaps")}""",
}


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
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
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
