"""TileJSON 3.0 and OGC API Tiles tileset documents for vector and raster layers."""

from __future__ import annotations

from typing import Any

from layers.spec import LayerSpec
from layers.tiles import get_tms

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _tilejson(
    name: str,
    tiles_url: str,
    bounds: tuple[float, float, float, float] | list[float],
    *,
    attribution: str,
    min_zoom: int,
    max_zoom: int,
    center_zoom: int | None = None,
) -> dict[str, Any]:
    """What every TileJSON 3.0.0 document of Irbis says: one XYZ template, zooms, bounds and
    the centre of the bounds (at ``center_zoom``, else zoom 4 or the first zoom with data)."""
    minx, miny, maxx, maxy = bounds
    center_zoom = max(min_zoom, 4) if center_zoom is None else center_zoom
    return {
        "tilejson": "3.0.0",
        "name": name,
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": min_zoom,
        "maxzoom": max_zoom,
        "bounds": [minx, miny, maxx, maxy],
        "center": [round((minx + maxx) / 2, 5), round((miny + maxy) / 2, 5), center_zoom],
    }


def vector_tilejson(
    spec: LayerSpec,
    tiles_url: str,
    *,
    bounds: tuple[float, float, float, float],
    attribution: str,
    fields: dict[str, str],
    min_zoom: int,
    max_zoom: int,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for one vector layer (``tiles_url`` holds {z}/{x}/{y})."""
    doc = _tilejson(
        spec.title, tiles_url, bounds, attribution=attribution, min_zoom=min_zoom, max_zoom=max_zoom
    )
    layer = {"id": spec.id, "description": spec.title, "fields": fields}
    return doc | {
        "description": spec.description,
        "vector_layers": [layer | {"minzoom": min_zoom, "maxzoom": max_zoom}],
    }


def dataset_tilejson(
    name: str,
    tiles_url: str,
    members: list[tuple[LayerSpec, dict[str, str]]],
    *,
    bounds: tuple[float, float, float, float],
    attribution: str,
    max_zoom: int,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for the dataset tileset: one vector layer per collection (``members``
    pairs a layer with its fields)."""
    min_zoom = min((s.min_zoom for s, _ in members), default=0)
    doc = _tilejson(
        name, tiles_url, bounds, attribution=attribution, min_zoom=min_zoom, max_zoom=max_zoom
    )
    return doc | {
        "vector_layers": [
            {
                "id": spec.id,
                "description": spec.title,
                "fields": fields,
                "minzoom": spec.min_zoom,
                "maxzoom": min(spec.max_zoom, max_zoom),
            }
            for spec, fields in members
        ],
    }


def raster_tilejson(
    name: str, title: str, tiles_url: str, *, bounds: list[float], attribution: str, max_zoom: int
) -> dict[str, Any]:
    return _tilejson(
        title, tiles_url, bounds, attribution=attribution, min_zoom=0, max_zoom=max_zoom,
        center_zoom=6,
    )  # fmt: skip


def tileset(
    *,
    title: str,
    tms_id: str,
    base: str,
    tiles_href: str,
    data_type: str,
    media_type: str,
    bounds: tuple[float, float, float, float] | list[float],
    layers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An OGC API Tiles tileset metadata document."""
    tms = get_tms(tms_id)
    doc: dict[str, Any] = {
        "title": title,
        "dataType": data_type,
        "crs": str(tms.crs.root) if hasattr(tms.crs, "root") else str(tms.crs),
        "tileMatrixSetURI": tms.uri or f"http://www.opengis.net/def/tilematrixset/OGC/1.0/{tms_id}",
        "boundingBox": {
            "lowerLeft": [bounds[0], bounds[1]],
            "upperRight": [bounds[2], bounds[3]],
            "crs": CRS84,
        },
        "links": [
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "type": "application/json",
                "title": f"{tms_id} definition",
                "href": f"{base}/tileMatrixSets/{tms_id}",
            },
            {
                "rel": "item",
                "type": media_type,
                "title": "Tiles",
                "href": tiles_href,
                "templated": True,
            },
        ],
    }
    if layers:
        doc["layers"] = layers
    return doc
