"""Prioritisation's queries and the map of a plan.

The statements :mod:`api.services.prioritisation` runs, built with SQLAlchemy Core and
GeoAlchemy2 over light table clauses (every value bound): the layers a planning grid is computed
from (the threats as the public sees them, through :func:`layers.public.published_threats`), the
habitat it plans for, a grid's units and extent, a scenario's units, and the naming of units by
place.

The map of a plan: its units over the context layers, with no CDN. The plan's units arrive as
GeoJSON (from :func:`api.services.prioritisation.scenario_units_geojson`); selected units are
shaded by how often the portfolio of perturbed plans chose them, locked-out units are outlined
in red, and the registry's context layers (countries, protected areas, threats) are drawn as
vector tiles underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Float,
    Numeric,
    Select,
    Update,
    case,
    cast,
    func,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

import folium
import shapely.geometry
from geoalchemy2 import Geography

from layers import maps
from layers.public import published_threats
from layers.spec import LayerSpec
from layers.tables import (
    countries,
    districts,
    ecosystems,
    field_sites,
    grants,
    habitat,
    places,
    planning_units,
    protected_areas,
    regions,
    scenario_units,
    settlements,
    species,
    species_ranges,
)

# --------------------------------------------------------------------------------------------
# Tables (the columns the queries below read)
# --------------------------------------------------------------------------------------------


#: Distances on the ellipsoid: stored geometries as geography (their SRID, EPSG:4326).
GEOGRAPHY = Geography(srid=4326)

#: The ecosystems a plan is made for.
PLANNED_ECOSYSTEMS = ("mountain", "arid_lowland")


# --------------------------------------------------------------------------------------------
# The layers a grid is computed from
# --------------------------------------------------------------------------------------------


def countries_query(codes: Sequence[str]) -> Select[Any]:
    """The stored boundaries of the countries ``codes`` (ISO 3166 alpha-3) as ``iso3``."""
    c = countries
    return select(
        c.c.iso_a3.label("iso3"), c.c.name, func.ST_AsBinary(c.c.geom).label("geom")
    ).where(c.c.iso_a3.in_(list(codes)))


def protected_areas_query() -> Select[Any]:
    """Every protected area with its status, reported area and method."""
    p = protected_areas
    return select(
        p.c.id,
        p.c.name,
        p.c.status,
        p.c.reported_area_km2,
        p.c.method,
        func.ST_AsBinary(p.c.geom).label("geom"),
    )


def threats_query(*, kind: str | None = None) -> Select[Any]:
    """The threats the public sees (from the registry), of ``kind`` if given."""
    t = published_threats("id", "name", "kind", "status", "method", "geom", name="t")
    stmt = select(
        *(t.c[n].label(n) for n in ("id", "name", "kind", "status", "method")),
        func.ST_AsBinary(t.c.geom).label("geom"),
    )
    return stmt.where(t.c.kind == kind) if kind is not None else stmt


def field_sites_query() -> Select[Any]:
    """Every field site with its grant's status and dates (which sites are funded when)."""
    f, g = field_sites.alias("f"), grants.alias("g")
    return select(
        f.c.id,
        f.c.grant_id,
        f.c.name,
        f.c.method,
        g.c.status.label("grant_status"),
        g.c.start_date,
        g.c.end_date,
        func.ST_AsBinary(f.c.geom).label("geom"),
    ).select_from(f.join(g, g.c.id == f.c.grant_id))


def places_query() -> Select[Any]:
    """Natural Earth's populated places."""
    return select(places.c.id, places.c.name, func.ST_AsBinary(places.c.geom).label("geom"))


def regions_query() -> Select[Any]:
    """Natural Earth's named physical regions (mountain ranges, deserts...)."""
    r = regions
    return select(r.c.name, r.c.featurecla, func.ST_AsBinary(r.c.geom).label("geom"))


def analysis_habitat_query(run_id: int) -> Select[Any]:
    """The habitat of a habitat analysis run per species, ecosystem and country."""
    h, s = habitat.alias("h"), species.alias("s")
    return (
        select(
            s.c.scientific_name.label("species"),
            h.c.ecosystem,
            h.c.iso3,
            func.ST_AsBinary(h.c.geom).label("geom"),
        )
        .select_from(h.join(s, s.c.id == h.c.species_id))
        .where(h.c.analysis_run_id == run_id, h.c.ecosystem.in_(PLANNED_ECOSYSTEMS))
    )


def stored_habitat_query() -> Select[Any]:
    """Stored species ranges (present, native or reintroduced) intersected with the stored
    mountain and arid-lowland ecosystems, per species and ecosystem."""
    r, s, e = species_ranges.alias("r"), species.alias("s"), ecosystems.alias("e")
    part = func.ST_CollectionExtract(func.ST_Intersection(r.c.geom, e.c.geom), 3)
    return (
        select(
            s.c.scientific_name.label("species"),
            e.c.kind.label("ecosystem"),
            func.ST_AsBinary(part).label("geom"),
        )
        .select_from(
            r.join(s, s.c.id == r.c.species_id).join(e, func.ST_Intersects(r.c.geom, e.c.geom))
        )
        .where(
            e.c.kind.in_(PLANNED_ECOSYSTEMS),
            r.c.presence.in_((1, 2, 3)),
            r.c.origin.in_((1, 2)),
        )
    )


# --------------------------------------------------------------------------------------------
# Grids and scenarios
# --------------------------------------------------------------------------------------------


def grid_extent_query(grid_id: int) -> Select[Any]:
    """The extent of a grid's units: one row (xmin, ymin, xmax, ymax), NULLs when it has none."""
    e = (
        select(func.ST_Extent(planning_units.c.geom).label("e"))
        .where(planning_units.c.grid_id == grid_id)
        .subquery("x")
    )
    return select(
        func.ST_XMin(e.c.e), func.ST_YMin(e.c.e), func.ST_XMax(e.c.e), func.ST_YMax(e.c.e)
    )


def grid_units_query(grid_id: int) -> Select[Any]:
    """A grid's units with their values, in the order they were stored."""
    u = planning_units
    return (
        select(
            u.c.id,
            u.c.h3,
            u.c.iso3,
            u.c.area_km2,
            u.c.cost,
            u.c["values"],
            func.ST_AsBinary(u.c.geom).label("geom"),
        )
        .where(u.c.grid_id == grid_id)
        .order_by(u.c.id)
    )


def _scenario_join() -> tuple[Any, Any, Any]:
    su, u = scenario_units.alias("su"), planning_units.alias("u")
    return su, u, su.join(u, u.c.id == su.c.unit_id)


def scenario_units_query(scenario_id: int, *, selected_only: bool = True) -> Select[Any]:
    """A scenario's units (the selected ones only, by default) by rank, their geometry as
    GeoJSON (6 decimals) and their place (``values.place``)."""
    su, u, joined = _scenario_join()
    stmt = (
        select(
            u.c.h3,
            u.c.iso3,
            u.c.area_km2,
            u.c.cost,
            su.c.selected,
            su.c.locked,
            su.c.frequency,
            su.c.rank,
            u.c["values"].op("->", return_type=JSONB)("place").label("place"),
            func.ST_AsGeoJSON(u.c.geom, 6).label("geometry"),
        )
        .select_from(joined)
        .where(su.c.scenario_id == scenario_id)
        .order_by(su.c.rank)
    )
    return stmt.where(su.c.selected) if selected_only else stmt


def unit_places_query(scenario_id: int) -> Select[Any]:
    """The H3 index and ``values.place`` of each unit of a scenario."""
    su, u, joined = _scenario_join()
    return (
        select(u.c.h3, u.c["values"].op("->", return_type=JSONB)("place").label("place"))
        .select_from(joined)
        .where(su.c.scenario_id == scenario_id)
    )


def _names(*pairs: tuple[str, Any]) -> Any:
    """``jsonb_build_object(key, value, ...)``."""
    return func.jsonb_build_object(*(x for pair in pairs for x in pair), type_=JSONB)


def _district_of(u: Any) -> Any:
    """LATERAL: the district holding most of unit ``u``, with that ``share`` of it."""
    d = districts.alias("d")
    share = (
        func.ST_Area(func.ST_Intersection(d.c.geom, u.c.geom), type_=Float)
        / func.nullif(func.ST_Area(u.c.geom, type_=Float), 0.0, type_=Float)
    ).label("share")
    return (
        select(
            d.c.name_en,
            d.c.name_ru,
            d.c.name_kk,
            d.c.region_en,
            d.c.region_ru,
            d.c.region_kk,
            share,
        )
        .where(func.ST_Intersects(d.c.geom, u.c.geom))
        .order_by(share.desc().nulls_last())
        .limit(1)
        .correlate(u)
        .lateral("d")
    )


def _settlement_near(u: Any, centre: Any) -> Any:
    """LATERAL: the settlement nearest the ``centre`` of unit ``u`` in its country (a Kazakh
    town or village from OpenStreetMap, or a Natural Earth place), names and ``km``."""
    s = settlements.alias("s")
    town = (
        select(
            func.coalesce(s.c.name_en, s.c.name, s.c.name_ru).label("en"),
            func.coalesce(s.c.name_ru, s.c.name, s.c.name_en).label("ru"),
            func.coalesce(s.c.name_kk, s.c.name, s.c.name_ru).label("kk"),
            s.c.geom,
        )
        .where(
            s.c.place.in_(("city", "town", "village")),
            func.coalesce(s.c.name, s.c.name_en, s.c.name_ru, s.c.name_kk).is_not(None),
            or_(u.c.iso3.is_(None), u.c.iso3 == "KAZ"),  # Kazakh settlements only
        )
        .order_by(s.c.geom.op("<->")(centre.c.c))
        .limit(1)
        .correlate(u, centre)
    )
    p = places.alias("p")
    place = (
        select(
            p.c.name,
            func.coalesce(p.c.name_ru, p.c.name),
            func.coalesce(p.c.name_ru, p.c.name),
            p.c.geom,
        )
        .where(p.c.name.is_not(None), or_(u.c.iso3.is_(None), p.c.iso_a3 == u.c.iso3))
        .order_by(p.c.geom.op("<->")(centre.c.c))
        .limit(1)
        .correlate(u, centre)
    )
    x = union_all(town, place).subquery("x")
    km = (
        func.ST_Distance(cast(x.c.geom, GEOGRAPHY), cast(centre.c.c, GEOGRAPHY), type_=Float)
        / 1000.0
    ).label("km")
    return select(x.c.en, x.c.ru, x.c.kk, km).order_by(km).limit(1).correlate(centre).lateral("p")


def _range_at(centre: Any) -> Any:
    """LATERAL: the mountain range (Natural Earth) at a unit's ``centre``."""
    r = regions.alias("r")
    return (
        select(r.c.name)
        .where(r.c.featurecla == "Range/mtn", func.ST_Intersects(r.c.geom, centre.c.c))
        .limit(1)
        .correlate(centre)
        .lateral("r")
    )


def _place_record(district: Any, nearest: Any, mountains: Any) -> Any:
    """A unit's ``place``: district and region (when the district holds at least half of the
    unit), nearest settlement and its distance, mountain range; names in en/ru/kk."""
    in_district = district.c.share >= 0.5

    def said(prefix: str, of: Any) -> Any:
        return _names(*((lang, of.c[f"{prefix}{lang}"]) for lang in ("en", "ru", "kk")))

    return func.jsonb_strip_nulls(
        _names(
            ("district", case((in_district, said("name_", district)))),
            ("region", case((in_district, said("region_", district)))),
            ("settlement", said("", nearest)),
            ("settlement_km", func.round(cast(nearest.c.km, Numeric), 1)),
            ("range", mountains.c.name),
        ),
        type_=JSONB,
    )


def name_units_statement(grid_id: int, first: int, last: int) -> Update:
    """Name the units ``first``..``last`` (ids) of a grid by place, into ``values.place``.

    Per unit: the district holding most of it (Kazakhstan's districts, when at least half of
    the unit is in it) and its region, the nearest settlement in the unit's country (Kazakh
    towns and villages from OpenStreetMap, Natural Earth's places) with its distance in km from
    the unit's centre, and the mountain range at that centre; names in en/ru/kk.
    """
    u = planning_units.alias("u")
    centre = select(func.ST_PointOnSurface(u.c.geom).label("c")).correlate(u).lateral("centre")
    district, nearest, mountains = _district_of(u), _settlement_near(u, centre), _range_at(centre)
    named = (
        select(u.c.id, _place_record(district, nearest, mountains).label("place"))
        .select_from(
            u.join(centre, true())
            .outerjoin(district, true())
            .outerjoin(nearest, true())
            .outerjoin(mountains, true())
        )
        .where(u.c.grid_id == grid_id, u.c.id.between(first, last))
        .cte("named")
    )
    target = planning_units
    return (
        update(target)
        .where(target.c.id == named.c.id)
        .values(
            {
                target.c["values"]: target.c["values"].op("||", return_type=JSONB)(
                    _names(("place", named.c.place))
                )
            }
        )
    )


# --------------------------------------------------------------------------------------------
# The map of a plan
# --------------------------------------------------------------------------------------------

SELECTED = "#5e3c99"
LOCKED_OUT = "#b2182b"
FOCUS = "#ff7f00"


def _opacity(frequency: float) -> float:
    """A selected unit's fill opacity: stronger the more often perturbed plans chose it."""
    return round(0.25 + 0.5 * float(frequency), 3)


def _selected_style(feature: dict[str, Any]) -> dict[str, Any]:
    freq = feature["properties"].get("frequency") or 0.0
    return {"color": SELECTED, "weight": 1, "fillColor": SELECTED, "fillOpacity": _opacity(freq)}


def _rgba(colour: str, opacity: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{opacity})"


def plan_legend(words: dict[str, str], *, locked: bool) -> list[dict[str, Any]]:
    """The plan's legend rows: the selected units, their shade by how often perturbed plans
    chose them (0–100 %), and the locked-out units where there are some."""
    rows = [
        maps.number_legend(
            words["frequency"],
            [(0, _rgba(SELECTED, _opacity(0))), (100, _rgba(SELECTED, _opacity(1)))],
            unit="%",
            group=words["selected"],
        )
    ]
    if locked:
        rows.append(
            {
                "layer": None,
                "group": None,
                "label": words["locked_out"],
                "colour": "transparent",
                "stroke": LOCKED_OUT,
                "kind": "area",
                "example": False,
            }
        )
    return rows


def _locked_style(_feature: dict[str, Any]) -> dict[str, Any]:
    return {"color": LOCKED_OUT, "weight": 2, "fill": False, "dashArray": "4 3"}


#: The map's texts in English (pages pass them in their language).
LABELS = {
    "selected": "Plan: selected units",
    "locked_out": "Locked out",
    "focus": "This unit",
    "name": "Place",
    "rank": "rank",
    "frequency": "chosen in",
    "cost": "cost",
    "h3": "H3 cell",
}


def _focus_style(_feature: dict[str, Any]) -> dict[str, Any]:
    return {"color": FOCUS, "weight": 4, "fillOpacity": 0.05}


def plan_map(
    units: dict[str, Any],
    context: Sequence[LayerSpec],
    *,
    title: str,
    bounds: tuple[float, float, float, float] | None = None,
    focus: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    tools: maps.MapTools | None = None,
) -> maps.MapParts:
    """A page-ready map of a plan.

    Parameters
    ----------
    units : dict
        GeoJSON FeatureCollection of the scenario's units with ``selected``, ``locked``,
        ``frequency``, ``rank`` properties (and ``name``, the unit's place, when known).
    context : sequence of LayerSpec
        Registry layers drawn underneath.
    bounds : (minx, miny, maxx, maxy), optional
        Extent to show (default: the region).
    focus : dict, optional
        One unit (a GeoJSON feature) to outline and zoom to.
    labels : dict, optional
        The layer names and tooltip labels (default: :data:`LABELS`, in English).
    tools : MapTools, optional
        The page's language for the map's controls, labels and the relief's version.
    """
    words = {**LABELS, **(labels or {})}
    tools = tools or maps.MapTools()
    m = maps.base_map(tr=tools.tr, relief_version=tools.relief_version)
    for spec in context:
        maps.VectorTileLayer(spec, show=True, tr=tools.tr).add_to(m)
    feats = units.get("features", [])
    selected = {
        "type": "FeatureCollection",
        "features": [f for f in feats if f["properties"]["selected"]],
    }
    locked = {
        "type": "FeatureCollection",
        "features": [f for f in feats if f["properties"].get("locked") == "out"],
    }
    fields = ["name", "h3", "rank", "frequency", "cost"]
    if not all("name" in f["properties"] for f in feats):
        fields = fields[1:]
    folium.GeoJson(
        _without_place(selected),
        name=words["selected"],
        style_function=_selected_style,
        tooltip=folium.GeoJsonTooltip(fields, aliases=[words[k] for k in fields]),
    ).add_to(m)
    if locked["features"]:
        folium.GeoJson(
            _without_place(locked),
            name=words["locked_out"],
            style_function=_locked_style,
            tooltip=words["locked_out"],
        ).add_to(m)
    if focus is not None:
        one = _without_place({"type": "FeatureCollection", "features": [focus]})
        layer = folium.GeoJson(one, name=words["focus"], style_function=_focus_style)
        layer.add_child(folium.Tooltip(str(focus["properties"].get("name") or focus["id"])))
        layer.add_to(m)
        m.fit_bounds(_bounds(focus["geometry"]))
    elif bounds is None:
        m.fit_bounds(list(maps.REGION_BOUNDS))
    else:
        minx, miny, maxx, maxy = bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    extra = plan_legend(words, locked=bool(locked["features"]))
    return maps.finish(m, list(context), title=title, tools=tools, legend_extra=extra)


def _without_place(fc: dict[str, Any]) -> dict[str, Any]:
    """The features without their ``place`` record (names in every language): the map needs
    only the name in the page's."""
    return {
        **fc,
        "features": [
            {**f, "properties": {k: v for k, v in f["properties"].items() if k != "place"}}
            for f in fc["features"]
        ],
    }


def _bounds(geometry: dict[str, Any]) -> list[list[float]]:
    minx, miny, maxx, maxy = shapely.geometry.shape(geometry).bounds
    return [[miny, minx], [maxy, maxx]]
