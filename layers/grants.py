"""Figures of a grant's page, computed in PostGIS (areas and distances on the ellipsoid)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Numeric,
    Select,
    and_,
    bindparam,
    cast,
    column,
    func,
    select,
    table,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from geoalchemy2 import Geography, Geometry

from layers.public import published_threats

SITES_SQL = text(
    """
    SELECT id, name, round((ST_Area(geom::geography) / 1e4)::numeric, 1)::float AS area_ha,
           uploaded_at, method
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
    SELECT p.name, p.designation, p.status, p.method,
           ST_Area(ST_Intersection(p.geom, g.geom)::geography) / 1e4 AS overlap_ha,
           ST_Area(ST_Intersection(p.geom, g.geom)::geography) / NULLIF(g.area, 0) AS share
    FROM protected_areas p, g
    WHERE ST_Intersects(p.geom, g.geom) AND GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON')
    ORDER BY overlap_ha DESC, p.name
    """
)


#: Degrees of longitude that ``metres`` may span at the region's northern edge (56 N), with a
#: margin: the index prefilter on geometry before the exact geodesic test.
def _degrees(metres: float) -> float:
    return metres / 111_320.0 / math.cos(math.radians(56.0)) * 1.01


_sites = table(
    "field_sites",
    column("id"),
    column("name"),
    column("grant_id"),
    column("geom", Geometry(srid=4326)),
)
_grants = table("grants", column("id"), column("code"))


def _near(metres: float) -> tuple[Any, Any, Any, ColumnElement[float]]:
    """Published threats (from the registry: what the public sees) joined to field sites
    within ``metres`` on the ellipsoid, and the rounded distance in metres."""
    t = published_threats("id", "name", "kind", "status", "updated_at", "geom", name="t")
    s = _sites.alias("s")
    tg, sg = cast(t.c.geom, Geography), cast(s.c.geom, Geography)
    on = and_(
        s.c.geom.op("&&")(func.ST_Expand(t.c.geom, _degrees(metres))),
        func.ST_DWithin(tg, sg, metres),
    )
    distance = cast(func.round(cast(func.ST_Distance(tg, sg), Numeric), 0), Float)
    return t, s, t.join(s, on), distance.label("distance_m")


def _threats_near_stmt(grant_id: int, metres: float) -> Select[Any]:
    t, s, joined, distance = _near(metres)
    return (
        select(
            *(t.c[n].label(n) for n in ("id", "name", "kind", "status", "updated_at")),
            s.c.name.label("site"),
            distance,
        )
        .select_from(joined)
        .where(s.c.grant_id == grant_id)
        .order_by(distance, t.c.name, s.c.name)
    )


def _sites_under_threat_stmt(codes: list[str], metres: float) -> Select[Any]:
    t, s, joined, distance = _near(metres)
    g = _grants.alias("g")
    return (
        select(
            g.c.code.label("grant_code"),
            s.c.name.label("site"),
            t.c.id.label("threat_id"),
            t.c.name.label("threat"),
            t.c.kind.label("kind"),
            t.c.status.label("status"),
            distance,
        )
        .select_from(joined.join(g, g.c.id == s.c.grant_id))
        .where(g.c.code.in_(bindparam("codes", codes, expanding=True)))
        .order_by(g.c.code, s.c.name, distance)
    )


#: The columns of the grants collection an export carries.
EXPORT_COLUMNS = (
    "code", "title", "organisation", "status", "call", "countries", "species",
    "ecosystem_focus", "amount", "currency", "amount_usd", "start_date", "end_date",
)  # fmt: skip
FEATURES_SQL = text(
    """
    SELECT id AS fid, code AS p_code, title AS p_title, organisation AS p_organisation,
           status AS p_status, call AS p_call, countries AS p_countries, species AS p_species,
           ecosystem_focus AS p_ecosystem_focus, amount AS p_amount, currency AS p_currency,
           amount_usd AS p_amount_usd, start_date AS p_start_date, end_date AS p_end_date,
           ST_AsGeoJSON(geom, 6) AS geojson
    FROM grant_features WHERE code = ANY(:codes) ORDER BY code
    """
)


HABITAT_SQL = text(
    """
    WITH g AS (SELECT geom, ST_Area(geom::geography) AS area FROM grants
         WHERE id = :gid AND geom IS NOT NULL),
    h AS (
      SELECT s.scientific_name AS species, h.ecosystem, h.analysis_run_id AS run,
             ST_Union(ST_Intersection(h.geom, g.geom)) AS geom,
             array_agg(DISTINCT h.method) AS methods
      FROM habitat h JOIN species s ON s.id = h.species_id CROSS JOIN g
      WHERE h.analysis_run_id = (SELECT max(analysis_run_id) FROM habitat)
        AND ST_Intersects(h.geom, g.geom)
      GROUP BY s.scientific_name, h.ecosystem, h.analysis_run_id
    ), pa AS (
      SELECT ST_Union(p.geom) AS geom FROM protected_areas p CROSS JOIN g
      WHERE ST_Intersects(p.geom, g.geom) AND p.status <> 'Proposed'
        AND GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON')
    )
    SELECT h.species, h.ecosystem, h.run, h.methods,
           ST_Area(h.geom::geography) / 1e4 AS habitat_ha,
           ST_Area(CASE WHEN pa.geom IS NULL THEN h.geom
                        ELSE ST_Difference(h.geom, pa.geom) END::geography) / 1e4 AS added_ha
    FROM h CROSS JOIN pa
    ORDER BY h.species, h.ecosystem
    """
)

ECOSYSTEMS_SQL = text(
    """
    WITH g AS (SELECT geom, ST_Area(geom::geography) AS area FROM grants
         WHERE id = :gid AND geom IS NOT NULL),
    e AS (
      SELECT e.kind, e.analysis_run_id AS run,
             ST_Union(ST_Intersection(e.geom, g.geom)) AS geom,
             array_agg(DISTINCT e.method) AS methods
      FROM ecosystems e CROSS JOIN g
      WHERE e.analysis_run_id = (SELECT max(analysis_run_id) FROM ecosystems)
        AND ST_Intersects(e.geom, g.geom)
      GROUP BY e.kind, e.analysis_run_id
    )
    SELECT e.kind AS ecosystem, e.run, e.methods, ST_Area(e.geom::geography) / 1e4 AS area_ha,
           ST_Area(e.geom::geography) / NULLIF(g.area, 0) AS share
    FROM e CROSS JOIN g
    ORDER BY area_ha DESC, e.kind
    """
)


def habitat_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Modelled habitat (the latest habitat run) inside the grant's sites, per species and
    ecosystem kind, in ha on the ellipsoid: all of it (``habitat_ha``) and the part outside
    designated protected areas (``added_ha``, what the grant adds to coverage)."""
    return [dict(r._mapping) for r in conn.execute(HABITAT_SQL, {"gid": grant_id})]


def ecosystem_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Ecosystem classes (the latest ecosystems run) inside the grant's sites: ha on the
    ellipsoid and share of the sites' area, largest first."""
    return [dict(r._mapping) for r in conn.execute(ECOSYSTEMS_SQL, {"gid": grant_id})]


def sites(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(SITES_SQL, {"gid": grant_id})]


def footprint(conn: Connection, grant_id: int) -> dict[str, Any] | None:
    """The union of the grant's sites: GeoJSON, area and bounds (None without sites)."""
    row = conn.execute(FOOTPRINT_SQL, {"gid": grant_id}).first()
    return dict(row._mapping) if row is not None else None


def protected_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Protected areas the grant's sites overlap, with hectares and the share of the sites
    (``status`` and ``method`` too: a proposed area does not count as protection)."""
    return [dict(r._mapping) for r in conn.execute(PROTECTED_SQL, {"gid": grant_id})]


def threats_near(conn: Connection, grant_id: int, metres: float) -> list[dict[str, Any]]:
    """Published threats within ``metres`` of a site of the grant (geodesic), nearest first."""
    return [dict(r._mapping) for r in conn.execute(_threats_near_stmt(grant_id, metres))]


def sites_under_threat(conn: Connection, codes: list[str], metres: float) -> list[dict[str, Any]]:
    """Field sites of the grants ``codes`` with a published threat within ``metres``."""
    return [dict(r._mapping) for r in conn.execute(_sites_under_threat_stmt(codes, metres))]


def features(conn: Connection, codes: list[str]) -> list[Any]:
    """Rows of ``grant_features`` for exports (``fid``, ``p_<column>``, ``geojson``), in the
    shape of :mod:`layers.export`; :data:`EXPORT_COLUMNS` names the columns."""
    return list(conn.execute(FEATURES_SQL, {"codes": codes}))


GAP_SQL = text(
    """
    WITH h AS (
      SELECT ecosystem, geom FROM habitat
      WHERE analysis_run_id = (SELECT max(analysis_run_id) FROM habitat)
    ), pa AS (
      SELECT ST_Union(geom) AS geom FROM protected_areas
      WHERE GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') AND status <> 'Proposed'
    )
    SELECT h.ecosystem,
           sum(ST_Area(h.geom::geography)) / 1e6 AS habitat_km2,
           sum(ST_Area(CASE WHEN pa.geom IS NULL THEN h.geom
                            ELSE ST_Difference(h.geom, pa.geom) END::geography)) / 1e6 AS gap_km2
    FROM h CROSS JOIN pa
    GROUP BY h.ecosystem ORDER BY h.ecosystem
    """
)


def habitat_gap(conn: Connection) -> dict[str, dict[str, float]]:
    """Modelled habitat (latest run) and its part outside designated protected areas, in km²
    on the ellipsoid, per ecosystem kind (empty without a habitat model)."""
    return {
        r.ecosystem: {"habitat_km2": float(r.habitat_km2), "gap_km2": float(r.gap_km2)}
        for r in conn.execute(GAP_SQL)
    }


OUTLINE_SQL = text(
    """
    SELECT ST_AsSVG(geom, 0, 5) AS path, ST_XMin(geom) AS xmin, ST_YMin(geom) AS ymin,
           ST_XMax(geom) AS xmax, ST_YMax(geom) AS ymax
    FROM grants WHERE id = :gid AND geom IS NOT NULL
    """
)


def outline_svg(conn: Connection, grant_id: int) -> dict[str, Any] | None:
    """The union of the grant's sites as an SVG path (y down) with its view box, for pages
    that must not load tiles (the donor report, its PDF)."""
    row = conn.execute(OUTLINE_SQL, {"gid": grant_id}).first()
    if row is None:
        return None
    pad = max(row.xmax - row.xmin, row.ymax - row.ymin, 0.01) * 0.1
    w, h = row.xmax - row.xmin + 2 * pad, row.ymax - row.ymin + 2 * pad
    return {
        "path": row.path,
        "view_box": f"{row.xmin - pad:.5f} {-row.ymax - pad:.5f} {w:.5f} {h:.5f}",
        "stroke": max(w, h) / 300,
    }


GRANTS_SQL = text(
    """
    SELECT g.code, g.title, g.grantee_organisation, g.partners, g.countries,
           COALESCE((SELECT array_agg(s.scientific_name ORDER BY s.scientific_name)
                     FROM grant_species gs JOIN species s ON s.id = gs.species_id
                     WHERE gs.grant_id = g.id), '{}') AS species,
           g.ecosystem_focus, g.amount, g.currency, g.rate, g.rate_date, g.call,
           g.start_date, g.end_date, g.status, g.objectives, g.description, g.documents,
           g.method, g.source, g.updated_at
    FROM grants g ORDER BY g.code
    """
)


def grant_rows(conn: Connection) -> list[Any]:
    """Every grant's record with its species' names, in one statement (the portfolio)."""
    return list(conn.execute(GRANTS_SQL))
