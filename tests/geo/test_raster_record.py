"""describe_raster: what the register of rasters keeps about a file, in any CRS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import rasterio
from rasterio.transform import from_origin

from api.db.models import RasterDataset
from geo.errors import MissingCRS, UnreadableFile
from geo.raster import describe_raster

DEM = Path(__file__).resolve().parents[2] / "data/elevation/gebco2023_almaty_ile_alatau_15s.tif"


def _write(path: Path, crs: str | None, transform, nodata: float | None = None) -> Path:  # type: ignore[no-untyped-def]
    with rasterio.open(
        path, "w", driver="GTiff", width=40, height=30, count=1, dtype="uint8",
        crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(np.ones((1, 30, 40), dtype="uint8"))
    return path


def test_a_lon_lat_raster_is_its_own_footprint() -> None:
    r = describe_raster(DEM)
    with rasterio.open(DEM) as src:
        assert r.bounds == tuple(src.bounds)
        assert (r.width, r.height, r.dtype) == (src.width, src.height, src.dtypes[0])
    assert r.footprint.bounds == pytest.approx(r.bounds)
    assert r.sha256 == hashlib.sha256(DEM.read_bytes()).hexdigest()


def test_an_equal_area_raster_gets_a_footprint_in_degrees(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 40 x 30 cells of 1 km in EPSG:6933 around 77 E, 43 N
    path = _write(tmp_path / "ea.tif", "EPSG:6933", from_origin(7_430_000, 5_000_000, 1000, 1000))
    r = describe_raster(path)
    assert r.crs == "EPSG:6933" and r.resolution == (1000.0, 1000.0) and r.nodata is None
    west, south, east, north = r.footprint.bounds
    assert 76.5 < west < east < 78.0 and 42.0 < south < north < 44.5
    assert r.bounds == (7_430_000.0, 4_970_000.0, 7_470_000.0, 5_000_000.0)


def test_nodata_and_the_columns_of_a_rasters_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "nd.tif", "EPSG:4326", from_origin(70, 45, 0.01, 0.01), nodata=255)
    r = describe_raster(path)
    assert r.nodata == 255.0
    cols = r.columns()
    assert set(cols) <= set(RasterDataset.__table__.columns.keys())
    assert cols["properties"] == {"bounds": list(r.bounds)}
    assert cols["geom"].equals(r.footprint)


def test_a_raster_without_crs_or_a_file_that_is_none_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "nocrs.tif", None, from_origin(70, 45, 0.01, 0.01))
    with pytest.raises(MissingCRS, match="no coordinate reference system"):
        describe_raster(path)
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(UnreadableFile):
        describe_raster(text)
    with pytest.raises(UnreadableFile):
        describe_raster(tmp_path / "missing.tif")
