"""Ecosystems by their definitions: glaciers inside the mountain class of their elevation,
arid lowland split by climate (Köppen B: BW desert, BS semi-desert and steppe), other lowland
its own class, stale lake outlines replaced by current water; checked against independent
geodesic areas (pyproj) on synthetic grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd
from pyproj import Geod
from rasterio.transform import from_origin
from shapely.geometry import box

from geo.ecosystems import (
    DESERT,
    GLACIER,
    LAKE,
    OTHER_LOWLAND,
    SEMI_DESERT,
    classify_region,
    grid_areas,
    kind_of_class,
)
from tests.geo.conftest import write_raster

GEOD = Geod(ellps="WGS84")
W, N = 70.0, 44.0  # north-west corner of every synthetic raster
STEP = 0.01  # source rasters: 0.01° cells
OUT = 0.02  # output grid: 0.02° cells


def geodesic_ha(b: tuple[float, float, float, float]) -> float:
    return abs(GEOD.geometry_area_perimeter(box(*b))[0]) / 1e4


def country(b: tuple[float, float, float, float] = (W, N - 1, W + 1, N)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"iso_a3": ["KAZ"]}, geometry=[box(*b)], crs=4326)


def dem(tmp_path: Path, elev: np.ndarray) -> Path:
    return write_raster(
        tmp_path / "dem.tif", elev.astype("int16"), from_origin(W, N, STEP, STEP), nodata=-32768
    )


def test_glaciated_peak_and_plateau_stay_mountain_by_their_elevation(tmp_path):
    # 1° x 1°: a flat plateau at 2,000 m (slope 0, no relief: not mountain by Kapos) with a
    # glaciated peak of 5,000 m in its south-east quarter; a glacier covers part of the flat
    # plateau and the whole peak
    elev = np.full((100, 100), 2000.0)
    yy, xx = np.mgrid[0:40, 0:40]
    cone = 5000.0 - 150.0 * np.hypot(yy - 20, xx - 20)
    elev[60:, 60:] = np.maximum(2000.0, cone)
    flat_glacier = (W + 0.10, N - 0.30, W + 0.30, N - 0.10)
    peak_glacier = (W + 0.70, N - 0.90, W + 0.90, N - 0.70)
    glaciers = gpd.GeoDataFrame(geometry=[box(*flat_glacier), box(*peak_glacier)], crs=4326)

    g = classify_region(country(), dem(tmp_path, elev), glaciers=glaciers, resolution_deg=OUT)

    assert not (g.classes == GLACIER).any()
    r0, r1 = round(0.10 / OUT), round(0.30 / OUT)
    c0, c1 = round(0.10 / OUT), round(0.30 / OUT)
    # the flat glacier at 2,000 m is K4 by its elevation; the same plateau beside it is not
    assert (g.classes[r0:r1, c0:c1] == 4).all()
    assert kind_of_class(int(g.classes[r0, c1 + 5])) != "mountain"
    # the glaciated peak: every cell in the class its elevation gives (slope waived)
    pr0, pr1 = round(0.70 / OUT), round(0.90 / OUT)
    pc0, pc1 = round(0.70 / OUT), round(0.90 / OUT)
    peak = g.classes[pr0:pr1, pc0:pc1]
    assert (np.isin(peak, (1, 2, 3, 4))).all()
    assert g.classes[pr0 + 5, pc0 + 5] in (1, 2)  # the summit cells
    # the glaciated mountain area recorded with the grid is the two glacier boxes
    expected = geodesic_ha(flat_glacier) + geodesic_ha(peak_glacier)
    got = g.stats["countries"]["KAZ"]["glaciated_mountain_ha"]
    assert got == pytest.approx(expected, rel=2e-3)


def test_arid_and_humid_climate_grid_is_split_by_koppen(tmp_path):
    # flat 200 m land; west third Köppen BWk (desert), middle third BSk (steppe), east third
    # Dfb (humid continental); the 1 km main-class grid says B (2) for the west two thirds
    elev = np.full((100, 150), 200.0)
    kg = np.zeros((100, 150), dtype="uint8")
    kg[:, :50], kg[:, 50:100], kg[:, 100:] = 8, 6, 19
    beck = np.where(np.arange(150)[None, :] < 100, 2, 4).repeat(100, 0).astype("uint8")
    t = from_origin(W, N, STEP, STEP)
    koppen = write_raster(tmp_path / "kg.tif", kg, t, nodata=0)
    aridity = write_raster(tmp_path / "beck.tif", beck, t, nodata=0)
    # RESOLVE biome 13 (deserts and xeric shrublands) over the west third only
    ecoregions = gpd.GeoDataFrame(
        {"eco_name": ["desert"], "biome_num": [13]}, geometry=[box(W, N - 1, W + 0.5, N)], crs=4326
    )
    bounds = (W, N - 1, W + 1.5, N)

    g = classify_region(
        country(bounds),
        dem(tmp_path, elev),
        koppen=koppen,
        aridity=aridity,
        ecoregions=ecoregions,
        resolution_deg=OUT,
    )

    areas = grid_areas(g).set_index("eco_class")["area_ha"]
    thirds = [(W + 0.5 * i, N - 1, W + 0.5 * (i + 1), N) for i in range(3)]
    assert areas[DESERT] == pytest.approx(geodesic_ha(thirds[0]), rel=2e-3)
    assert areas[SEMI_DESERT] == pytest.approx(geodesic_ha(thirds[1]), rel=2e-3)
    assert areas[OTHER_LOWLAND] == pytest.approx(geodesic_ha(thirds[2]), rel=2e-3)
    assert {kind_of_class(c) for c in (DESERT, SEMI_DESERT)} == {"arid_lowland"}
    assert kind_of_class(OTHER_LOWLAND) == "other"
    # the two definitions measured side by side: Köppen B takes two thirds, the biome one
    kaz = g.stats["countries"]["KAZ"]
    assert kaz["arid_koppen_ha"] == pytest.approx(geodesic_ha(thirds[0]) * 2, rel=3e-3)
    assert kaz["arid_biome_ha"] == pytest.approx(geodesic_ha(thirds[0]), rel=3e-3)
    assert kaz["arid_both_ha"] == pytest.approx(geodesic_ha(thirds[0]), rel=3e-3)


def test_lake_outline_counts_only_where_the_land_cover_still_has_water(tmp_path):
    elev = np.full((100, 100), 50.0)
    # MODIS-like land cover at 0.05°: barren (16) everywhere, water (0) in the NW quarter
    lc = np.full((20, 20), 16, dtype="uint8")
    lc[:10, :10] = 0
    landcover = write_raster(tmp_path / "lc.tif", lc, from_origin(W, N, 0.05, 0.05), nodata=255)
    # an old outline covering the NW quarter and a dried-up bed in the SE quarter
    lakes = gpd.GeoDataFrame(
        geometry=[box(W, N - 0.5, W + 0.5, N), box(W + 0.6, N - 0.9, W + 0.9, N - 0.6)], crs=4326
    )
    g = classify_region(
        country(), dem(tmp_path, elev), lakes=lakes, landcover=landcover, resolution_deg=OUT
    )
    areas = grid_areas(g).set_index("eco_class")["area_ha"]
    assert areas[LAKE] == pytest.approx(geodesic_ha((W, N - 0.5, W + 0.5, N)), rel=2e-3)
    stale = g.stats["countries"]["KAZ"]["stale_lake_ha"]
    assert stale == pytest.approx(geodesic_ha((W + 0.6, N - 0.9, W + 0.9, N - 0.6)), rel=2e-3)
    assert g.landcover is not None and g.landcover[0, 0] == 0 and g.landcover[-1, -1] == 16
