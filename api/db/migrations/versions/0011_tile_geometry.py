"""tile geometry: geometry in the tile CRS and generalised copies (issue 14).

Every table published as vector tiles gets its geometry materialised in EPSG:3857 (the CRS of
WebMercatorQuad) as a stored generated column ``tile_geom`` with a GiST index, so a tile
neither transforms whole geometries nor searches through a box in another CRS. Polygon and
line tables also get a copy generalised for each low zoom (``tile_geom_z4`` .. ``tile_geom_z8``,
``tile_geom_z4`` serving zooms 0-4 too), simplified to a tile pixel of that zoom (extent 4096,
as the tiles were simplified before), so a low-zoom tile does not go through thousands of
vertices per pixel.

The columns are generated from ``geom``, so they can never disagree with it; they hold the
stored geometry, which is what privileged readers see. Layers whose public geometry is
generalised (sensitive locations) still build their public tiles from ``geom``
(:mod:`layers.tiles`). Latitudes beyond WebMercatorQuad's limit are clipped away before the
transformation, so any valid stored geometry has a tile geometry.

The audit trigger leaves these columns out of ``audit_log``: they are derived, and the history
of a row stays the history of what was written.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Tables published as vector tiles (layers.catalog); views keep building from ``geom``.
POINT_TABLES = ("occurrences", "places", "peaks")
SHAPE_TABLES = (
    "protected_areas",
    "species_ranges",
    "field_sites",
    "threats",
    "ecosystems",
    "countries",
    "admin_units",
    "regions",
    "glaciers",
    "lakes",
    "rivers",
)
#: The generalised copies: column, the zoom whose pixel it is simplified to (and last served).
BANDS = tuple((f"tile_geom_z{z}", z) for z in range(4, 9))
#: Tables whose columns the read-only role gets one by one (migration 0006).
READER_COLUMN_TABLES = ("field_sites", "occurrences")
DERIVED = ("tile_geom", *(c for c, _ in BANDS))


def pixel_m(z: int, extent: int = 4096) -> float:
    """The size of a tile pixel at zoom ``z`` in WebMercatorQuad, in metres."""
    return 2 * 6378137.0 * 3.141592653589793 / 2**z / extent


TILE_GEOM_FN = """
CREATE OR REPLACE FUNCTION irbis_tile_geom(g geometry, tolerance double precision)
RETURNS geometry LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- a restore (pg_restore) computes the generated columns with an empty search_path
SET search_path = public, pg_temp
AS $$
  SELECT CASE WHEN tolerance > 0 THEN ST_Simplify(t, tolerance, true) ELSE t END
  FROM (SELECT ST_Transform(
          CASE WHEN ST_YMin(g) >= -85.0511287798 AND ST_YMax(g) <= 85.0511287798 THEN g
               ELSE ST_ClipByBox2D(g, ST_MakeEnvelope(-180, -85.0511287798, 180,
                                                       85.0511287798, 4326)) END,
          3857) AS t) s
$$;
"""

_AUDIT_BODY = """
CREATE OR REPLACE FUNCTION irbis_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b jsonb;
  a jsonb;
  rid text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN b := to_jsonb(OLD){strip}; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN a := to_jsonb(NEW){strip}; END IF;
  IF TG_OP = 'UPDATE' AND (a - 'updated_at') = (b - 'updated_at') THEN
    RETURN NEW;
  END IF;
  rid := COALESCE(
    COALESCE(a, b) ->> 'id',
    (SELECT string_agg(value, ':' ORDER BY key) FROM jsonb_each_text(COALESCE(a, b)))
  );
  INSERT INTO audit_log (table_name, row_id, action, actor, at, before, after)
  VALUES (TG_TABLE_NAME, rid, lower(TG_OP),
          NULLIF(current_setting('irbis.actor', true), ''), now(), b, a);
  RETURN COALESCE(NEW, OLD);
END
$$;
"""
AUDIT_WITHOUT_DERIVED = _AUDIT_BODY.replace(
    "{strip}", " - ARRAY[" + ", ".join(f"'{c}'" for c in DERIVED) + "]"
)
AUDIT_BEFORE = _AUDIT_BODY.replace("{strip}", "")


def _columns(table: str) -> list[tuple[str, float]]:
    cols = [("tile_geom", 0.0)]
    if table in SHAPE_TABLES:
        cols += [(c, pixel_m(z)) for c, z in BANDS]
    return cols


def upgrade() -> None:
    op.execute(TILE_GEOM_FN)
    op.execute(AUDIT_WITHOUT_DERIVED)
    for table in (*SHAPE_TABLES, *POINT_TABLES):
        adds = ", ".join(
            f"ADD COLUMN {c} geometry(Geometry, 3857)"
            f" GENERATED ALWAYS AS (irbis_tile_geom(geom, {tol!r})) STORED"
            for c, tol in _columns(table)
        )
        op.execute(f"ALTER TABLE {table} {adds}")
        op.execute(f"CREATE INDEX ix_{table}_tile_geom ON {table} USING gist (tile_geom)")
    grants = " ".join(
        f"GRANT SELECT ({', '.join(c for c, _ in _columns(t))}) ON {t} TO irbis_reader;"
        for t in READER_COLUMN_TABLES
    )
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        f"{grants} END IF; END $$;"
    )
    for table in (*SHAPE_TABLES, *POINT_TABLES):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for table in (*SHAPE_TABLES, *POINT_TABLES):
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_tile_geom")
        drops = ", ".join(f"DROP COLUMN IF EXISTS {c}" for c, _ in _columns(table))
        op.execute(f"ALTER TABLE {table} {drops}")
    op.execute(AUDIT_BEFORE)
    op.execute("DROP FUNCTION IF EXISTS irbis_tile_geom(geometry, double precision)")
