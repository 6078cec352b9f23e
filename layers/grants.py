"""Figures of a grant's page, computed in PostGIS (areas and distances on the ellipsoid)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

SITES_SQL = text(
    """
    SELECT id, name, round((ST_Area(geom::geography) / 1e4)::numeric, 1)::float AS area_ha,
           uploaded_at
    FROM field_sites WHERE grant_id = :gid ORDER BY name
    """
)

FOOTPRINT_SQL = text(
    """
    SELECT ST_AsGeoJSON(geom, 6) AS geojson, ST_Area(geom::geography) / 1e4 AS area_ha,
           ST_XMin(geom) AS xmin, ST_YMin(geom) AS ymin, ST_XMax(geom) AS xmax,
           ST_YMax(geom) AS ymax
    FROM grants WHERE id = :gid AND geom IS NOT NULL
    """
)

PROTECTED_SQL = text(
    """
    WITH g AS (SELECT geom, ST_Area(geom::geography) AS area FROM grants
               WHERE id = :gid AND geom IS NOT NULL)
    SELECT p.name, p.designation,
           ST_Area(ST_Intersection(p.geom, g.geom)::geography) / 1e4 AS overlap_ha,
           ST_Area(ST_Intersection(p.geom, g.geom)::geography) / NULLIF(g.area, 0) AS share
    FROM protected_areas p, g
    WHERE ST_Intersects(p.geom, g.geom) AND GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON')
    ORDER BY overlap_ha DESC, p.name
    """
)

THREATS_SQL = text(
    """
    SELECT t.id, t.name, t.kind, t.status, s.name AS site,
           round(ST_Distance(t.geom::geography, s.geom::geography)::numeric, 0)::float AS distance_m
    FROM field_sites s JOIN threats t
      ON ST_DWithin(t.geom::geography, s.geom::geography, :metres)
    WHERE s.grant_id = :gid AND t.published
    ORDER BY distance_m, t.name, s.name
    """
)


def sites(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(SITES_SQL, {"gid": grant_id})]


def footprint(conn: Connection, grant_id: int) -> dict[str, Any] | None:
    """The union of the grant's sites: GeoJSON, area and bounds (None without sites)."""
    row = conn.execute(FOOTPRINT_SQL, {"gid": grant_id}).first()
    return dict(row._mapping) if row is not None else None


def protected_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Protected areas the grant's sites overlap, with hectares and the share of the sites."""
    return [dict(r._mapping) for r in conn.execute(PROTECTED_SQL, {"gid": grant_id})]


def threats_near(conn: Connection, grant_id: int, metres: float) -> list[dict[str, Any]]:
    """Published threats within ``metres`` of a site of the grant (geodesic), nearest first."""
    q = conn.execute(THREATS_SQL, {"gid": grant_id, "metres": metres})
    return [dict(r._mapping) for r in q]
