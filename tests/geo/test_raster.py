"""Zonal statistics and cell areas (geo.raster) against exactextract and geodesic areas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd
from exactextract import exact_extract
from rasterio.transform import from_origin
from shapely import segmentize
from shapely.geometry import box

from geo.crs import geodesic_area_m2
from geo.errors import CRSMismatch, MissingCRS
from geo.raster import cell_areas_m2, class_areas, sha256_file, zonal_stats

DATA = Path(__file__).resolve().parents[2] / "data"

CROP = DATA / "elevation" / "gebco2023_almaty_ile_alatau_15s.tif"


def zones(*boxes, crs=4326):  # type: ignore[no-untyped-def]
    return gpd.GeoDataFrame({"zid": list(range(1, len(boxes) + 1))}, geometry=list(boxes), crs=crs)


def test_cell_areas_sum_to_geodesic_area_of_the_grid():
    t = from_origin(76.0, 43.6, 1 / 240, 1 / 240)
    cells = cell_areas_m2(t, 192, 480, "EPSG:4326")
    # edges along parallels: densify so the geodesic polygon follows them
    expected = geodesic_area_m2(segmentize(box(76.0, 43.6 - 192 / 240, 78.0, 43.6), 1 / 240))
    assert cells.sum() == pytest.approx(expected, rel=1e-9)
    assert cells[0, 0] < cells[-1, 0]  # cells grow towards the equator


def test_zonal_mean_matches_a_direct_exactextract_call():
    z = zones(box(76.9, 43.1, 77.0, 43.2), box(76.95, 43.0, 77.33, 43.31))
    ours = zonal_stats(CROP, z, "zid", ["mean", "count", "max"])
    direct = exact_extract(
        str(CROP), z, ["mean", "count", "max"], include_cols=["zid"], output="pandas"
    )
    np.testing.assert_allclose(ours["mean"], direct["mean"], rtol=1e-12)
    np.testing.assert_allclose(ours["count"], direct["count"], rtol=1e-12)
    # the second box cuts pixels: partial pixels are counted with their fraction
    assert ours["count"].iloc[1] != round(ours["count"].iloc[1])


def test_zones_in_another_crs_are_reprojected():
    z = zones(box(76.9, 43.1, 77.0, 43.2))
    a = zonal_stats(CROP, z, "zid", ["mean"])
    b = zonal_stats(CROP, z.to_crs(32643), "zid", ["mean"])
    assert b["mean"].iloc[0] == pytest.approx(a["mean"].iloc[0], rel=2e-3)


def test_class_areas_partial_pixels_on_a_known_raster(raster_factory):
    # equal-area raster of 100 m pixels: left half class 1, right half class 2
    arr = np.ones((10, 10), dtype="uint8")
    arr[:, 5:] = 2
    path = raster_factory(arr, from_origin(0, 1000, 100, 100), crs="EPSG:6933")
    # a zone covering 2.5 columns of class 1 and 1.5 of class 2, rows 2..6 (4 rows)
    z = zones(box(250, 400, 650, 800), crs=6933)
    t = class_areas(path, z, "zid").set_index("value")
    assert t.loc[1, "area_ha"] == pytest.approx(2.5 * 4 * 1.0)  # a 100 m pixel is 1 ha
    assert t.loc[2, "area_ha"] == pytest.approx(1.5 * 4 * 1.0)
    assert t["nodata_ha"].iloc[0] == pytest.approx(0)


def test_class_areas_on_lonlat_raster_sum_to_geodesic_zone_area():
    zone = box(76.93, 43.05, 77.07, 43.27)
    t = class_areas(CROP, zones(zone), "zid", classify=lambda a: a >= 2000)
    assert t["area_ha"].sum() == pytest.approx(geodesic_area_m2(zone) / 1e4, rel=1e-5)
    assert set(t["value"]) == {True, False}


def test_nodata_is_reported_not_counted(raster_factory):
    arr = np.ones((10, 10), dtype="int16")
    arr[:, :3] = -9999
    path = raster_factory(arr, from_origin(0, 1000, 100, 100), crs="EPSG:6933", nodata=-9999)
    t = class_areas(path, zones(box(0, 0, 1000, 1000), crs=6933), "zid")
    assert t["area_ha"].sum() == pytest.approx(70)
    assert t["nodata_ha"].iloc[0] == pytest.approx(30)


def test_empty_zones_give_an_empty_table():
    empty = gpd.GeoDataFrame({"zid": []}, geometry=[], crs=4326)
    assert class_areas(CROP, empty, "zid").empty
    assert zonal_stats(CROP, empty, "zid", ["mean"]).empty


def test_zone_outside_the_raster_has_no_habitat():
    t = class_areas(CROP, zones(box(60, 40, 60.1, 40.1)), "zid")
    assert t.empty or t["area_ha"].sum() == 0


def test_raster_in_a_non_equal_area_crs_is_refused(raster_factory):
    path = raster_factory(
        np.ones((4, 4), dtype="uint8"), from_origin(500000, 4800000, 100, 100), crs="EPSG:32643"
    )
    with pytest.raises(CRSMismatch, match="reproject"):
        class_areas(path, zones(box(76.9, 43.1, 77.0, 43.2)), "zid")


def test_raster_without_crs_is_refused(raster_factory):
    path = raster_factory(np.ones((4, 4), dtype="uint8"), crs=None)
    with pytest.raises(MissingCRS):
        zonal_stats(path, zones(box(76.0, 43.45, 76.02, 43.5)), "zid")


def test_sha256_of_a_data_file():
    assert sha256_file(CROP).startswith("02f3d9887967ad69")
