"""The map of a prioritisation plan: its units over the context layers, with no CDN.

The plan's units arrive as GeoJSON (from :func:`api.services.prioritisation.scenario_units_geojson`);
selected units are shaded by how often the portfolio of perturbed plans chose them, locked-out
units are outlined in red, and the registry's context layers (countries, protected areas,
threats) are drawn as vector tiles underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import shapely.geometry

from layers import maps
from layers.spec import LayerSpec

SELECTED = "#5e3c99"
LOCKED_OUT = "#b2182b"
FOCUS = "#ff7f00"


def _selected_style(feature: dict[str, Any]) -> dict[str, Any]:
    freq = feature["properties"].get("frequency") or 0.0
    return {
        "color": SELECTED,
        "weight": 1,
        "fillColor": SELECTED,
        "fillOpacity": round(0.25 + 0.5 * float(freq), 3),
    }


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
    """
    words = {**LABELS, **(labels or {})}
    m = maps.base_map()
    for spec in context:
        maps.VectorTileLayer(spec, show=True).add_to(m)
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
    return maps.finish(m, list(context), title=title)


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
