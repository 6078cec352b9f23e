"""Raster tiles: warping into a tile grid keeps values where they are; hillshade faces the sun."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import morecantile
import rasterio

from layers.rastertiles import ELEVATION_STOPS, RasterSource, hillshade, read_tile, render_png

DATA = Path(__file__).resolve().parents[2] / "data" / "elevation"
GEBCO = RasterSource("gebco", DATA / "gebco2023_tianshan_pamir_15s.tif", "dem")
COARSE = RasterSource("coarse", DATA / "mapzen_pvlib_central_asia_5arcmin.tif", "dem")


@pytest.mark.parametrize("tms_id", ["WebMercatorQuad", "WorldCRS84Quad"])
def test_tile_values_match_the_dem_at_the_same_place(tms_id: str) -> None:
    tms = morecantile.tms.get(tms_id)
    lon, lat = 77.0, 43.05  # Ile Alatau above Almaty
    t = tms.tile(lon, lat, 9)
    values = read_tile([GEBCO], tms_id, t.z, t.x, t.y)
    b = tms.xy_bounds(t)
    px = tms.xy(lon, lat)
    col = int((px.x - b.left) / (b.right - b.left) * 256)
    row = int((b.top - px.y) / (b.top - b.bottom) * 256)
    with rasterio.open(GEBCO.path) as ds:
        truth = float(next(ds.sample([(lon, lat)]))[0])
    assert values[row, col] == pytest.approx(truth, abs=max(60, 0.05 * abs(truth)))


def test_finer_rasters_are_painted_over_coarser_ones() -> None:
    tms = morecantile.tms.get("WebMercatorQuad")
    t = tms.tile(77.0, 43.05, 9)
    fine = read_tile([GEBCO], "WebMercatorQuad", t.z, t.x, t.y)
    both = read_tile([COARSE, GEBCO], "WebMercatorQuad", t.z, t.x, t.y)
    np.testing.assert_allclose(both, fine)


def test_hillshade_is_bright_on_slopes_facing_the_sun() -> None:
    x = np.arange(64, dtype=float)
    facing_west = np.tile(-x * 60, (64, 1))  # rises to the west: faces the north-west sun
    facing_east = np.tile(x * 60, (64, 1))
    assert hillshade(facing_west, 100, 100).mean() > hillshade(facing_east, 100, 100).mean() + 0.2
    flat = hillshade(np.zeros((8, 8)), 100, 100)
    np.testing.assert_allclose(flat, np.sin(np.radians(45)))


def test_png_is_transparent_where_there_is_no_data() -> None:
    import io

    from PIL import Image

    png = render_png([GEBCO], "WebMercatorQuad", 6, 0, 0, style="elevation")
    assert (np.asarray(Image.open(io.BytesIO(png)))[..., 3] == 0).all()
    assert ELEVATION_STOPS[0][0] < 0 < ELEVATION_STOPS[-1][0]
