"""Figures for case pages, computed in PostGIS (areas on the ellipsoid, never in degrees)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    exists,
    func,
    select,
    true,
)

from geo.funding import funded_sites
from layers.public import public_rows, published_threats
from layers.tables import field_sites, protected_areas
from layers.tables import grant_species as _grant_species
from layers.tables import grants as _grants
from layers.tables import species as _species

#: The demo threat's name, as an ILIKE pattern (the dash and the "J" vary between sources).
KOK_JAILAU = "Kok-%ailau%"


def _hectares(geom: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.ST_Area(func.geography(geom), type_=Float) / 1e4


def kok_jailau_query(pattern: str = KOK_JAILAU) -> Select[Any]:
    """The first published threat named like ``pattern``: its footprint, the largest
    protected area polygon it touches, and the field sites within 50 km."""
    threats = published_threats(
        "id", "name", "status", "description", "properties", "source", "licence", "method",
        "geom", name="threats",
    )  # fmt: skip
    t = select(threats).where(threats.c.name.ilike(pattern)).order_by(threats.c.id).limit(1)
    t_cte = t.cte("t")
    pa = protected_areas.alias("pa")
    park = (
        select(pa.c.id, pa.c.name, pa.c.name_ru, pa.c.name_kk, pa.c.method, pa.c.geom)
        .select_from(pa.join(t_cte, func.ST_Intersects(pa.c.geom, t_cte.c.geom)))
        .where(func.GeometryType(pa.c.geom).in_(("POLYGON", "MULTIPOLYGON")))
        .order_by(func.ST_Area(func.geography(pa.c.geom)).desc())
        .limit(1)
        .cte("park")
    )
    fs = field_sites.alias("fs")
    sites_near = (
        select(func.count())
        .select_from(fs)
        .where(func.ST_DWithin(func.geography(fs.c.geom), func.geography(t_cte.c.geom), 50000))
        .scalar_subquery()
    )
    g = t_cte.c.geom
    return select(
        *(t_cte.c[c] for c in ("id", "name", "status", "description", "properties")),
        *(t_cte.c[c] for c in ("source", "licence", "method")),
        func.ST_AsGeoJSON(g, 6).label("geojson"),
        _hectares(g).label("footprint_ha"),
        func.ST_XMin(g).label("xmin"),
        func.ST_YMin(g).label("ymin"),
        func.ST_XMax(g).label("xmax"),
        func.ST_YMax(g).label("ymax"),
        park.c.id.label("park_id"),
        park.c.name.label("park_name"),
        park.c.name_ru.label("park_name_ru"),
        park.c.name_kk.label("park_name_kk"),
        park.c.method.label("park_method"),
        _hectares(park.c.geom).label("park_ha"),
        _hectares(func.ST_Intersection(park.c.geom, g)).label("inside_park_ha"),
        sites_near.label("sites_within_50km"),
    ).select_from(t_cte.outerjoin(park, true()))


#: The species the case page counts funded field sites for.
CASE_SPECIES = "Panthera uncia"


def sites_near_query(threat_id: int, metres: float = 50_000) -> Select[Any]:
    """Field sites within ``metres`` of a published threat, with what the funding rule
    (:mod:`geo.funding`) reads of their grants: status, dates and species."""
    fs, g = field_sites.alias("fs"), _grants.alias("g")
    t = published_threats("id", "geom", name="t")
    species = (
        select(func.array_agg(_species.c.scientific_name))
        .select_from(_grant_species.join(_species, _species.c.id == _grant_species.c.species_id))
        .where(_grant_species.c.grant_id == g.c.id)
        .scalar_subquery()
    )
    near = func.ST_DWithin(func.geography(fs.c.geom), func.geography(t.c.geom), metres)
    return (
        select(
            fs.c.id,
            g.c.status.label("grant_status"),
            g.c.start_date,
            g.c.end_date,
            species.label("species"),
        )
        .select_from(fs.join(g, g.c.id == fs.c.grant_id).join(t, t.c.id == threat_id))
        .where(near)
    )


def kok_jailau(conn: Connection, on: dt.date | None = None) -> dict[str, Any] | None:
    """The Kok-Jailau threat with its footprint, park overlap and the field sites within
    50 km funded on ``on`` (default today) for snow leopards (:mod:`geo.funding`)."""
    row = conn.execute(kok_jailau_query()).first()
    if row is None:
        return None
    out = dict(row._mapping)
    day = on or dt.date.today()
    near = pd.DataFrame(conn.execute(sites_near_query(out["id"])).mappings().all())
    funded = funded_sites(near, day, species=CASE_SPECIES) if not near.empty else near
    out |= {"sites_within_50km": len(funded), "funded_on": day, "funded_species": CASE_SPECIES}
    return out


def layers_with_examples(conn: Connection, tables: dict[str, str]) -> set[str]:
    """Layer ids whose table holds any record the public sees with ``method = 'example'``
    (``tables``: layer id -> table name, from the registry)."""
    out = set()
    for layer_id, table_name in tables.items():
        rows = public_rows(table_name, "method")
        if conn.execute(select(exists().where(rows.c.method == "example"))).scalar():
            out.add(layer_id)
    return out
