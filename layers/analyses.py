"""The statements of analysis runs: their inputs read from the store and their results read back.

Built with SQLAlchemy Core over light ``table()`` clauses (this package does not import the
models); values are bound. The public's threats are read through the registry
(:func:`layers.public.published_threats`), not here. Geometries come out as WKB
(``ST_AsBinary``) for :func:`layers.frames.read_gdf`, or as GeoJSON for downloads and maps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Select,
    String,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from layers.tables import (
    analysis_features,
    ecosystems,
    field_sites,
    grant_species,
    grants,
    habitat,
    species,
)


def _wkb(geom: Any) -> ColumnElement[Any]:
    return func.ST_AsBinary(geom).label("geom")


def _habitat_rows(h: Any, s: Any) -> Any:
    return h.join(s, s.c.id == h.c.species_id)


def habitat_of_run(run_id: int) -> Select[Any]:
    """The habitat pieces of habitat run ``run_id`` with their species' scientific name."""
    h, s = habitat.alias("h"), species.alias("s")
    return (
        select(
            h.c.id,
            s.c.scientific_name.label("species"),
            h.c.ecosystem,
            h.c.iso3,
            h.c.area_ha,
            _wkb(h.c.geom),
        )
        .select_from(_habitat_rows(h, s))
        .where(h.c.analysis_run_id == run_id)
        .order_by(h.c.id)
    )


def ecosystems_of_run(run_id: int) -> Select[Any]:
    """The ecosystem polygons of ecosystems run ``run_id`` with their class (as text)."""
    e = ecosystems
    return (
        select(
            e.c.id,
            e.c.kind,
            e.c.iso3,
            e.c.properties["eco_class"].astext.label("eco_class"),
            _wkb(e.c.geom),
        )
        .where(e.c.analysis_run_id == run_id)
        .order_by(e.c.id)
    )


def field_sites_with_grants() -> Select[Any]:
    """Every field site with its grant's code, status and dates and the grant's species (a
    sorted list of scientific names, empty when none): what the funding rule reads."""
    f, g = field_sites.alias("f"), grants.alias("g")
    names = (
        select(
            func.array_agg(aggregate_order_by(species.c.scientific_name, species.c.scientific_name))
        )
        .select_from(grant_species.join(species, species.c.id == grant_species.c.species_id))
        .where(grant_species.c.grant_id == g.c.id)
        .scalar_subquery()
    )
    return (
        select(
            f.c.id,
            f.c.name,
            f.c.method,
            g.c.code.label("grant_code"),
            g.c.status.label("grant_status"),
            g.c.start_date,
            g.c.end_date,
            func.coalesce(names, cast(literal("{}"), ARRAY(String))).label("species"),
            _wkb(f.c.geom),
        )
        .select_from(f.join(g, g.c.id == f.c.grant_id))
        .order_by(f.c.id)
    )


def _geojson(geom: Any, simplify: float) -> ColumnElement[Any]:
    """A geometry as GeoJSON (6 decimals), simplified by ``simplify`` degrees when above 0."""
    g = func.ST_SimplifyPreserveTopology(geom, simplify) if simplify > 0 else geom
    return cast(func.ST_AsGeoJSON(g, 6), JSON).label("g")


def run_features(
    run_id: int, run_kind: str, feature_kind: str | None = None, *, simplify: float = 0.0
) -> Select[Any]:
    """The result geometries of run ``run_id`` as GeoJSON (column ``g``): the habitat or
    ecosystem rows of those kinds of run, else the run's ``analysis_features`` (of
    ``feature_kind`` only, if given); ``simplify`` in degrees, 0 keeps them exact."""
    if run_kind == "habitat":
        h, s = habitat.alias("h"), species.alias("s")
        return (
            select(
                h.c.id,
                s.c.scientific_name.label("species"),
                h.c.ecosystem,
                h.c.iso3,
                h.c.area_ha,
                _geojson(h.c.geom, simplify),
            )
            .select_from(_habitat_rows(h, s))
            .where(h.c.analysis_run_id == run_id)
            .order_by(h.c.id)
        )
    if run_kind == "ecosystems":
        e = ecosystems
        return (
            select(e.c.id, e.c.kind, e.c.iso3, e.c.properties, _geojson(e.c.geom, simplify))
            .where(e.c.analysis_run_id == run_id)
            .order_by(e.c.id)
        )
    a = analysis_features
    q = select(a.c.id, a.c.kind, a.c.properties, _geojson(a.c.geom, simplify)).where(
        a.c.run_id == run_id
    )
    if feature_kind:
        q = q.where(a.c.kind == feature_kind)
    return q.order_by(a.c.id)
