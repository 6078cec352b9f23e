"""Threats as published: index, dossier, timeline, feed queries and folium maps.

Every query here is for the public unless a name says otherwise: only published threats, only
published reports, and never a reporter's identity (the columns read here are the ones the
read-only role is granted). Areas are measured in the equal-area CRS (``geo.crs``), never in
degrees.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

import folium
import geopandas as gpd
import shapely
from folium.plugins import Draw
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo import protected_planet
from geo.crs import REGION_BOUNDS, STORAGE_EPSG, area_ha
from geo.errors import NotFound
from geo.threats import LIVE_STATUSES, STATUSES, footprint_length_km, status_as_of, timeline

#: Kok-Jailau, the demo threat: where maps open when there is nothing else to show.
DEFAULT_CENTRE = (43.14, 76.98)
STATUS_LABELS = {s: s.replace("_", " ") for s in STATUSES}
#: How threats and status changes made from published reports name their source.
REPORT_SOURCE = "Irbis threat report"

_THREAT_COLUMNS = (
    "t.id, t.name, t.kind, t.status, t.proposed_on, t.started_on, t.ended_on, t.description, "
    "t.links, t.properties, t.source, t.licence, t.method, t.created_at, t.updated_at, "
    "ST_AsBinary(t.geom) AS wkb"
)


def _geom(wkb: bytes | memoryview) -> BaseGeometry:
    return shapely.from_wkb(bytes(wkb))


def _ha(geoms: list[BaseGeometry]) -> list[float]:
    if not geoms:
        return []
    return [float(a) for a in area_ha(gpd.GeoSeries(geoms, crs=STORAGE_EPSG))]


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


def status_changes(conn: Connection, threat_ids: list[int] | None = None) -> pd.DataFrame:
    """Status changes of published threats (all, or of ``threat_ids``), oldest first."""
    sql = (
        "SELECT c.threat_id, c.status, c.changed_on, c.note, c.source "
        "FROM threat_status_changes c JOIN threats t ON t.id = c.threat_id "
        "WHERE t.published"
    )
    params: dict[str, Any] = {}
    if threat_ids is not None:
        sql += " AND c.threat_id = ANY(:ids)"
        params["ids"] = list(threat_ids)
    rows = conn.execute(text(sql + " ORDER BY c.threat_id, c.changed_on, c.id"), params)
    frame = pd.DataFrame([r._asdict() for r in rows])
    if frame.empty:
        return pd.DataFrame(columns=["threat_id", "status", "changed_on", "note", "source"])
    return frame


def threats_as_of(conn: Connection, on: dt.date) -> pd.DataFrame:
    """The status of each published threat on a date (see :func:`geo.threats.status_as_of`)."""
    return status_as_of(status_changes(conn), on)


def threat_index(conn: Connection, *, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Published threats with their footprint area and status (today's, or ``as_of``)."""
    rows = [
        r._asdict()
        for r in conn.execute(
            text(f"SELECT {_THREAT_COLUMNS} FROM threats t WHERE t.published ORDER BY t.name")
        )
    ]
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
    row = conn.execute(
        text(f"SELECT {_THREAT_COLUMNS} FROM threats t WHERE t.id = :id AND t.published"),
        {"id": threat_id},
    ).first()
    if row is None:
        raise NotFound(f"there is no published threat {threat_id}")
    out = row._asdict()
    out["geom"] = _geom(out.pop("wkb"))
    return out


_HIT = "ST_Intersects(x.geom, ST_GeomFromWKB(:wkb, 4326))"
#: Features are clipped to the footprint in PostGIS first (large habitat and ecosystem
#: polygons would be slow to dissolve whole); the clipped pieces are measured in geo.loss.
_CLIP = "ST_CollectionExtract(ST_Intersection(x.geom, ST_GeomFromWKB(:wkb, 4326)), 3)"

#: What a footprint is measured against: one query per layer, dissolved to the rows shown.
#: Each returns ``id`` (a label), descriptive columns, and ``geom``.
OVERLAP_LAYERS: dict[str, str] = {
    # Polygons clipped to the footprint, and points whose circle of their reported area may
    # reach it; geo.protected_planet then applies the Protected Planet rules (clipped_to).
    "protected_areas": (
        "SELECT x.id::text AS id, x.name, x.designation, x.iucn_category, x.status, "
        "x.reported_area_km2, x.method, x.source, "
        f"CASE WHEN GeometryType(x.geom) IN ('POINT', 'MULTIPOINT') THEN x.geom ELSE {_CLIP} "
        "END AS geom FROM protected_areas x WHERE "
        f"(GeometryType(x.geom) IN ('POLYGON', 'MULTIPOLYGON') AND {_HIT}) OR "
        "(GeometryType(x.geom) IN ('POINT', 'MULTIPOINT') AND x.reported_area_km2 > 0 AND "
        "ST_DWithin(x.geom::geography, ST_GeomFromWKB(:wkb, 4326)::geography, "
        "1.01 * sqrt(x.reported_area_km2 * 1e6 / pi()))) ORDER BY x.name"
    ),
    "ecosystems": (
        "SELECT x.kind AS id, x.kind, min(x.method) AS method, "
        f"string_agg(DISTINCT x.source, '; ') AS source, ST_Union({_CLIP}) AS geom "
        # The latest ecosystems run only: older runs (and other resolutions) overlap it.
        f"FROM ecosystems_latest x WHERE {_HIT} GROUP BY x.kind ORDER BY x.kind"
    ),
    "habitat": (
        "SELECT s.scientific_name AS id, s.scientific_name, s.common_name_en, s.iucn_category, "
        "min(x.method) AS method, string_agg(DISTINCT x.source, '; ') AS source, "
        f"ST_Union({_CLIP}) AS geom FROM habitat x JOIN species s ON s.id = x.species_id "
        f"WHERE {_HIT} AND x.analysis_run_id = "
        "(SELECT max(h.analysis_run_id) FROM habitat h WHERE h.species_id = x.species_id) "
        "GROUP BY s.scientific_name, s.common_name_en, s.iucn_category ORDER BY 1"
    ),
    "ranges": (
        "SELECT s.scientific_name AS id, s.scientific_name, s.common_name_en, s.iucn_category, "
        "min(x.method) AS method, string_agg(DISTINCT x.source, '; ') AS source, "
        f"ST_Union({_CLIP}) AS geom FROM species_ranges x JOIN species s ON s.id = x.species_id "
        f"WHERE {_HIT} GROUP BY s.scientific_name, s.common_name_en, s.iucn_category ORDER BY 1"
    ),
}


def _layer(conn: Connection, sql: str, footprint: BaseGeometry) -> gpd.GeoDataFrame | None:
    exists = conn.execute(
        text("SELECT to_regclass(:t) IS NOT NULL"),
        {"t": sql.split(" FROM ")[1].split()[0]},
    ).scalar()
    if not exists:
        return None
    return gpd.read_postgis(
        text(sql), conn, geom_col="geom", params={"wkb": shapely.to_wkb(footprint)}
    )


def overlaps(conn: Connection, footprint: BaseGeometry) -> dict[str, Any]:
    """What a footprint takes: protected areas, ecosystems, modelled habitat, species ranges.

    The layers are read from PostGIS (ecosystems dissolved by kind, habitat and ranges by
    species, habitat from each species' latest analysis run) and measured with
    :func:`geo.loss.footprint_loss`, in the equal-area CRS. ``share`` is the fraction of the
    footprint. Points and lines have no area: their overlaps are empty.
    """
    from geo.loss import footprint_loss

    footprint_ha = _ha([footprint])[0]
    frames = {name: _layer(conn, sql, footprint) for name, sql in OVERLAP_LAYERS.items()}
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
    reports = [
        r._asdict()
        for r in conn.execute(
            text(
                "SELECT r.id, r.title, r.kind, r.threat_status, r.status_on, r.observed_on, "
                "r.description, r.links, r.public_reporter, r.published_at "
                "FROM threat_reports r WHERE r.threat_id = :id AND r.state = 'published' "
                "ORDER BY r.published_at, r.id"
            ),
            {"id": threat_id},
        )
    ]
    if not reports:
        return []
    files = conn.execute(
        text(
            "SELECT e.id, e.report_id, e.media_type, e.caption, e.width, e.height, "
            "e.size_bytes, e.storage_path FROM evidence_files e "
            "WHERE e.report_id = ANY(:ids) ORDER BY e.id"
        ),
        {"ids": [r["id"] for r in reports]},
    )
    by_report: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in reports}
    for f in files:
        by_report[f.report_id].append(f._asdict())
    for r in reports:
        r["evidence"] = by_report[r["id"]]
    return reports


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
    row = conn.execute(
        text("SELECT id, name FROM protected_areas WHERE id = :id"), {"id": pa_id}
    ).first()
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
    where = "t.published"
    params: dict[str, Any] = {"limit": limit}
    if protected_area_id is not None:
        where += (
            " AND EXISTS (SELECT 1 FROM protected_areas p WHERE p.id = :pa "
            "AND ST_Intersects(p.geom, t.geom))"
        )
        params["pa"] = protected_area_id
    sql = (
        "SELECT t.id, t.name, t.kind, t.status, t.description, t.updated_at, t.method, "
        "COALESCE((SELECT min(r.published_at) FROM threat_reports r "
        "WHERE r.threat_id = t.id AND r.state = 'published'), t.created_at) AS published_at, "
        "ST_AsBinary(t.geom) AS wkb "
        f"FROM threats t WHERE {where} ORDER BY published_at DESC, t.id DESC LIMIT :limit"
    )
    rows = [r._asdict() for r in conn.execute(text(sql), params)]
    areas = _ha([_geom(r["wkb"]) for r in rows])
    for row, area in zip(rows, areas, strict=True):
        row.pop("wkb")
        row["area_ha"] = area
    return rows


# ---------------------------------------------------------------------------------------------
# Maps
# ---------------------------------------------------------------------------------------------


def _features(rows: Any) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": r.g, "properties": {"name": r.label}} for r in rows]


def map_context(
    conn: Connection, around: BaseGeometry | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Public layers drawn under a threat for orientation, as GeoJSON features by layer.

    Around a footprint: the protected areas within about 50 km. Without one (the drawing map):
    every protected area, every published threat and the largest towns.
    """
    simple = "ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, {tol}), 5)::json AS g"
    label = "name || ' (' || method || ')' AS label"
    if around is not None:
        parks = conn.execute(
            text(
                f"SELECT {label}, {simple.format(tol=0.0005)} FROM protected_areas "
                "WHERE ST_DWithin(geom::geography, ST_GeomFromWKB(:wkb, 4326)::geography, 50000) "
                "ORDER BY id LIMIT 200"
            ),
            {"wkb": shapely.to_wkb(around)},
        )
        return {"Protected areas": _features(parks)}
    parks = conn.execute(
        text(
            f"SELECT {label}, {simple.format(tol=0.001)} FROM protected_areas ORDER BY id LIMIT 300"
        )
    )
    threats = conn.execute(
        text(
            f"SELECT name AS label, {simple.format(tol=0.001)} FROM threats WHERE published "
            "ORDER BY id LIMIT 300"
        )
    )
    places = conn.execute(
        text(
            "SELECT name AS label, ST_AsGeoJSON(geom, 5)::json AS g FROM places "
            "WHERE name IS NOT NULL ORDER BY population DESC NULLS LAST LIMIT 150"
        )
    )
    return {
        "Protected areas": _features(parks),
        "Published threats": _features(threats),
        "Places": _features(places),
    }


def offline(m: folium.Map, vendor: str = "/vendor") -> folium.Map:
    """Point a folium map at the Leaflet served by Irbis (no CDN); drop what it doesn't use."""
    m.default_js = [("leaflet", f"{vendor}/leaflet/dist/leaflet.js")]
    m.default_css = [("leaflet_css", f"{vendor}/leaflet/dist/leaflet.css")]
    return m


def _base_map(bounds: tuple[float, float, float, float] | None, *, relief: bool) -> folium.Map:
    m = folium.Map(
        location=DEFAULT_CENTRE,
        zoom_start=11,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        max_zoom=16,
    )
    if relief:  # Irbis's own shaded relief; exports go without (they make no requests)
        from layers.maps import RELIEF_ATTRIBUTION, RELIEF_URL

        folium.TileLayer(
            tiles=RELIEF_URL,
            name="Shaded relief",
            attr=RELIEF_ATTRIBUTION,
            max_native_zoom=12,
            max_zoom=16,
            overlay=False,
        ).add_to(m)
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        pad_x, pad_y = max((maxx - minx) * 0.6, 0.02), max((maxy - miny) * 0.6, 0.02)
        m.fit_bounds([[miny - pad_y, minx - pad_x], [maxy + pad_y, maxx + pad_x]])
    return m


def overlap_overlays(o: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The pieces of the footprint in each ecosystem and species' habitat, as map layers."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for key, what in (("ecosystems", "Ecosystem"), ("habitat", "Modelled habitat")):
        for row in o.get(key, []):
            label = next(
                (
                    v
                    for v in (
                        row.get("common_name_en"),
                        row.get("scientific_name"),
                        row.get("kind"),
                    )
                    if isinstance(v, str) and v  # pandas gives NaN for a missing name
                ),
                "unnamed",
            )
            title = f"{what}: {str(label).replace('_', ' ')} ({row['overlap_ha']:,.0f} ha)"
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
) -> folium.Map:
    """The dossier map: the footprint over the protected areas (and Irbis's relief if
    ``relief``; without it the map makes no request at all, for self-contained exports)."""
    m = offline(_base_map(footprint.bounds, relief=relief), vendor)
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
    return m


def draw_map(
    context: Mapping[str, list[dict[str, Any]]], *, relief: bool = True, vendor: str = "/vendor"
) -> tuple[folium.Map, str]:
    """A map to draw a threat on (folium's Draw plugin, served offline).

    Returns the map and the JavaScript name of the feature group that holds what is drawn.
    """
    m = offline(_base_map(None, relief=relief), vendor)
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


def region_bounds() -> tuple[float, float, float, float]:
    return REGION_BOUNDS


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


def is_live(status: str) -> bool:
    return status in LIVE_STATUSES
