"""Threats as published: index, dossier, timeline, feed queries and folium maps.

Every query here is for the public unless a name says otherwise: only published threats, only
published reports, and never a reporter's identity (the columns read here are the ones the
read-only role is granted). Areas are measured in the equal-area CRS (``geo.crs``), never in
degrees.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import mimetypes
import re
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Integer,
    LargeBinary,
    Select,
    String,
    Subquery,
    TableClause,
    and_,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    table,
)
from sqlalchemy.sql.selectable import NamedFromClause

import folium
import geopandas as gpd
import shapely
from folium.plugins import Draw
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo import protected_planet
from geo.crs import STORAGE_EPSG, area_ha
from geo.errors import NotFound
from geo.threats import STATUSES, footprint_length_km, status_as_of, timeline
from layers import maps
from layers.map_words import BASE_WORDS, same
from layers.public import published_threats
from layers.registry import get_layer
from layers.spec import LayerSpec
from layers.tables import GEOMETRY
from layers.tables import evidence_files as evidence_table
from layers.tables import places as places_table
from layers.tables import protected_areas as protected_areas_table
from layers.tables import species as species_table
from layers.tables import threat_reports as reports_table
from layers.tables import threat_status_changes as status_changes_table

#: Kok-Jailau, the demo threat: where maps open when there is nothing else to show.
DEFAULT_CENTRE = (43.14, 76.98)
STATUS_LABELS = {s: s.replace("_", " ") for s in STATUSES}
#: How threats and status changes made from published reports name their source.
REPORT_SOURCE = "Irbis threat report"


def _geom(wkb: bytes | memoryview) -> BaseGeometry:
    return shapely.from_wkb(bytes(wkb))


def _ha(geoms: list[BaseGeometry]) -> list[float]:
    if not geoms:
        return []
    return [float(a) for a in area_ha(gpd.GeoSeries(geoms, crs=STORAGE_EPSG))]


# ---------------------------------------------------------------------------------------------
# Tables (light Core table clauses: only the columns read here)
# ---------------------------------------------------------------------------------------------


def _dissolved_table(name: str, *extra: str) -> TableClause:
    """A table of polygons that an overlap dissolves by kind or species (ecosystems, habitat,
    ranges)."""
    return table(
        name,
        *(column(c, Integer) for c in extra),
        column("kind", String),
        column("method", String),
        column("source", String),
        column("geom", GEOMETRY),
    )


#: The columns of a threat read for the public (its geometry as WKB, ``wkb``).
THREAT_FIELDS = (
    "id",
    "name",
    "kind",
    "status",
    "proposed_on",
    "started_on",
    "ended_on",
    "description",
    "links",
    "properties",
    "source",
    "licence",
    "method",
    "created_at",
    "updated_at",
)


def _threat_columns(t: Subquery) -> list[ColumnElement[Any]]:
    return [*(t.c[c] for c in THREAT_FIELDS), _wkb(t.c.geom)]


def _wkb(geom: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.ST_AsBinary(geom, type_=LargeBinary).label("wkb")


def _geography(geom: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.geography(geom)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


def status_changes(conn: Connection, threat_ids: list[int] | None = None) -> pd.DataFrame:
    """Status changes of published threats (all, or of ``threat_ids``), oldest first."""
    c = status_changes_table
    t = published_threats("id", name="t")
    stmt = (
        select(c.c.threat_id, c.c.status, c.c.changed_on, c.c.note, c.c.source)
        .select_from(c.join(t, t.c.id == c.c.threat_id))
        .order_by(c.c.threat_id, c.c.changed_on, c.c.id)
    )
    if threat_ids is not None:
        stmt = stmt.where(c.c.threat_id.in_(list(threat_ids)))
    frame = pd.DataFrame([r._asdict() for r in conn.execute(stmt)])
    if frame.empty:
        return pd.DataFrame(columns=["threat_id", "status", "changed_on", "note", "source"])
    return frame


def threats_as_of(conn: Connection, on: dt.date) -> pd.DataFrame:
    """The status of each published threat on a date (see :func:`geo.threats.status_as_of`)."""
    return status_as_of(status_changes(conn), on)


def threat_index(conn: Connection, *, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Published threats with their footprint area and status (today's, or ``as_of``)."""
    t = published_threats(*THREAT_FIELDS, "geom", name="t")
    stmt = select(*_threat_columns(t)).order_by(t.c.name)
    rows = [r._asdict() for r in conn.execute(stmt)]
    areas = _ha([_geom(r["wkb"]) for r in rows])
    dated = threats_as_of(conn, as_of) if as_of else None
    out = []
    for row, area in zip(rows, areas, strict=True):
        row.pop("wkb")
        row["area_ha"] = area
        if dated is not None:
            hit = dated[dated["threat_id"] == row["id"]]
            row["status_as_of"] = str(hit["status"].iloc[0]) if not hit.empty else None
            row["live_as_of"] = bool(hit["live"].iloc[0]) if not hit.empty else False
        out.append(row)
    return out


def published_threat(conn: Connection, threat_id: int) -> dict[str, Any]:
    """One published threat with its geometry, or :class:`NotFound`."""
    t = published_threats(*THREAT_FIELDS, "geom", name="t")
    row = conn.execute(select(*_threat_columns(t)).where(t.c.id == threat_id)).first()
    if row is None:
        raise NotFound(f"there is no published threat {threat_id}")
    out = row._asdict()
    out["geom"] = _geom(out.pop("wkb"))
    return out


#: The footprint being measured, bound as WKB.
_FOOTPRINT = func.ST_GeomFromWKB(bindparam("wkb", type_=LargeBinary), 4326, type_=GEOMETRY)
_POLYGONS = ("POLYGON", "MULTIPOLYGON")
_POINTS = ("POINT", "MULTIPOINT")


def _hit(geom: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.ST_Intersects(geom, _FOOTPRINT)


def _clip(geom: ColumnElement[Any]) -> ColumnElement[Any]:
    """Features are clipped to the footprint in PostGIS first (large habitat and ecosystem
    polygons would be slow to dissolve whole); the clipped pieces are measured in geo.loss."""
    return func.ST_CollectionExtract(func.ST_Intersection(geom, _FOOTPRINT), 3)


def _geometry_out(geom: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.ST_AsEWKB(geom, type_=LargeBinary).label("geom")  # EWKB: with its SRID


def _provenance(x: NamedFromClause) -> list[ColumnElement[Any]]:
    return [
        func.min(x.c.method).label("method"),
        func.string_agg(x.c.source.distinct(), literal("; ")).label("source"),
    ]


def _protected_areas_overlap() -> Select[Any]:
    # Polygons clipped to the footprint, and points whose circle of their reported area may
    # reach it; geo.protected_planet then applies the Protected Planet rules (clipped_to).
    x = protected_areas_table.alias("x")
    kind = func.GeometryType(x.c.geom)
    reach = 1.01 * func.sqrt(x.c.reported_area_km2 * 1e6 / func.pi())
    points_near = and_(
        kind.in_(_POINTS),
        x.c.reported_area_km2 > 0,
        func.ST_DWithin(_geography(x.c.geom), _geography(_FOOTPRINT), reach),
    )
    shape = case((kind.in_(_POINTS), x.c.geom), else_=_clip(x.c.geom))
    return (
        select(
            cast(x.c.id, String).label("id"),
            x.c.name,
            x.c.designation,
            x.c.iucn_category,
            x.c.status,
            x.c.reported_area_km2,
            x.c.method,
            x.c.source,
            _geometry_out(shape),
        )
        .where(or_(and_(kind.in_(_POLYGONS), _hit(x.c.geom)), points_near))
        .order_by(x.c.name)
    )


def _ecosystems_overlap() -> Select[Any]:
    # The latest ecosystems run only: older runs (and other resolutions) overlap it.
    x = _dissolved_table("ecosystems_latest").alias("x")
    return (
        select(
            x.c.kind.label("id"),
            x.c.kind,
            *_provenance(x),
            _geometry_out(func.ST_Union(_clip(x.c.geom))),
        )
        .where(_hit(x.c.geom))
        .group_by(x.c.kind)
        .order_by(x.c.kind)
    )


def _species_overlap(table_name: str, *, latest_run: bool) -> Select[Any]:
    """Habitat or ranges dissolved by species (habitat from each species' latest run)."""
    extra = ("species_id", "analysis_run_id") if latest_run else ("species_id",)
    x = _dissolved_table(table_name, *extra).alias("x")
    s = species_table.alias("s")
    stmt = (
        select(
            s.c.scientific_name.label("id"),
            s.c.scientific_name,
            s.c.common_name_en,
            s.c.common_name_ru,
            s.c.common_name_kk,
            s.c.iucn_category,
            *_provenance(x),
            _geometry_out(func.ST_Union(_clip(x.c.geom))),
        )
        .select_from(x.join(s, s.c.id == x.c.species_id))
        .where(_hit(x.c.geom))
        .group_by(
            s.c.scientific_name,
            s.c.common_name_en,
            s.c.common_name_ru,
            s.c.common_name_kk,
            s.c.iucn_category,
        )
        .order_by(s.c.scientific_name)
    )
    if latest_run:
        h = _dissolved_table(table_name, *extra).alias("h")
        latest = (
            select(func.max(h.c.analysis_run_id))
            .where(h.c.species_id == x.c.species_id)
            .scalar_subquery()
        )
        stmt = stmt.where(x.c.analysis_run_id == latest)
    return stmt


#: What a footprint is measured against: one query per layer (on its table), dissolved to the
#: rows shown. Each returns ``id`` (a label), descriptive columns, and ``geom``.
OVERLAP_LAYERS: dict[str, tuple[str, Callable[[], Select[Any]]]] = {
    "protected_areas": ("protected_areas", _protected_areas_overlap),
    "ecosystems": ("ecosystems_latest", _ecosystems_overlap),
    "habitat": ("habitat", partial(_species_overlap, "habitat", latest_run=True)),
    "ranges": ("species_ranges", partial(_species_overlap, "species_ranges", latest_run=False)),
}


def _layer(
    conn: Connection, table_name: str, stmt: Select[Any], footprint: BaseGeometry
) -> gpd.GeoDataFrame | None:
    exists = conn.execute(select(func.to_regclass(table_name).is_not(None))).scalar()
    if not exists:
        return None
    return gpd.read_postgis(stmt, conn, geom_col="geom", params={"wkb": shapely.to_wkb(footprint)})


def overlaps(conn: Connection, footprint: BaseGeometry) -> dict[str, Any]:
    """What a footprint takes: protected areas, ecosystems, modelled habitat, species ranges.

    The layers are read from PostGIS (ecosystems dissolved by kind, habitat and ranges by
    species, habitat from each species' latest analysis run) and measured with
    :func:`geo.loss.footprint_loss`, in the equal-area CRS. ``share`` is the fraction of the
    footprint. Points and lines have no area: their overlaps are empty.
    """
    from geo.loss import footprint_loss

    footprint_ha = _ha([footprint])[0]
    frames = {
        name: _layer(conn, table_name, query(), footprint)
        for name, (table_name, query) in OVERLAP_LAYERS.items()
    }
    pas = frames.get("protected_areas")
    if pas is not None and not pas.empty:
        frames["protected_areas"] = protected_planet.clipped_to(pas, footprint)
    threat = gpd.GeoDataFrame({"id": [0]}, geometry=[footprint], crs=STORAGE_EPSG)
    present = {k: v for k, v in frames.items() if v is not None and not v.empty}
    loss = footprint_loss(threat, present) if footprint_ha > 0 and present else None
    out: dict[str, Any] = {
        "footprint_ha": footprint_ha,
        "length_km": footprint_length_km(footprint),
        "geometry_type": footprint.geom_type,
    }
    for name in OVERLAP_LAYERS:
        frame = frames[name]
        rows: list[dict[str, Any]] = []
        if loss is not None and frame is not None and not frame.empty:
            hits = loss[loss["layer"] == name].set_index("feature_id")
            for rec in frame.drop(columns="geom").to_dict("records"):
                if rec["id"] in hits.index:
                    hit = hits.loc[[rec["id"]]]
                    rec["overlap_ha"] = float(hit["area_ha"].sum())
                    rec["share"] = float(hit["share_of_threat"].sum())
                    rec["piece"] = shapely.union_all(hit.geometry.to_numpy())
                    rows.append(rec)
        out[name] = rows
    out["available"] = {k: v is not None for k, v in frames.items()}
    return out


def public_reports(conn: Connection, threat_id: int) -> list[dict[str, Any]]:
    """Published reports about a threat, with their evidence; no reporter identity."""
    r = reports_table
    stmt = (
        select(
            r.c.id,
            r.c.title,
            r.c.kind,
            r.c.threat_status,
            r.c.status_on,
            r.c.observed_on,
            r.c.description,
            r.c.links,
            r.c.public_reporter,
            r.c.published_at,
        )
        .where(r.c.threat_id == threat_id, _published_report())
        .order_by(r.c.published_at, r.c.id)
    )
    reports = [row._asdict() for row in conn.execute(stmt)]
    if not reports:
        return []
    e = evidence_table
    files = conn.execute(
        select(
            e.c.id,
            e.c.report_id,
            e.c.media_type,
            e.c.caption,
            e.c.width,
            e.c.height,
            e.c.size_bytes,
            e.c.storage_path,
        )
        .where(e.c.report_id.in_([rep["id"] for rep in reports]))
        .order_by(e.c.id)
    )
    by_report: dict[int, list[dict[str, Any]]] = {rep["id"]: [] for rep in reports}
    for f in files:
        by_report[f.report_id].append(f._asdict())
    for rep in reports:
        rep["evidence"] = by_report[rep["id"]]
    return reports


def _published_report() -> ColumnElement[bool]:
    return reports_table.c.state == "published"


def status_periods(changes: pd.DataFrame, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Periods of one threat's statuses up to today, each with its share of the whole span
    (for a timeline bar)."""
    if changes.empty:
        return []
    today = today or dt.date.today()
    periods = timeline(changes[["threat_id", "status", "changed_on"]], until=today)
    periods = periods[periods["start"] <= today]
    total = max(int(periods["days"].sum()), 1)
    return [
        {
            "status": p["status"],
            "start": p["start"],
            "end": p["end"],
            "days": int(p["days"]),
            "share": int(p["days"]) / total,
        }
        for p in periods.to_dict("records")
    ]


def dossier(conn: Connection, threat_id: int) -> dict[str, Any]:
    """Everything the public dossier of a threat shows."""
    threat = published_threat(conn, threat_id)
    changes = status_changes(conn, [threat_id])
    reports = public_reports(conn, threat_id)
    sources: list[str] = [threat["source"]]
    # report-based status changes are credited under Evidence, their links under links
    sources += [s for s in changes.get("source", []) if s and not s.startswith(REPORT_SOURCE)]
    links = list(threat["links"] or [])
    for r in reports:
        links += list(r["links"] or [])
    return {
        "threat": threat,
        "overlaps": overlaps(conn, threat["geom"]),
        "timeline": changes.to_dict("records"),
        "periods": status_periods(changes),
        "reports": reports,
        "evidence": [ev for r in reports for ev in r["evidence"]],
        "sources": list(dict.fromkeys(sources)),
        "links": list(dict.fromkeys(links)),
        "facts": {k: v for k, v in (threat["properties"] or {}).items() if k != "reports"},
        # no forest layer is published yet: what the record's sources say about forest
        "forest": {k: v for k, v in (threat["properties"] or {}).items() if "forest" in k},
    }


def protected_area(conn: Connection, pa_id: int) -> dict[str, Any]:
    pa = protected_areas_table
    row = conn.execute(select(pa.c.id, pa.c.name).where(pa.c.id == pa_id)).first()
    if row is None:
        raise NotFound(f"there is no protected area {pa_id}")
    return row._asdict()


def feed_entries(
    conn: Connection, *, protected_area_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Published threats, newest first, optionally those touching one protected area.

    A threat's publication time is when it was first published: the first published report
    that created it, or the time the record was loaded.
    """
    t = published_threats(
        "id", "name", "kind", "status", "description", "updated_at", "method", "created_at",
        "geom", name="t",
    )  # fmt: skip
    r = reports_table
    first_report = (
        select(func.min(r.c.published_at))
        .where(r.c.threat_id == t.c.id, _published_report())
        .scalar_subquery()
    )
    published_at = func.coalesce(first_report, t.c.created_at).label("published_at")
    stmt = (
        select(
            t.c.id,
            t.c.name,
            t.c.kind,
            t.c.status,
            t.c.description,
            t.c.updated_at,
            t.c.method,
            published_at,
            _wkb(t.c.geom),
        )
        .order_by(published_at.desc(), t.c.id.desc())
        .limit(limit)
    )
    if protected_area_id is not None:
        p = protected_areas_table.alias("p")
        touching = exists().where(
            p.c.id == protected_area_id, func.ST_Intersects(p.c.geom, t.c.geom)
        )
        stmt = stmt.where(touching)
    rows = [row._asdict() for row in conn.execute(stmt)]
    areas = _ha([_geom(row["wkb"]) for row in rows])
    for row, area in zip(rows, areas, strict=True):
        row.pop("wkb")
        row["area_ha"] = area
    return rows


# ---------------------------------------------------------------------------------------------
# Maps
# ---------------------------------------------------------------------------------------------


def _features(rows: Any) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": r.g, "properties": {"name": r.label}} for r in rows]


def _simple(geom: ColumnElement[Any], tol: float) -> ColumnElement[Any]:
    return cast(func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(geom, tol), 5), JSON).label("g")


def _parks(tol: float) -> Select[Any]:
    pa = protected_areas_table
    label = (pa.c.name + " (" + pa.c.method + ")").label("label")
    return select(label, _simple(pa.c.geom, tol)).order_by(pa.c.id)


def map_context(
    conn: Connection, around: BaseGeometry | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Public layers drawn under a threat for orientation, as GeoJSON features by layer.

    Around a footprint: the protected areas within about 50 km. Without one (the drawing map):
    every protected area, every published threat and the largest towns.
    """
    if around is not None:
        near = func.ST_DWithin(
            _geography(protected_areas_table.c.geom),
            _geography(func.ST_GeomFromWKB(shapely.to_wkb(around), 4326)),
            50000,
        )
        parks = conn.execute(_parks(0.0005).where(near).limit(200))
        return {"Protected areas": _features(parks)}
    t = published_threats("id", "name", "geom", name="t")
    threats = select(t.c.name.label("label"), _simple(t.c.geom, 0.001)).order_by(t.c.id)
    pl = places_table
    places = (
        select(pl.c.name.label("label"), cast(func.ST_AsGeoJSON(pl.c.geom, 5), JSON).label("g"))
        .where(pl.c.name.is_not(None))
        .order_by(pl.c.population.desc().nulls_last())
        .limit(150)
    )
    return {
        "Protected areas": _features(conn.execute(_parks(0.001).limit(300))),
        "Published threats": _features(conn.execute(threats.limit(300))),
        "Places": _features(conn.execute(places)),
    }


def offline(m: folium.Map, vendor: str = "/vendor") -> folium.Map:
    """Point a folium map at the Leaflet served by Irbis (no CDN); drop what it doesn't use."""
    m.default_js = [("leaflet", f"{vendor}/leaflet/dist/leaflet.js")]
    m.default_css = [("leaflet_css", f"{vendor}/leaflet/dist/leaflet.css")]
    return m


#: What a site-scale map (a threat's page, a report's page, the report form) draws over the
#: relief to find one's way: registry layer and the zoom from which it is drawn (before it, it
#: would only clutter). Irbis has no road data: roads are not drawn.
SITE_CONTEXT: tuple[tuple[str, int], ...] = (
    ("glaciers", 6),
    ("lakes", 0),
    ("rivers", 5),
    ("districts", 7),
    ("places", 0),
    ("settlements", 9),
)


def site_context_layers() -> list[LayerSpec]:
    """The layers of :data:`SITE_CONTEXT`, each from its zoom (their tiles' version is the
    caller's to ask: ``api.ogc.version_tokens``)."""
    return [dataclasses.replace(get_layer(i), min_zoom=z) for i, z in SITE_CONTEXT]


def _base_map(
    bounds: tuple[float, float, float, float] | None,
    *,
    relief: bool,
    tools: maps.MapTools | None = None,
    versions: Mapping[str, str] | None = None,
) -> folium.Map:
    """With ``relief``: Irbis's shaded relief (the finest DEM at each place: GEBCO 15\" where
    it covers), its hillshade as the other base, and, with ``tools``, the rivers, lakes,
    glaciers, districts and settlements of :data:`SITE_CONTEXT` as vector tiles at
    ``versions``, with labels, scale and coordinate readout in the page's language. Without
    ``relief`` (exports) the map makes no request."""
    m = folium.Map(
        location=DEFAULT_CENTRE,
        zoom_start=11,
        tiles=None,
        control_scale=tools is None,  # the tools bring their own scale
        prefer_canvas=False,
        max_zoom=16,
    )
    if relief:
        tr = tools.tr if tools else same
        at = f"&v={tools.relief_version}" if tools and tools.relief_version else ""
        for url, word, show in (
            (maps.RELIEF_URL, "relief", True),
            (maps.HILLSHADE_URL, "hillshade", False),
        ):
            folium.TileLayer(
                tiles=url + at,
                name=tr(BASE_WORDS[word]),
                attr=maps.RELIEF_ATTRIBUTION,
                max_native_zoom=12,
                max_zoom=16,
                overlay=False,
                show=show,
            ).add_to(m)
    if relief and tools is not None:
        maps.IrbisAssets().add_to(m)
        for spec in site_context_layers():
            maps.VectorTileLayer(
                spec, show=True, version=(versions or {}).get(spec.id), tr=tools.tr
            ).add_to(m)
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        pad_x, pad_y = max((maxx - minx) * 0.6, 0.02), max((maxy - miny) * 0.6, 0.02)
        m.fit_bounds([[miny - pad_y, minx - pad_x], [maxy + pad_y, maxx + pad_x]])
    return m


def _finish(m: folium.Map, tools: maps.MapTools | None) -> None:
    """The map's words, labels, scale and readout (``tools``), then only local assets."""
    if tools is not None:
        maps.Tools(tools).add_to(m)
        maps.localise(m.get_root())


def overlap_overlays(
    o: Mapping[str, Any],
    *,
    words: Mapping[str, str] | None = None,
    name: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The pieces of the footprint in each ecosystem and species' habitat, as map layers.

    ``words`` gives the layers' words in the reader's language (``Ecosystem``, ``Modelled
    habitat``, ``ha``), ``name`` a row's name in it (a species' common name, an ecosystem);
    without them, English."""
    said = {"Ecosystem": "Ecosystem", "Modelled habitat": "Modelled habitat", "ha": "ha"}
    said.update(words or {})
    layers: dict[str, list[dict[str, Any]]] = {}
    for key, what in (("ecosystems", "Ecosystem"), ("habitat", "Modelled habitat")):
        for row in o.get(key, []):
            named = name(row) if name is not None else None
            label = next(
                (
                    v
                    for v in (
                        named,
                        row.get("common_name_en"),
                        row.get("scientific_name"),
                        row.get("kind"),
                    )
                    if isinstance(v, str) and v  # pandas gives NaN for a missing name
                ),
                "unnamed",
            )
            label = str(label).replace("_", " ")
            title = f"{said[what]}: {label} ({row['overlap_ha']:,.0f} {said['ha']})"
            layers[title] = [
                {
                    "type": "Feature",
                    "geometry": mapping(row["piece"]),
                    "properties": {"name": title},
                }
            ]
    return layers


def _context(
    m: folium.Map, context: Mapping[str, list[dict[str, Any]]], *, show: bool = True
) -> None:
    styles = {
        "Ecosystem": {"color": "#6d4c41", "weight": 1, "dashArray": "4", "fillOpacity": 0.35},
        "Modelled habitat": {"color": "#ef6c00", "weight": 1, "fillOpacity": 0.45},
        "Protected areas": {"color": "#2e7d32", "fillColor": "#66bb6a", "fillOpacity": 0.2},
        "Published threats": {"color": "#c62828", "fillColor": "#ef5350", "fillOpacity": 0.3},
        "Places": {"color": "#333", "fillColor": "#fff", "fillOpacity": 1, "weight": 2},
    }
    for name, raw in context.items():
        if not raw:
            continue
        # tooltips are HTML in Leaflet: names (some typed by reporters) are escaped here
        features = [
            {**f, "properties": {k: html.escape(str(v)) for k, v in f["properties"].items()}}
            for f in raw
        ]
        style = styles.get(name.split(":")[0], {"color": "#555", "weight": 1})
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=name,
            style_function=lambda _f, s=style: s,
            marker=folium.CircleMarker(radius=5),
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False)
            if all("name" in f["properties"] for f in features)
            else None,
            show=show,
        ).add_to(m)


def dossier_map(
    footprint: BaseGeometry,
    name: str,
    context: Mapping[str, list[dict[str, Any]]],
    *,
    overlays: Mapping[str, list[dict[str, Any]]] | None = None,
    relief: bool = False,
    vendor: str = "/vendor",
    tools: maps.MapTools | None = None,
    versions: Mapping[str, str] | None = None,
) -> folium.Map:
    """The dossier map: the footprint over the protected areas (and Irbis's relief if
    ``relief``; without it the map makes no request at all, for self-contained exports); with
    ``relief`` and ``tools``, the site's context too (:func:`_base_map`)."""
    m = offline(_base_map(footprint.bounds, relief=relief, tools=tools, versions=versions), vendor)
    _context(m, context)
    folium.GeoJson(
        {"type": "Feature", "geometry": mapping(footprint), "properties": {}},
        name=html.escape(name),
        style_function=lambda _f: {"color": "#c62828", "fillColor": "#ef5350", "fillOpacity": 0.5},
        marker=folium.CircleMarker(radius=7),
        tooltip=html.escape(name),
    ).add_to(m)
    _context(m, overlays or {}, show=False)
    folium.LayerControl(collapsed=True).add_to(m)
    _finish(m, tools if relief else None)
    return m


def draw_map(
    context: Mapping[str, list[dict[str, Any]]],
    *,
    relief: bool = True,
    vendor: str = "/vendor",
    tools: maps.MapTools | None = None,
    versions: Mapping[str, str] | None = None,
) -> tuple[folium.Map, str]:
    """A map to draw a threat on (folium's Draw plugin, served offline), with the site's
    context when ``tools`` are given (:func:`_base_map`).

    Returns the map and the JavaScript name of the feature group that holds what is drawn.
    """
    m = offline(_base_map(None, relief=relief, tools=tools, versions=versions), vendor)
    _context(m, context)
    drawn = folium.FeatureGroup(name="Drawn threat").add_to(m)
    draw = Draw(
        export=False,
        feature_group=drawn,
        position="topleft",
        show_geometry_on_click=False,
        draw_options={"circle": False, "circlemarker": False, "rectangle": True},
        edit_options={"edit": True, "remove": True},
    )
    draw.default_js = [("leaflet_draw_js", f"{vendor}/leaflet-draw/dist/leaflet.draw.js")]
    draw.default_css = [("leaflet_draw_css", f"{vendor}/leaflet-draw/dist/leaflet.draw.css")]
    draw.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    _finish(m, tools if relief else None)
    return m, drawn.get_name()


def map_parts(m: folium.Map) -> dict[str, str]:
    """The parts of a folium map to put in a page: ``header``, ``html``, ``script``, ``name``."""
    from branca.element import Figure

    root = m.get_root()
    assert isinstance(root, Figure)
    root.render()
    return {
        "header": root.header.render(),
        "html": root.html.render(),
        "script": root.script.render(),
        "name": m.get_name(),
    }


# ---------------------------------------------------------------------------------------------
# Self-contained HTML
# ---------------------------------------------------------------------------------------------

_SCRIPT_SRC = re.compile(r'<script[^>]*\bsrc="([^"]+)"[^>]*>\s*</script>', re.I)
_LINK_CSS = re.compile(r'<link[^>]*\bhref="([^"]+)"[^>]*>', re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def _data_uri(path: Path) -> str:
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{media};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _local(url: str, roots: Mapping[str, Path]) -> Path | None:
    for prefix, root in roots.items():
        if url.startswith(prefix):
            path = (root / url[len(prefix) :].split("?")[0]).resolve()
            if root.resolve() in path.parents and path.is_file():
                return path
    return None


def _inline_css(css: str, base: Path) -> str:
    def repl(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith(("data:", "#")):
            return m.group(0)
        target = (base / ref.split("?")[0].split("#")[0]).resolve()
        if target.is_file():
            return f"url({_data_uri(target)})"
        return "url()"

    return _CSS_URL.sub(repl, css)


def inline_assets(html: str, roots: Mapping[str, Path]) -> str:
    """Make a page self-contained: scripts, stylesheets and their images inlined.

    Parameters
    ----------
    html : str
        The page.
    roots : mapping
        URL prefix -> folder it is served from (e.g. ``{"/vendor/": node_modules}``).

    Raises
    ------
    NotFound
        If a script or stylesheet of the page is not a local file (it would be fetched).
    """

    def script(m: re.Match[str]) -> str:
        path = _local(m.group(1), roots)
        if path is None:
            raise NotFound(f"the page needs {m.group(1)}, which is not a local asset")
        body = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>{body}</script>"

    def link(m: re.Match[str]) -> str:
        tag = m.group(0)
        if "stylesheet" not in tag:
            return ""
        path = _local(m.group(1), roots)
        if path is None:
            raise NotFound(f"the page needs {m.group(1)}, which is not a local asset")
        return f"<style>{_inline_css(path.read_text(encoding='utf-8'), path.parent)}</style>"

    return _LINK_CSS.sub(link, _SCRIPT_SRC.sub(script, html))
