"""Ecosystem classification (geo.ecosystems): Kapos classes, terrain, the regional grid."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd
from rasterio.transform import from_origin
from shapely.geometry import box

from geo.ecosystems import (
    LAKE,
    LOWLAND_UNASSESSED,
    SOURCE_COARSE,
    SOURCE_FINE,
    EcosystemGrid,
    classify_region,
    ecosystem_areas,
    ecosystem_polygons,
    grid_areas,
    kapos_classes,
    local_range,
    slope_degrees,
)
from geo.errors import CRSMismatch, InvalidInput

DATA = Path(__file__).resolve().parents[2] / "data"
FINE = DATA / "elevation" / "gebco2023_almaty_ile_alatau_15s.tif"
COARSE = DATA / "elevation" / "mapzen_pvlib_central_asia_5arcmin.tif"


def test_kapos_classes_by_hand():
    elev = np.array([[4600, 4000, 3000, 2000, 2000, 1200, 1200, 1200, 500, 500, 200, np.nan]])
    slope = np.array([[0, 0, 0, 2.5, 1.0, 6.0, 1.0, 1.0, 0, 0, 30, 0]])
    ler = np.array([[0, 0, 0, 0, 0, 0, 400, 100, 400, 100, 900, 0]])
    assert kapos_classes(elev, slope, ler).tolist() == [[1, 2, 3, 4, 0, 5, 5, 0, 6, 0, 0, 255]]


def test_slope_of_a_known_plane_is_geodesic():
    # elevation rises 100 m per pixel eastwards at 43° N on a 15″ grid
    t = from_origin(76.0, 43.0 + 10 / 240, 1 / 240, 1 / 240)
    elev = np.tile(np.arange(20, dtype="float32") * 100, (20, 1))
    s = slope_degrees(elev, t)
    lat = 43.0 + 10 / 240 - 10.5 / 240
    a, e2 = 6378137.0, 0.00669437999014
    n = a / math.sqrt(1 - e2 * math.sin(math.radians(lat)) ** 2)
    dx = n * math.cos(math.radians(lat)) * math.radians(1 / 240)
    assert s[10, 10] == pytest.approx(math.degrees(math.atan(100 / dx)), rel=1e-4)


def test_local_range_uses_a_7_km_circle():
    t = from_origin(76.0, 43.2, 1 / 240, 1 / 240)  # ~338 m x 463 m pixels
    elev = np.zeros((81, 81), dtype="float32")
    elev[40, 40] = 1000.0
    r = local_range(elev, t, 7000)
    assert r[40, 40] == 1000
    # 6.8 km north (15 rows of 463 m) is inside, 7.4 km (16 rows) is outside
    assert r[40 - 14, 40] == 1000 and r[40 - 16, 40] == 0
    # 6.8 km east (20 columns of ~339 m) is inside, 7.5 km (22 columns) is outside
    assert r[40, 60] == 1000 and r[40, 62] == 0
    # the corner of the 7 km square is outside the circle
    assert r[40 - 14, 40 + 19] == 0
    assert r[40 - 10, 40 + 14] == 1000  # 4.6 km N and 4.7 km E: 6.6 km away


def test_nodata_in_the_dem_stays_unknown():
    t = from_origin(76.0, 43.2, 1 / 240, 1 / 240)
    elev = np.full((30, 30), 3000.0, dtype="float32")
    elev[:, :5] = np.nan
    r = local_range(elev, t, 7000)
    assert np.isnan(r[:, :5]).all() and (r[:, 5:] == 0).all()


@pytest.fixture(scope="module")
def almaty() -> EcosystemGrid:
    country = gpd.GeoDataFrame(
        {"iso_a3": ["KAZ"]}, geometry=[box(75.5, 42.5, 78.0, 43.6)], crs=4326
    )
    lake = gpd.GeoDataFrame(geometry=[box(75.6, 43.4, 75.8, 43.5)], crs=4326)
    glacier = gpd.GeoDataFrame(geometry=[box(77.0, 42.95, 77.1, 43.0)], crs=4326)
    return classify_region(
        country, COARSE, fine_dem=FINE, lakes=lake, glaciers=glacier, resolution_deg=1 / 120
    )


def test_region_uses_the_fine_dem_where_it_reaches(almaty):
    g = almaty
    col_76_1 = int((76.1 - g.transform.c) / g.transform.a)
    col_75_7 = int((75.7 - g.transform.c) / g.transform.a)
    row = int((g.transform.f - 43.2) / -g.transform.e)
    assert g.source[row, col_76_1] == SOURCE_FINE
    assert g.source[row, col_75_7] == SOURCE_COARSE
    assert g.sources[str(SOURCE_FINE)] == FINE.name


def test_region_classes_at_known_places(almaty):
    g = almaty

    def at(lon, lat):  # type: ignore[no-untyped-def]
        return g.classes[
            int((g.transform.f - lat) / -g.transform.e), int((lon - g.transform.c) / g.transform.a)
        ]

    assert at(76.93, 43.25) == 6  # Almaty (~850 m): K6, within 7 km of the range front
    assert at(76.93, 43.5) == LOWLAND_UNASSESSED  # the plain north of the city (no climate)
    assert at(77.05, 43.05) in (2, 3)  # the crest of the Ile Alatau
    assert at(75.7, 43.45) == LAKE
    assert at(77.05, 42.97) in (1, 2, 3)  # glacier: in the mountain class of its elevation


def test_polygons_and_grid_agree_on_areas(almaty):
    p = ecosystem_polygons(almaty)
    assert set(p["kind"]) == {"mountain", "other"}
    assert set(p["dem_source"]) == {SOURCE_FINE, SOURCE_COARSE}
    assert p.geometry.is_valid.all()
    total = grid_areas(almaty)["area_ha"].sum()
    assert p["area_ha"].sum() == pytest.approx(total, rel=1e-3)
    a = ecosystem_areas(p)
    assert a.groupby("iso3")["share"].sum().iloc[0] == pytest.approx(1.0)


def test_grid_round_trips_through_geotiff(almaty, tmp_path):
    path = almaty.write(tmp_path / "eco.tif")
    back = EcosystemGrid.read(path)
    np.testing.assert_array_equal(back.classes, almaty.classes)
    np.testing.assert_array_equal(back.source, almaty.source)
    assert back.countries == ["KAZ"] and back.transform == almaty.transform


def test_projected_dem_is_refused(tmp_path):
    from tests.geo.conftest import write_raster

    dem = write_raster(
        tmp_path / "utm.tif",
        np.ones((5, 5), dtype="int16"),
        from_origin(500000, 4800000, 100, 100),
        crs="EPSG:32643",
    )
    c = gpd.GeoDataFrame({"iso_a3": ["KAZ"]}, geometry=[box(76, 43, 77, 44)], crs=4326)
    with pytest.raises(CRSMismatch, match="lon/lat"):
        classify_region(c, dem)


def test_bad_parameters_are_refused():
    c = gpd.GeoDataFrame({"iso_a3": ["KAZ"]}, geometry=[box(76, 43, 77, 44)], crs=4326)
    with pytest.raises(InvalidInput, match="resolution"):
        classify_region(c, COARSE, resolution_deg=2.0)
    with pytest.raises(InvalidInput, match="iso"):
        classify_region(c.rename(columns={"iso_a3": "x"}), COARSE)
