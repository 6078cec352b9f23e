"""Layer styles: MapLibre style JSON, Leaflet path options and legends from one :class:`Style`."""

from __future__ import annotations

from typing import Any

from layers.spec import LayerSpec, LegendItem

#: Common names of the species Irbis maps, for legends ("Snow leopard (Panthera uncia)").
COMMON_NAMES = {
    "Panthera uncia": "Snow leopard",
    "Gazella subgutturosa": "Goitered gazelle",
    "Ovis ammon": "Argali",
    "Capra sibirica": "Siberian ibex",
    "Saiga tatarica": "Saiga antelope",
}


def legend_label(value: str) -> str:
    """A legend entry's words: a species as its common name with the scientific one.

    >>> legend_label("Panthera uncia"), legend_label("mountain")
    ('Snow leopard (Panthera uncia)', 'mountain')
    """
    common = COMMON_NAMES.get(value)
    return f"{common} ({value})" if common else value


def legend(spec: LayerSpec) -> list[LegendItem]:
    """Legend entries: one per category, or the layer's own colour."""
    if spec.style.categories:
        return list(spec.style.categories)
    return [LegendItem(spec.title, spec.style.fill_colour)]


def _match(spec: LayerSpec, default: str) -> Any:
    s = spec.style
    if not (s.by and s.categories):
        return default
    expr: list[Any] = ["match", ["get", s.by]]
    for item in s.categories:
        expr += [item.label, item.colour]
    expr.append(default)
    return expr


def maplibre_layers(spec: LayerSpec, source: str) -> list[dict[str, Any]]:
    """MapLibre style layers drawing ``spec`` from the vector source ``source``."""
    s = spec.style
    common = {
        "source": source,
        "source-layer": spec.id,
        "minzoom": spec.min_zoom,
        "maxzoom": spec.max_zoom + 1,
    }
    out: list[dict[str, Any]] = []
    gt = spec.geometry_type
    if gt in ("Polygon", "MultiPolygon", "Geometry"):
        out.append(
            {
                "id": f"{spec.id}-fill",
                "type": "fill",
                **common,
                "filter": ["==", ["geometry-type"], "Polygon"],
                "paint": {
                    "fill-color": _match(spec, s.fill_colour),
                    "fill-opacity": s.fill_opacity,
                },
            }
        )
        out.append(
            {
                "id": f"{spec.id}-outline",
                "type": "line",
                **common,
                "filter": ["==", ["geometry-type"], "Polygon"],
                "paint": {"line-color": _match(spec, s.colour), "line-width": s.weight},
            }
        )
    if gt in ("LineString", "MultiLineString", "Geometry"):
        out.append(
            {
                "id": f"{spec.id}-line",
                "type": "line",
                **common,
                "filter": ["==", ["geometry-type"], "LineString"],
                "paint": {"line-color": _match(spec, s.colour), "line-width": s.weight},
            }
        )
    if gt in ("Point", "MultiPoint", "Geometry"):
        out.append(
            {
                "id": f"{spec.id}-point",
                "type": "circle",
                **common,
                "filter": ["==", ["geometry-type"], "Point"],
                "paint": {
                    "circle-color": _match(spec, s.fill_colour),
                    "circle-radius": s.radius,
                    "circle-stroke-color": s.colour,
                    "circle-stroke-width": 1,
                },
            }
        )
    return out


def maplibre_style(spec: LayerSpec, tilejson_url: str, *, attribution: str = "") -> dict[str, Any]:
    """A MapLibre GL style (version 8) for one layer, its tiles described by TileJSON."""
    return {
        "version": 8,
        "name": spec.title,
        "metadata": {
            "irbis:collection": spec.id,
            "irbis:legend": [i.__dict__ for i in legend(spec)],
        },
        "sources": {spec.id: {"type": "vector", "url": tilejson_url, "attribution": attribution}},
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": "#f6f4ee"}},
            *maplibre_layers(spec, spec.id),
        ],
    }
