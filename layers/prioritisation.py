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

from layers import maps
from layers.spec import LayerSpec

SELECTED = "#5e3c99"
LOCKED_OUT = "#b2182b"


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


def plan_map(
    units: dict[str, Any],
    context: Sequence[LayerSpec],
    *,
    title: str,
    bounds: tuple[float, float, float, float] | None = None,
) -> maps.MapParts:
    """A page-ready map of a plan.

    Parameters
    ----------
    units : dict
        GeoJSON FeatureCollection of the scenario's units with ``selected``, ``locked``,
        ``frequency``, ``rank`` properties.
    context : sequence of LayerSpec
        Registry layers drawn underneath.
    bounds : (minx, miny, maxx, maxy), optional
        Extent to show (default: the region).
    """
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
    tooltip = ["h3", "iso3", "rank", "frequency", "cost"]
    folium.GeoJson(
        selected,
        name="Plan: selected units",
        style_function=_selected_style,
        tooltip=folium.GeoJsonTooltip(
            tooltip, aliases=["H3", "country", "rank", "chosen in", "cost"]
        ),
    ).add_to(m)
    if locked["features"]:
        folium.GeoJson(
            locked, name="Locked out", style_function=_locked_style, tooltip="locked out"
        ).add_to(m)
    if bounds is None:
        m.fit_bounds(list(maps.REGION_BOUNDS))
    else:
        minx, miny, maxx, maxy = bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return maps.finish(m, list(context), title=title)
