"""Windowed zonal class areas and loss (geo.raster.class_areas_windowed) give the numbers of
the in-memory path, window by window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine

import geopandas as gpd
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from geo.loss import raster_change
from geo.raster import class_areas, class_areas_windowed, open_raster, raster_windows


def tiled(
    path: Path, arr: np.ndarray, transform: Affine, crs: str = "EPSG:4326", nodata: int | None = 255
) -> Path:
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": arr.dtype.name,
        "transform": transform,
        "crs": crs,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 32,
        "blockysize": 32,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A 30 m-ish land-cover pair (classes 1-4, nodata 255) and the second epoch with loss."""
    rng = np.random.default_rng(7)
    a = rng.integers(1, 5, size=(300, 260), dtype="uint8")
    a[:40, :50] = 255  # a lake of nodata
    b = a.copy()
    b[100:180, 60:200][b[100:180, 60:200] == 1] = 3  # habitat cleared
    t = from_origin(76.80, 43.30, 0.000375, 0.00027)
    return tiled(tmp_path / "a.tif", a, t), tiled(tmp_path / "b.tif", b, t)


@pytest.fixture
def zones() -> gpd.GeoDataFrame:
    # zones that cut pixels, overlap each other, cross window edges and leave the raster
    geoms = [
        box(76.803, 43.231, 76.861, 43.2893),
        Point(76.85, 43.26).buffer(0.02),
        box(76.79, 43.22, 76.812, 43.31),  # partly outside the raster
        Point(76.88, 43.25).buffer(0.004),
        box(77.5, 44.0, 77.6, 44.1),  # entirely outside: no rows
    ]
    return gpd.GeoDataFrame({"zid": [11, 12, 13, 14, 15]}, geometry=geoms, crs=4326)


def _same(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert a[key].equals(b[key])
    for c in a.columns:
        if c not in key:
            np.testing.assert_allclose(a[c].astype(float), b[c].astype(float), rtol=1e-9)


def test_windows_are_block_aligned_and_cover_the_raster(pair):
    with open_raster(pair[0]) as src:
        ws = raster_windows(src, max_cells=64 * 64)
        assert len(ws) > 10
        assert sum(w.width * w.height for w in ws) == src.width * src.height
        assert all(w.col_off % 32 == 0 and w.row_off % 32 == 0 for w in ws)


@pytest.mark.parametrize("max_cells", [32 * 32, 64 * 96, 1 << 24])
def test_windowed_class_areas_match_in_memory(pair, zones, max_cells):
    mem = class_areas(pair[0], zones, "zid")
    win = class_areas_windowed(pair[0], zones, "zid", max_cells=max_cells)
    assert set(mem["zid"]) == {11, 12, 13, 14}
    assert mem["nodata_ha"].max() > 0  # the lake is measured as nodata
    _same(mem, win, ["zid", "value"])


def test_windowed_classify_matches_in_memory(pair, zones):
    def habitat(a: np.ndarray) -> np.ndarray:
        return a == 1

    mem = class_areas(pair[1], zones, "zid", classify=habitat)
    win = class_areas_windowed(pair[1], zones, "zid", classify=habitat, max_cells=40 * 40)
    _same(mem, win, ["zid", "value"])


def test_windowed_loss_matches_in_memory(pair, zones):
    epochs = {"2000": pair[0], "2020": pair[1]}
    mem = raster_change(epochs, zones, "zid", zonal=class_areas)
    win = raster_change(epochs, zones, "zid")  # windowed is the default
    assert (mem["change_ha"] < 0).any()  # there is a loss to measure
    _same(mem.fillna(-1.0), win.fillna(-1.0), ["zid", "epoch"])


def test_windowed_in_an_equal_area_crs(tmp_path, zones):
    a = np.arange(120 * 90, dtype="uint8").reshape(120, 90) % 3
    t = from_origin(5_600_000, 5_300_000, 30.0, 30.0)
    p = tiled(tmp_path / "ea.tif", a, t, crs="EPSG:6933", nodata=None)
    z = gpd.GeoDataFrame(
        {"zid": [1, 2]},
        geometry=[
            box(5_600_100, 5_297_000, 5_601_333, 5_299_500),
            box(5_601_000, 5_296_500, 5_602_900, 5_298_000),
        ],
        crs=6933,
    )
    _same(
        class_areas(p, z, "zid"),
        class_areas_windowed(p, z, "zid", max_cells=32 * 32),
        ["zid", "value"],
    )
