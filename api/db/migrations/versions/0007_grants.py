"""grants as records: programme fields, history, documents (issue 11).

New columns of ``grants``: partners, ecosystem focus, exchange rate and its date for amounts in
a local currency, call or round, objectives and document links. Statuses become proposed,
active, closed and terminated (completed -> closed, cancelled -> terminated). Every change of a
grant is already kept by the audit trigger of migration 0001 (``audit_log``).

``grants.geom`` is the union of the grant's field sites (NULL without sites), kept by a trigger
on ``field_sites``. The view ``grant_features`` is what the ``grants`` collection of the OGC
APIs publishes: one row per grant (with or without sites), lists flattened to text so they can
be filtered, the amount in USD, and the years the grant runs.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from geoalchemy2 import Geometry

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OLD_STATUSES = "'proposed', 'active', 'completed', 'cancelled'"
_NEW_STATUSES = "'proposed', 'active', 'closed', 'terminated'"

_FOOTPRINT_SQL = """
CREATE OR REPLACE FUNCTION irbis_grant_footprint() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  gid integer;
BEGIN
  FOR gid IN
    SELECT DISTINCT x FROM unnest(ARRAY[
      CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN NEW.grant_id END,
      CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN OLD.grant_id END]) AS x
    WHERE x IS NOT NULL
  LOOP
    UPDATE grants SET geom = (
      SELECT ST_Multi(ST_CollectionExtract(ST_Union(f.geom), 3))
      FROM field_sites f WHERE f.grant_id = gid)
    WHERE id = gid;
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER field_sites_grant_footprint
  AFTER INSERT OR DELETE OR UPDATE OF geom, grant_id ON field_sites
  FOR EACH ROW EXECUTE FUNCTION irbis_grant_footprint();
"""

_VIEW_SQL = """
CREATE VIEW grant_features AS
SELECT g.id, g.code, g.title, g.grantee_organisation AS organisation, g.status, g.call,
  array_to_string(g.countries, ',') AS countries,
  COALESCE((SELECT string_agg(s.scientific_name, ',' ORDER BY s.scientific_name)
            FROM grant_species gs JOIN species s ON s.id = gs.species_id
            WHERE gs.grant_id = g.id), '') AS species,
  array_to_string(g.ecosystem_focus, ',') AS ecosystem_focus,
  g.amount, g.currency,
  round(CASE WHEN g.currency = 'USD' THEN g.amount ELSE g.amount / g.rate END, 2) AS amount_usd,
  g.start_date, g.end_date,
  extract(year FROM g.start_date)::integer AS start_year,
  extract(year FROM g.end_date)::integer AS end_year,
  g.source,
  -- the grant's geometry is its field sites': their licences
  COALESCE((SELECT string_agg(DISTINCT fs.licence, '; ' ORDER BY fs.licence)
            FROM field_sites fs WHERE fs.grant_id = g.id), '') AS licence,
  g.method, g.updated_at, g.geom
FROM grants g
"""


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
    op.add_geospatial_column(
        "grants",
        sa.Column(
            "geom",
            Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=True,
        ),
    )
    op.create_geospatial_index(
        "idx_grants_geom", "grants", ["geom"], unique=False, postgresql_using="gist"
    )
    op.execute(_FOOTPRINT_SQL)
    op.execute(
        "UPDATE grants g SET geom = u.geom FROM (SELECT grant_id,"
        " ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom"
        " FROM field_sites GROUP BY grant_id) u WHERE u.grant_id = g.id"
    )
    op.execute(_VIEW_SQL)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        "GRANT SELECT ON grant_features TO irbis_reader; END IF; END $$;"
    )


def downgrade() -> None:
    op.execute("SELECT set_config('irbis.actor', 'migration 0007 downgrade', true)")
    op.execute("DROP VIEW IF EXISTS grant_features")
    op.execute("DROP TRIGGER IF EXISTS field_sites_grant_footprint ON field_sites")
    op.execute("DROP FUNCTION IF EXISTS irbis_grant_footprint()")
    op.drop_geospatial_index(
        "idx_grants_geom", table_name="grants", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_column("grants", "geom")
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
