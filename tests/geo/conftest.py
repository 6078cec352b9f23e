"""Helpers for the spatial-core tests: small rasters written to temporary GeoTIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rasterio
from rasterio.transform import from_origin

DATA = Path(__file__).resolve().parents[2] / "data"


def write_raster(path: Path, arr: np.ndarray, transform, crs="EPSG:4326", nodata=None) -> Path:  # type: ignore[no-untyped-def]
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": arr.dtype.name,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return path


@pytest.fixture
def raster_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    n = [0]

    def make(arr: np.ndarray, transform=None, crs="EPSG:4326", nodata=None) -> Path:  # type: ignore[no-untyped-def]
        n[0] += 1
        t = transform or from_origin(76.0, 43.5, 0.01, 0.01)
        return write_raster(tmp_path / f"r{n[0]}.tif", arr, t, crs, nodata)

    return make
