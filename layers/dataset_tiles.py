"""The dataset tileset: every published layer in one vector tile, one MVT layer per collection.

OGC API – Tiles "dataset tilesets" (``/tiles/{tileMatrixSetId}/{z}/{y}/{x}`` at the landing
level). A map asks for one tile per tile position instead of one per layer and position. Each
collection's part is the per-layer tile, built by the one MVT builder
(:func:`layers.tiles.tile_statement`) with the same privacy rules; the parts missing from the
cache are built in one statement, and the tile is their concatenation (a vector tile is a list
of layers, so concatenated tiles are a tile). Layers are ordered areas, then lines, then
points, so that a client drawing in tile order puts points on top, where they can be clicked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, select

from geo.errors import InvalidInput
from layers.spec import LayerSpec
from layers.sql import LayerSQL
from layers.tiles import tile_statement

_KIND_ORDER = {"area": 0, "line": 1, "point": 2}


def kind(spec: LayerSpec) -> str:
    """``area``, ``line`` or ``point``: how a layer is drawn (mixed layers count as areas)."""
    if spec.geometry_type in ("Point", "MultiPoint"):
        return "point"
    if spec.geometry_type in ("LineString", "MultiLineString"):
        return "line"
    return "area"


def drawing_order(specs: Iterable[LayerSpec]) -> list[LayerSpec]:
    """Areas first, then lines, then points; the registry's order within each kind."""
    indexed = list(enumerate(specs))
    indexed.sort(key=lambda p: (_KIND_ORDER[kind(p[1])], p[0]))
    return [s for _, s in indexed]


def members(specs: Sequence[LayerSpec], collections: str | None) -> list[LayerSpec]:
    """The layers of a dataset tile, in drawing order: all of ``specs``, or those named in
    ``collections`` (comma-separated ids, as in OGC API – Tiles)."""
    if collections is None:
        return drawing_order(specs)
    by_id = {s.id: s for s in specs}
    wanted = [c.strip() for c in collections.split(",") if c.strip()]
    if not wanted:
        raise InvalidInput("collections must name at least one collection, e.g. collections=places")
    unknown = [c for c in wanted if c not in by_id]
    if unknown:
        shown = ", ".join(repr(c[:60]) for c in unknown[:5])
        raise InvalidInput(f"there is no collection {shown}; see /collections for the list")
    return drawing_order(s for s in specs if s.id in set(wanted))


def joined_versions(versions: Mapping[str, str], specs: Iterable[LayerSpec]) -> str:
    """The data version of the dataset: every layer's version (by id) in one string, which
    changes when any layer's data changes."""
    return "|".join(f"{s.id}={versions.get(s.id, '')}" for s in specs)


def parts_statement(
    views: Sequence[LayerSQL],
    tms_id: str,
    *,
    extent: int,
    buffer: int,
    max_features: int,
) -> Select[Any]:
    """One row with the tile of every layer in ``views`` (columns in the same order), the
    tile's values left as parameters (see :func:`layers.tiles.tile_params`)."""
    cols = [
        tile_statement(v, tms_id, extent=extent, buffer=buffer, max_features=max_features)
        .scalar_subquery()
        .label(f"part{i}")
        for i, v in enumerate(views)
    ]
    return select(*cols)


def compose(parts: Iterable[bytes]) -> bytes:
    """The dataset tile from its layers' tiles."""
    return b"".join(parts)
