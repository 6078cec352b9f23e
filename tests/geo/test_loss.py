"""Habitat loss (geo.loss): footprints with status and dates, raster epochs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
from rasterio.transform import from_origin
from shapely.geometry import LineString, box

from geo.crs import geodesic_area_m2
from geo.errors import CRSMismatch
from geo.loss import footprint_loss, loss_timeline, raster_change, zones_from


def threats():  # type: ignore[no-untyped-def]
    return gpd.GeoDataFrame(
        {
            "id": [1, 2],
            "name": ["resort", "road"],
            "kind": ["ski_resort", "road"],
            "status": ["proposed", "active"],
            "proposed_on": [dt.date(2011, 1, 1), None],
        },
        geometry=[box(77.0, 43.1, 77.1, 43.2), LineString([(77, 43), (78, 44)])],
        crs=4326,
    )


def test_footprint_areas_of_each_layer():
    park = gpd.GeoDataFrame(
        {"id": [5], "name": ["park"]}, geometry=[box(76.9, 43.0, 77.05, 43.3)], crs=4326
    )
    hab = gpd.GeoDataFrame(
        {"id": [8], "species": ["Panthera uncia"]},
        geometry=[box(77.0, 43.15, 77.2, 43.3)],
        crs=4326,
    )
    r = footprint_loss(threats(), {"protected_area": park, "habitat": hab})
    assert set(r["threat_id"]) == {1}  # the road is a line: no footprint area
    by = r.set_index("layer")
    assert by.loc["protected_area", "area_ha"] == pytest.approx(
        geodesic_area_m2(box(77.0, 43.1, 77.05, 43.2)) / 1e4, rel=1e-3
    )
    assert by.loc["habitat", "share_of_threat"] == pytest.approx(0.5, rel=2e-3)
    assert by.loc["habitat", "feature_label"] == "Panthera uncia"
    assert by.loc["habitat", "status"] == "proposed"
    assert by.loc["habitat", "proposed_on"] == dt.date(2011, 1, 1)


def test_timeline_follows_status_changes():
    park = gpd.GeoDataFrame({"id": [5]}, geometry=[box(76.9, 43.0, 77.05, 43.3)], crs=4326)
    r = footprint_loss(threats(), {"protected_area": park})
    sc = pd.DataFrame(
        {
            "threat_id": [1, 1],
            "status": ["approved", "halted"],
            "changed_on": [dt.date(2014, 1, 1), dt.date(2019, 10, 1)],
        }
    )
    tl = loss_timeline(r, sc)
    assert list(tl["status"]) == ["approved", "halted"]
    assert tl["area_ha"].nunique() == 1


def test_no_overlap_gives_an_empty_result():
    far = gpd.GeoDataFrame({"id": [1]}, geometry=[box(60, 40, 61, 41)], crs=4326)
    r = footprint_loss(threats(), {"park": far})
    assert r.empty and "area_ha" in r.columns


@pytest.fixture
def epochs(raster_factory):  # type: ignore[no-untyped-def]
    t = from_origin(0, 1000, 100, 100)  # 100 m equal-area pixels: 1 ha each
    a = np.ones((10, 10), dtype="uint8")
    b = a.copy()
    b[:, :3] = 0  # 30 ha lost
    c = b.copy()
    c[0, :] = 255  # a row without data
    return {
        "2000": raster_factory(a, t, crs="EPSG:6933"),
        "2010": raster_factory(b, t, crs="EPSG:6933"),
        "2020": raster_factory(c, t, crs="EPSG:6933", nodata=255),
    }


def test_raster_change_per_zone(epochs):
    z = gpd.GeoDataFrame(
        {"zid": [1, 2]}, geometry=[box(0, 0, 1000, 1000), box(0, 0, 250, 500)], crs=6933
    )
    r = raster_change(epochs, z, "zid").set_index(["zid", "epoch"])
    assert r.loc[(1, "2000"), "habitat_ha"] == pytest.approx(100)
    assert r.loc[(1, "2010"), "change_ha"] == pytest.approx(-30)
    assert r.loc[(2, "2010"), "change_pct"] == pytest.approx(-100)  # 2.5 columns, all lost
    assert r.loc[(1, "2020"), "nodata_ha"] == pytest.approx(10)
    assert r.loc[(1, "2020"), "habitat_ha"] == pytest.approx(63)


def test_raster_change_refuses_a_non_equal_area_raster(raster_factory):
    p = raster_factory(
        np.ones((4, 4), dtype="uint8"), from_origin(500000, 4800000, 100, 100), crs="EPSG:32643"
    )
    z = gpd.GeoDataFrame({"zid": [1]}, geometry=[box(75, 43, 75.01, 43.01)], crs=4326)
    with pytest.raises(CRSMismatch):
        raster_change({"a": p}, z, "zid")


def test_zones_from_several_layers():
    park = gpd.GeoDataFrame({"id": [5], "name": ["park"]}, geometry=[box(0, 40, 1, 41)], crs=4326)
    c = gpd.GeoDataFrame({"id": ["KAZ"]}, geometry=[box(0, 40, 2, 41)], crs=4326)
    z = zones_from({"protected_area": park, "country": c})
    assert list(z["zone"]) == ["protected_area:5", "country:KAZ"]


def test_cleared_footprint_is_the_loss(epochs, tmp_path):
    from geo.loss import clear_footprints

    fp = gpd.GeoDataFrame(geometry=[box(0, 0, 300, 1000)], crs=6933)
    after = clear_footprints(epochs["2000"], fp, tmp_path / "after.tif")
    z = gpd.GeoDataFrame({"zid": [1]}, geometry=[box(0, 0, 1000, 1000)], crs=6933)
    r = raster_change({"before": epochs["2000"], "after": after}, z, "zid")
    assert r.set_index("epoch").loc["after", "change_ha"] == pytest.approx(-30)
