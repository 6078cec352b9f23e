"""grant footprints once per statement: a grant's geometry (the union of its field sites) is
recomputed once for each grant a statement touches, not once for each row.

The row trigger of 0007 unioned all of a grant's sites after every inserted, moved or deleted
site, so loading n sites of one grant in one statement cost n unions of up to n polygons
(quadratic: 10,000 sites took more than 40 minutes). Three statement triggers with transition
tables (PostgreSQL allows one event per trigger with transition tables, and no column list)
collect the grants a statement touched and union each grant's sites once. An UPDATE counts a
grant only when a row's geometry or grant changed, as the old trigger's ``UPDATE OF geom,
grant_id`` did.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_UNION = """
  UPDATE grants g SET geom = (
    SELECT ST_Multi(ST_CollectionExtract(ST_Union(f.geom), 3))
    FROM field_sites f WHERE f.grant_id = g.id)
  WHERE g.id IN (SELECT grant_id FROM touched WHERE grant_id IS NOT NULL);
"""

UPGRADE_SQL = f"""
DROP TRIGGER IF EXISTS field_sites_grant_footprint ON field_sites;

CREATE OR REPLACE FUNCTION irbis_grant_footprint_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  WITH touched AS (SELECT DISTINCT grant_id FROM new_sites)
  {_UNION}
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION irbis_grant_footprint_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  WITH touched AS (SELECT DISTINCT grant_id FROM old_sites)
  {_UNION}
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION irbis_grant_footprint_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  WITH changed AS (
    SELECT o.grant_id AS old_grant, n.grant_id AS new_grant
    FROM old_sites o JOIN new_sites n ON n.id = o.id
    WHERE o.grant_id IS DISTINCT FROM n.grant_id
       OR NOT ST_OrderingEquals(o.geom, n.geom)
  ),
  touched AS (
    SELECT old_grant AS grant_id FROM changed
    UNION SELECT new_grant FROM changed
  )
  {_UNION}
  RETURN NULL;
END
$$;

CREATE TRIGGER field_sites_grant_footprint_ins
  AFTER INSERT ON field_sites REFERENCING NEW TABLE AS new_sites
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_grant_footprint_inserted();
CREATE TRIGGER field_sites_grant_footprint_del
  AFTER DELETE ON field_sites REFERENCING OLD TABLE AS old_sites
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_grant_footprint_deleted();
CREATE TRIGGER field_sites_grant_footprint_upd
  AFTER UPDATE ON field_sites REFERENCING OLD TABLE AS old_sites NEW TABLE AS new_sites
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_grant_footprint_updated();
"""

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS field_sites_grant_footprint_ins ON field_sites;
DROP TRIGGER IF EXISTS field_sites_grant_footprint_del ON field_sites;
DROP TRIGGER IF EXISTS field_sites_grant_footprint_upd ON field_sites;
DROP FUNCTION IF EXISTS irbis_grant_footprint_inserted();
DROP FUNCTION IF EXISTS irbis_grant_footprint_deleted();
DROP FUNCTION IF EXISTS irbis_grant_footprint_updated();
CREATE TRIGGER field_sites_grant_footprint
  AFTER INSERT OR DELETE OR UPDATE OF geom, grant_id ON field_sites
  FOR EACH ROW EXECUTE FUNCTION irbis_grant_footprint();
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
