"""Maps for people, built with folium: the atlas, a map per layer, case pages.

Every page works with no internet: folium's CDN links for Leaflet and its plugins are
re-pointed to ``/vendor/...`` (installed from npm by ``scripts/assets.sh``), and the basemap
is made from Irbis's own data (relief from the registered DEMs, countries, lakes, rivers and
places as vector tiles). Layers come from the registry as vector tiles; clicking a feature
fetches it from OGC API Features, so popups obey the same privacy rules as every other output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from branca.element import Element, MacroElement
from sqlalchemy import Connection, exists, literal, select

import folium
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from geo.crs import REGION_BOUNDS as _REGION
from layers.dataset_tiles import drawing_order
from layers.map_words import BASE_WORDS, Translate, _l, js_texts, same
from layers.rastertiles import ELEVATION_STOPS
from layers.spec import LayerSpec
from layers.sql import LayerSQL
from layers.styles import legend, legend_label

VENDOR = "/vendor"
#: Local copies of every asset folium (and the plugins used here) would load from a CDN.
ASSETS: dict[str, str] = {
    "leaflet": f"{VENDOR}/leaflet/dist/leaflet.js",
    "leaflet_css": f"{VENDOR}/leaflet/dist/leaflet.css",
    "jquery": f"{VENDOR}/jquery/dist/jquery.min.js",
    "bootstrap": f"{VENDOR}/bootstrap/dist/js/bootstrap.bundle.min.js",
    "bootstrap_css": f"{VENDOR}/bootstrap/dist/css/bootstrap.min.css",
    "awesome_markers": f"{VENDOR}/leaflet.awesome-markers/dist/leaflet.awesome-markers.js",
    "awesome_markers_css": f"{VENDOR}/leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    "awesome_markers_font_css": f"{VENDOR}/@fortawesome/fontawesome-free/css/all.min.css",
    "vectorGrid": f"{VENDOR}/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js",
    "leaflet_draw_js": f"{VENDOR}/leaflet-draw/dist/leaflet.draw.js",
    "leaflet_draw_css": f"{VENDOR}/leaflet-draw/dist/leaflet.draw.css",
    "irbis_map": "/static/irbis-map.js",
}
#: folium assets the pages do not need (Bootstrap 3 glyphs, a rotation helper on GitHub).
DROPPED = {"glyphicons_css", "awesome_rotate_css", "bootstrap", "bootstrap_css", "jquery"}

_W, _S, _E, _N = _REGION
#: The region as folium wants it: (south, west), (north, east), from geo.crs.REGION_BOUNDS.
REGION_BOUNDS = ((_S, _W), (_N, _E))
RELIEF_URL = "/rasters/relief/tiles/WebMercatorQuad/{z}/{y}/{x}.png?style=shaded"
DATASET_TILES = "/tiles/WebMercatorQuad/{z}/{y}/{x}"
HILLSHADE_URL = "/rasters/relief/tiles/WebMercatorQuad/{z}/{y}/{x}.png?style=hillshade"
RELIEF_ATTRIBUTION = "Relief: GEBCO 2023 Grid; Mapzen terrain (SRTM, GMTED2010, ETOPO1) via pvlib"
DATA_ATTRIBUTION = "Natural Earth (public domain) · Irbis"


def localise(root: Any) -> None:
    """Point every JS/CSS asset of ``root`` and its children at files Irbis serves.

    Raises
    ------
    ValueError
        If an element needs an asset that has no local copy (so a page can never silently
        depend on a CDN).
    """
    stack = [root]
    while stack:
        el = stack.pop()
        for attr in ("default_js", "default_css"):
            items = getattr(el, attr, None)
            if not items:
                continue
            local = []
            for name, url in items:
                if name in DROPPED:
                    continue
                if name in ASSETS:
                    local.append((name, ASSETS[name]))
                elif url.startswith("/"):
                    local.append((name, url))
                else:
                    raise ValueError(f"no local copy of the map asset {name!r} ({url})")
            setattr(el, attr, local)
        stack.extend(getattr(el, "_children", {}).values())


class IrbisAssets(JSCSSMixin, MacroElement):
    """Loads the Irbis map helpers (styles, popups, legends)."""

    default_js = [("irbis_map", ASSETS["irbis_map"])]
    _template = Template("")


@dataclass(frozen=True)
class MapTools:
    """What a map page adds to its map: the words of the map scripts in the page's language
    (``tr``, ``lang``), place labels (``/labels``), the name search box (``/search``), and on
    every map the metric scale and the coordinate readout."""

    tr: Translate = same
    lang: str = "en"
    labels: bool = True
    search: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: The rasters' data version token: the relief's tile URLs carry it (``&v=``, immutable).
    relief_version: str | None = None

    def config(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "texts": js_texts(self.tr),
            "labels": "/labels" if self.labels else None,
            "search": "/search" if self.search else None,
            **self.extra,
        }


class Tools(MacroElement):
    """The map's words, scale, coordinate readout, labels and search (``Irbis.tools``); added
    before the legend so that it speaks the page's language too."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        Irbis.tools({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {%- endmacro %}
        """
    )

    def __init__(self, tools: MapTools) -> None:
        super().__init__()
        self._name = "Tools"
        self.config = tools.config()


class VectorTileLayer(JSCSSMixin, Layer):
    """A registered layer drawn from its OGC API vector tiles, with popups on click."""

    default_js = [("vectorGrid", ASSETS["vectorGrid"])]
    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = L.vectorGrid.protobuf({{ this.url|tojson }}, {
            vectorTileLayerStyles: { {{ this.layer.id|tojson }}: Irbis.style({{ this.layer|tojson }}) },
            interactive: true,
            maxNativeZoom: {{ this.max_native_zoom }},
            maxZoom: 18,
            minZoom: {{ this.min_zoom }},
            attribution: {{ this.attribution|tojson }},
            getFeatureId: function (f) { return f.properties.id; }
        });
        {{ this.get_name() }}.irbisLayer = {{ this.layer.id|tojson }};
        Irbis.bindPopup({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.layer|tojson }});
        {%- endmacro %}
        """
    )

    def __init__(
        self,
        spec: LayerSpec,
        *,
        show: bool = True,
        max_native_zoom: int = 14,
        version: str | None = None,
        tr: Translate = same,
    ) -> None:
        super().__init__(name=tr(spec.title), overlay=True, control=True, show=show)
        self._name = "VectorTileLayer"
        self.url = f"/collections/{spec.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
        if version:  # the layer's data version token: its tiles may be cached for good
            self.url += f"?v={version}"
        self.layer = layer_js(spec, tr)
        self.min_zoom = spec.min_zoom
        self.max_native_zoom = min(spec.max_zoom, max_native_zoom)
        self.attribution = DATA_ATTRIBUTION


class FilteredFeatures(Layer):
    """The features of a layer that match a CQL2 filter, fetched from OGC API Features page
    after page (the map of a filtered feature table), with the layer's style and popups."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = Irbis.filtered({{ this._parent.get_name() }}, {{ this.url|tojson }},
            {{ this.layer|tojson }});
        {%- endmacro %}
        """
    )

    #: features asked for in one page
    PAGE = 1000

    def __init__(
        self, spec: LayerSpec, cql: str, *, lang: str | None = None, tr: Translate = same
    ) -> None:
        super().__init__(name=tr(spec.title), overlay=True, control=True, show=True)
        self._name = "FilteredFeatures"
        query = {"f": "json", "limit": str(self.PAGE), "filter": cql}
        if lang:
            query["filter-lang"] = lang
        self.url = f"/collections/{spec.id}/items?{urlencode(query)}"
        self.layer = layer_js(spec, tr)


class DatasetGrid(JSCSSMixin, MacroElement):
    """Every given layer from the dataset tileset: one vector tile per tile position, one MVT
    layer per collection (see :mod:`layers.dataset_tiles`), with popups on click (points
    included: the tiles put them last, on top). Each layer's switch is a :class:`LayerSwitch`."""

    default_js = [("vectorGrid", ASSETS["vectorGrid"])]
    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = Irbis.dataset({{ this._parent.get_name() }}, {{ this.url|tojson }},
            {{ this.layers|tojson }}, {
                maxNativeZoom: {{ this.max_native_zoom }},
                minZoom: {{ this.min_zoom }},
                attribution: {{ this.attribution|tojson }}
            });
        {%- endmacro %}
        """
    )

    def __init__(
        self,
        specs: Sequence[LayerSpec],
        *,
        version: str | None = None,
        max_native_zoom: int = 14,
        tr: Translate = same,
    ) -> None:
        super().__init__()
        self._name = "DatasetGrid"
        ordered = drawing_order(specs)
        self.url = DATASET_TILES + (f"?v={version}" if version else "")
        self.layers = [layer_js(s, tr) for s in ordered]
        self.min_zoom = min((s.min_zoom for s in ordered), default=0)
        self.max_native_zoom = min(max((s.max_zoom for s in ordered), default=14), max_native_zoom)
        self.attribution = DATA_ATTRIBUTION


class LayerSwitch(Layer):
    """A collection of a :class:`DatasetGrid` in the layer switcher (on: its features are in
    the grid's tiles; off: they are not asked for)."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = {{ this.grid.get_name() }}.irbisToggles[{{ this.layer_id|tojson }}];
        {%- endmacro %}
        """
    )

    def __init__(
        self, grid: DatasetGrid, spec: LayerSpec, *, show: bool, tr: Translate = same
    ) -> None:
        super().__init__(name=tr(spec.title), overlay=True, control=True, show=show)
        self._name = "LayerSwitch"
        self.grid = grid
        self.layer_id = spec.id


class Legend(MacroElement):
    """A legend control (bottom right) with a swatch per layer or category."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        Irbis.legend({{ this._parent.get_name() }}, {{ this.items|tojson }}, {{ this.title|tojson }});
        {%- endmacro %}
        """
    )

    def __init__(self, items: list[dict[str, Any]], title: str = "Legend") -> None:
        super().__init__()
        self._name = "Legend"
        self.items = items
        self.title = title


def layer_js(spec: LayerSpec, tr: Translate = same) -> dict[str, Any]:
    """What the browser needs to style and describe a layer (its words through ``tr``)."""
    s = spec.style
    return {
        "id": spec.id,
        "title": tr(spec.title),
        "label": spec.label_column,
        "colour": s.colour,
        "fill": s.fill_colour,
        "fillOpacity": s.fill_opacity,
        "weight": s.weight,
        "radius": s.radius,
        "by": s.by,
        "categories": {i.label: i.colour for i in s.categories},
        "labels": {c.name: tr(c.label) for c in spec.columns},
    }


def _kind(spec: LayerSpec) -> str:
    if spec.geometry_type in ("Point", "MultiPoint"):
        return "point"
    if spec.geometry_type in ("LineString", "MultiLineString"):
        return "line"
    return "area"


def readable(value: str) -> str:
    """A category value as words: ``arid_lowland`` -> "Arid lowland" (names with capitals or
    spaces, such as species, are kept)."""
    if value.islower() and " " not in value:
        return value.replace("_", " ").capitalize()
    return value


def empty_layers(conn: Connection, specs: Iterable[LayerSpec]) -> set[str]:
    """Ids of the layers with no feature the public sees (they get no legend entry)."""
    out = set()
    for spec in specs:
        view = LayerSQL(spec, privileged=False)
        rows = select(literal(1)).select_from(view.from_clause()).where(*view.where_public())
        if not conn.execute(select(exists(rows))).scalar():
            out.add(spec.id)
    return out


def legend_items(
    specs: Iterable[LayerSpec],
    *,
    examples: set[str] | None = None,
    empty: set[str] | None = None,
    tr: Translate = same,
) -> list[dict[str, Any]]:
    """Legend rows: one per layer, or a titled group of its categories, in words (species by
    common name with the scientific one), translated by ``tr``; layers in ``empty`` have
    none."""
    out = []
    for spec in specs:
        if spec.id in (empty or set()):
            continue
        categorised = bool(spec.style.categories)
        for item in legend(spec):
            out.append(
                {
                    "layer": spec.id,
                    "group": tr(spec.title) if categorised else None,
                    "label": tr(readable(legend_label(item.label)))
                    if categorised
                    else tr(spec.title),
                    "colour": item.colour,
                    "stroke": spec.style.colour,
                    "kind": _kind(spec),
                    "example": spec.id in (examples or set()),
                }
            )
    return out


#: The relief's legend row's words.
ELEVATION_WORDS = _l("Elevation (m)")


def relief_legend(tr: Translate = same) -> dict[str, Any]:
    """The shaded relief's legend row: its hypsometric tints by elevation in metres (shown
    while the relief is the base layer)."""
    stops = [(v, "#{:02x}{:02x}{:02x}".format(*rgb)) for v, rgb in ELEVATION_STOPS]
    return number_legend(
        tr(ELEVATION_WORDS), stops, group=tr(BASE_WORDS["relief"]), tiles="style=shaded"
    )


def number_legend(
    label: str,
    stops: Sequence[tuple[float, str]],
    *,
    unit: str = "",
    group: str | None = None,
    tiles: str | None = None,
) -> dict[str, Any]:
    """A legend row for a style driven by a number: a colour ramp through ``stops`` (value,
    colour) and the range it spans with its unit, in the label ("Elevation (m): -100–5500",
    "chosen in: 0–100 %"). ``tiles``: a part of a tile layer's URL (a base layer): the row is
    shown while that layer is on the map."""
    lo, hi = stops[0][0], stops[-1][0]
    span = f"{lo:g}–{hi:g}" + (f" {unit}" if unit else "")
    # each colour at its value's place along the ramp (CSS gradient stops)
    at = [round(100 * (v - lo) / ((hi - lo) or 1), 1) for v, _ in stops]
    return {
        "layer": None,
        "group": group,
        "label": f"{label}: {span}",
        "colour": stops[-1][1],
        "colours": [f"{c} {p:g}%" for (_, c), p in zip(stops, at, strict=True)],
        "stroke": None,
        "kind": "ramp",
        "example": False,
        "tiles": tiles,
    }


@dataclass(frozen=True)
class MapParts:
    """A rendered folium map split for embedding in an Irbis page."""

    header: str
    html: str
    script: str
    name: str


def base_map(
    *,
    location: Sequence[float] = (42.0, 68.0),
    zoom: int = 5,
    tr: Translate = same,
    relief_version: str | None = None,
) -> folium.Map:
    """A map with Irbis's own basemap: shaded relief (or plain) under the layers (their names
    through ``tr``); with ``relief_version`` (the rasters' version token) the relief tiles are
    asked at that version, so browsers keep them. The scale (metric) is added with the other
    tools by :func:`finish`."""
    at = f"&v={relief_version}" if relief_version else ""
    m = folium.Map(
        location=list(location),
        zoom_start=zoom,
        tiles=None,
        control_scale=False,
        prefer_canvas=False,
        width="100%",
        height="100%",
        min_zoom=3,
        max_zoom=16,
        zoom_snap=0.25,
    )
    folium.TileLayer(
        tiles=RELIEF_URL + at,
        name=tr(BASE_WORDS["relief"]),
        attr=RELIEF_ATTRIBUTION,
        overlay=False,
        control=True,
        max_native_zoom=12,
        max_zoom=16,
        min_zoom=0,
    ).add_to(m)
    folium.TileLayer(
        tiles=HILLSHADE_URL + at,
        name=tr(BASE_WORDS["hillshade"]),
        attr=RELIEF_ATTRIBUTION,
        overlay=False,
        control=True,
        max_native_zoom=12,
        max_zoom=16,
        show=False,
    ).add_to(m)
    IrbisAssets().add_to(m)
    return m


def finish(
    m: folium.Map,
    specs: list[LayerSpec],
    *,
    title: str,
    examples: set[str] | None = None,
    empty: set[str] | None = None,
    tools: MapTools | None = None,
    legend_extra: Sequence[dict[str, Any]] = (),
) -> MapParts:
    """Tools (words, scale, coordinates, labels, search: :class:`MapTools`), legend (no entry
    for the layers in ``empty``; the relief's elevations, then ``legend_extra``'s rows after
    the layers'), layer switcher, local assets; then render into parts."""
    tools = tools or MapTools()
    Tools(tools).add_to(m)
    items = legend_items(specs, examples=examples, empty=empty, tr=tools.tr)
    items += [*legend_extra, relief_legend(tools.tr)]
    Legend(items, title=tools.tr(title)).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localise(m.get_root())
    root: Any = m.get_root()  # a branca Figure
    root.render()
    return MapParts(
        header=root.header.render(),
        html=root.html.render(),
        script=root.script.render(),
        name=m.get_name(),
    )


def atlas(
    specs: Sequence[LayerSpec],
    *,
    examples: set[str] | None = None,
    dataset_version: str | None = None,
    empty: set[str] | None = None,
    tools: MapTools | None = None,
) -> MapParts:
    """Every public layer on one map from the dataset tileset (one tile request per tile
    position, at ``dataset_version``), switched on and off one by one."""
    tools = tools or MapTools()
    tr = tools.tr
    m = base_map(tr=tr, relief_version=tools.relief_version)
    m.fit_bounds(list(REGION_BOUNDS))
    order = {"basemap": 0, "reference": 1}
    ordered = sorted(specs, key=lambda s: order.get(s.group, 2))
    grid = DatasetGrid(ordered, version=dataset_version, tr=tr)
    grid.add_to(m)
    for spec in ordered:
        LayerSwitch(grid, spec, show=spec.visible, tr=tr).add_to(m)
    return finish(m, ordered, title="Atlas", examples=examples, empty=empty, tools=tools)


def layer_map(
    spec: LayerSpec,
    context: Sequence[LayerSpec],
    *,
    bounds: tuple[float, float, float, float] | None,
    examples: set[str] | None = None,
    versions: Mapping[str, str] | None = None,
    empty: set[str] | None = None,
    cql: str | None = None,
    cql_lang: str | None = None,
    tools: MapTools | None = None,
) -> MapParts:
    """One layer over a light context (countries, lakes, rivers, places), fitted to its extent;
    with ``cql``, only its features matching that CQL2 filter (``cql_lang``: its language)."""
    tools = tools or MapTools()
    tr = tools.tr
    m = base_map(tr=tr, relief_version=tools.relief_version)
    ctx = [c for c in context if c.id != spec.id]
    v = versions or {}
    for c in ctx:
        VectorTileLayer(c, show=True, version=v.get(c.id), tr=tr).add_to(m)
    if cql:
        FilteredFeatures(spec, cql, lang=cql_lang, tr=tr).add_to(m)
    else:
        VectorTileLayer(spec, show=True, version=v.get(spec.id), tr=tr).add_to(m)
    _fit(m, bounds)
    return finish(m, [*ctx, spec], title=spec.title, examples=examples, empty=empty, tools=tools)


def case_map(
    layers: Sequence[LayerSpec],
    *,
    bounds: tuple[float, float, float, float],
    highlight: dict[str, Any] | None = None,
    examples: set[str] | None = None,
    versions: Mapping[str, str] | None = None,
    title: str = "Kok-Jailau",
    empty: set[str] | None = None,
    tools: MapTools | None = None,
) -> MapParts:
    """A case page's map: the given layers, fitted to ``bounds``, an optional GeoJSON outline."""
    tools = tools or MapTools()
    m = base_map(tr=tools.tr, relief_version=tools.relief_version)
    for spec in layers:
        version = (versions or {}).get(spec.id)
        VectorTileLayer(spec, show=True, version=version, tr=tools.tr).add_to(m)
    if highlight is not None:
        folium.GeoJson(
            highlight["geojson"],
            name=highlight["name"],
            style_function=lambda _: {
                "color": "#b71c1c",
                "weight": 3,
                "fill": False,
                "dashArray": "6 4",
            },
            tooltip=highlight["name"],
        ).add_to(m)
    _fit(m, bounds)
    return finish(m, list(layers), title=title, examples=examples, empty=empty, tools=tools)


def _fit(m: folium.Map, bounds: tuple[float, float, float, float] | None) -> None:
    if bounds is None:
        m.fit_bounds(list(REGION_BOUNDS))
        return
    minx, miny, maxx, maxy = bounds
    if maxx - minx < 0.05 and maxy - miny < 0.05:  # a point or a tiny area: show its surroundings
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        minx, maxx, miny, maxy = cx - 0.25, cx + 0.25, cy - 0.15, cy + 0.15
    m.fit_bounds([[miny, minx], [maxy, maxx]])


def external_urls(html: str) -> list[str]:
    """Asset URLs in ``html`` that would leave the server (there should be none)."""
    import re

    return re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)


__all__ = [
    "Element",
    "MapTools",
    "atlas",
    "case_map",
    "external_urls",
    "json",
    "layer_map",
    "localise",
]
