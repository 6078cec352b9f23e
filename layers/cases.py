"""Figures for case pages, computed in PostGIS (areas on the ellipsoid, never in degrees)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

KOK_JAILAU_SQL = text(
    """
    WITH t AS (
      SELECT id, name, status, description, properties, source, licence, method, geom
      FROM threats WHERE published AND name ILIKE :pattern ORDER BY id LIMIT 1
    ), park AS (
      SELECT pa.id, pa.name, pa.method, pa.geom FROM protected_areas pa, t
      WHERE ST_Intersects(pa.geom, t.geom) AND GeometryType(pa.geom) IN ('POLYGON', 'MULTIPOLYGON')
      ORDER BY ST_Area(pa.geom::geography) DESC LIMIT 1
    )
    SELECT t.id, t.name, t.status, t.description, t.properties, t.source, t.licence, t.method,
           ST_AsGeoJSON(t.geom, 6) AS geojson,
           ST_Area(t.geom::geography) / 1e4 AS footprint_ha,
           ST_XMin(t.geom) AS xmin, ST_YMin(t.geom) AS ymin,
           ST_XMax(t.geom) AS xmax, ST_YMax(t.geom) AS ymax,
           park.id AS park_id, park.name AS park_name, park.method AS park_method,
           ST_Area(park.geom::geography) / 1e4 AS park_ha,
           ST_Area(ST_Intersection(park.geom, t.geom)::geography) / 1e4 AS inside_park_ha,
           (SELECT count(*) FROM field_sites fs
             WHERE ST_DWithin(fs.geom::geography, t.geom::geography, 50000)) AS sites_within_50km
    FROM t LEFT JOIN park ON true
    """
)


def kok_jailau(conn: Connection) -> dict[str, Any] | None:
    """The Kok-Jailau threat with its footprint, park overlap and nearby field sites."""
    row = conn.execute(KOK_JAILAU_SQL, {"pattern": "Kok-%ailau%"}).first()
    return dict(row._mapping) if row is not None else None


def layers_with_examples(conn: Connection, tables: dict[str, str]) -> set[str]:
    """Layer ids whose table holds any record with ``method = 'example'``."""
    out = set()
    for layer_id, table in tables.items():
        q = text(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE method = 'example')")
        if conn.execute(q).scalar():
            out.add(layer_id)
    return out
