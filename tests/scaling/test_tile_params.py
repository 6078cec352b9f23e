"""A tile's bound values without PROJ: the same numbers as morecantile's, the same tiles.

:func:`layers.tiles.tile_params` computes a tile's longitude/latitude box in closed form for the
served grids (inverse spherical Mercator for WebMercatorQuad, the grid's own coordinates for
WorldCRS84Quad) instead of asking morecantile (a PROJ transformation of about a millisecond,
most of the Python time of an uncached tile). These tests hold it to morecantile's values and
check that tiles built from either are byte for byte the same, on the paths that read the box:
the public tiles of a generalised layer, and a polygon layer on WorldCRS84Quad.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine, func, select

import morecantile

import layers.tiles as lt
from layers.registry import get_layer
from layers.sql import LayerSQL


def reference_params(tile: lt.TileRequest, extent: int = 4096, buffer: int = 64) -> dict:
    """The bound values as computed from morecantile's ``xy_bounds`` and ``bounds``."""
    tms = lt.get_tms(tile.tms_id)
    t = morecantile.Tile(tile.x, tile.y, tile.z)
    xmin, ymin, xmax, ymax = tms.xy_bounds(t)
    w, s, e, n = tms.bounds(t)
    pad_x, pad_y = (e - w) * buffer / extent, (n - s) * buffer / extent
    return {
        "xmin": xmin,
        "ymin": ymin,
        "xmax": xmax,
        "ymax": ymax,
        "sw": max(w - pad_x, -180.0),
        "ss": max(s - pad_y, -90.0),
        "se": min(e + pad_x, 180.0),
        "sn": min(n + pad_y, 90.0),
        "tol": (e - w) / extent,
        "bxmin": xmin - (xmax - xmin) * buffer / extent,
        "bymin": ymin - (ymax - ymin) * buffer / extent,
        "bxmax": xmax + (xmax - xmin) * buffer / extent,
        "bymax": ymax + (ymax - ymin) * buffer / extent,
        "z": tile.z,
    }


def sample_tiles(tms_id: str, seed: int = 7, per_zoom: int = 12) -> list[lt.TileRequest]:
    """Seeded tiles at zooms 0-18, with the grid's corner tiles (poles, antimeridian)."""
    rng = random.Random(seed)
    tms = lt.get_tms(tms_id)
    out = []
    for z in range(0, 19):
        m = tms.matrix(z)
        w, h = m.matrixWidth, m.matrixHeight
        corners = [(0, 0), (w - 1, h - 1), (0, h - 1), (w - 1, 0)]
        picks = [(rng.randrange(w), rng.randrange(h)) for _ in range(per_zoom)]
        out += [lt.TileRequest(tms_id, z, x, y) for x, y in corners + picks]
    return out


@pytest.mark.parametrize("tms_id", lt.TMS_IDS)
def test_params_equal_morecantile(tms_id: str) -> None:
    for tile in sample_tiles(tms_id):
        got, want = lt.tile_params(tile), reference_params(tile)
        assert got.keys() == want.keys()
        for k, v in want.items():
            # degrees to 1e-9 (0.1 mm), metres to 1e-6
            assert got[k] == pytest.approx(
                v, rel=0, abs=1e-6 if k.startswith(("x", "y", "b")) else 1e-9
            ), (
                tile,
                k,
            )


def test_params_with_other_extent_and_buffer() -> None:
    tile = lt.TileRequest("WebMercatorQuad", 9, 361, 190)
    got = lt.tile_params(tile, extent=512, buffer=16)
    want = reference_params(tile, extent=512, buffer=16)
    assert got == pytest.approx(want, rel=0, abs=1e-9)


@pytest.mark.parametrize(
    ("layer_id", "tms_id"),
    [("monitoring_points", "WebMercatorQuad"), ("protected_areas", "WorldCRS84Quad")],
)
def test_tiles_equal_to_those_from_morecantile_bounds(
    engine: Engine, demo: dict[str, int], layer_id: str, tms_id: str
) -> None:
    """Public monitoring points are generalised (their tiles are searched through the box in
    degrees and the snapped points); WorldCRS84Quad tiles simplify to the pixel in degrees."""
    view = LayerSQL(get_layer(layer_id), privileged=False)
    stmt = lt.tile_statement(view, tms_id)
    tms = lt.get_tms(tms_id)
    with engine.connect() as conn:
        # a point of the first row's geometry as the public sees it (points snapped to a cell)
        p = func.ST_PointOnSurface(view.geom())
        lon, lat = conn.execute(
            select(func.ST_X(p), func.ST_Y(p))
            .select_from(view.from_clause())
            .order_by(view.id_col)
            .limit(1)
        ).one()
        drawn = 0
        for z in (2, 4, 6, 9, 12):
            t = tms.tile(lon, lat, z)
            tile = lt.TileRequest(tms_id, z, t.x, t.y)
            fast = bytes(conn.execute(stmt, lt.tile_params(tile)).scalar_one())
            slow = bytes(conn.execute(stmt, reference_params(tile)).scalar_one())
            assert fast == slow, (layer_id, tile)
            drawn += len(fast) > 0
    assert drawn == 5, f"{5 - drawn} of the {layer_id} tiles were empty"
