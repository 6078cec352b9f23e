"""Field sites of grants as read by the site pages, the site API and the upload checks.

A grant's sites are listed through the ``field_sites`` layer of the registry: its columns
(and which of them are private, such as who uploaded a site) and the geometry a caller sees
come from the layer's spec, so the site API shows what the layer publishes. The upload checks
read the programme countries and the sites of other grants near an upload; those rows go to
the validator, not to the caller.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Numeric, Select, cast, func, select

from geoalchemy2 import Geometry

from geo.crs import STORAGE_EPSG
from layers.registry import get_layer
from layers.sql import LayerSQL
from layers.tables import countries, field_sites, grants

#: The published layer of field sites.
SITES_LAYER = "field_sites"

_GEOMETRY = Geometry(srid=STORAGE_EPSG)


def grant_sites(grant_id: int, site_id: int | None = None, *, privileged: bool) -> Select[Any]:
    """A grant's sites (or one of them) by name: ``id``, the layer's own columns the caller
    may see (uploaders' names only for the ``privileged``), ``area_ha`` on the ellipsoid and
    the geometry as ``geojson`` (7 decimals)."""
    sql = LayerSQL(get_layer(SITES_LAYER), privileged=privileged)
    own = [c for c in sql.columns() if c.table_and_column[0] is None]
    geom = sql.geom()
    area = cast(func.ST_Area(func.geography(geom)), Numeric) / 10000
    name = sql.column_of("name")
    stmt = (
        select(
            sql.id_col.label("id"),
            *(sql.column_expr(c).label(c.name) for c in own),
            cast(func.round(area, 3), Float).label("area_ha"),
            func.ST_AsGeoJSON(geom, 7).label("geojson"),
        )
        .select_from(sql.main)
        .where(sql.column_of("grant_id") == grant_id, *sql.where_public())
        .order_by(name)
    )
    return stmt if site_id is None else stmt.where(sql.id_col == site_id)


def programme_countries() -> Select[Any]:
    """The programme's countries (``iso_a3``, ``programme``, ``geometry`` as WKB), which a
    site must lie in."""
    c = countries.c
    return select(c.iso_a3, c.programme, func.ST_AsBinary(c.geom).label("geometry")).where(
        c.programme.is_(True)
    )


def other_sites(grant_id: int, bounds: tuple[float, ...]) -> Select[Any]:
    """Sites of grants other than ``grant_id`` whose boxes meet ``bounds`` (west, south,
    east, north in degrees): ``grant_code``, ``name``, ``geometry`` as WKB."""
    s, g = field_sites.c, grants.c
    w, south, e, n = (float(v) for v in bounds[:4])
    box = func.ST_MakeEnvelope(w, south, e, n, STORAGE_EPSG, type_=_GEOMETRY)
    return (
        select(g.code.label("grant_code"), s.name, func.ST_AsBinary(s.geom).label("geometry"))
        .select_from(field_sites.join(grants, g.id == s.grant_id))
        .where(s.grant_id != grant_id, s.geom.op("&&")(box))
    )
