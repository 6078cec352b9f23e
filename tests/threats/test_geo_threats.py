"""geo.threats: a threat's status over time, and reading reported footprints."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from shapely.geometry import Point, box, mapping

from geo.crs import geodesic_area_m2
from geo.errors import InvalidGeometry, InvalidInput, OutsideRegion, UnreadableFile
from geo.threats import (
    footprint_area_ha,
    footprint_length_km,
    read_footprint,
    status_as_of,
    threatened_in_year,
    timeline,
)

D = dt.date


@pytest.fixture
def changes() -> pd.DataFrame:
    # threat 1 is Kok-Jailau-like: proposed, approved, halted, back to proposed
    return pd.DataFrame(
        [
            (1, "proposed", D(2011, 3, 1), "s1"),
            (1, "approved", D(2014, 6, 1), "s2"),
            (1, "halted", D(2019, 10, 15), "s3"),
            (1, "proposed", D(2025, 2, 1), "s4"),
            (2, "under_construction", D(2020, 5, 1), "s5"),
            (2, "active", D(2021, 1, 1), "s6"),
            (3, "proposed", D(2018, 1, 1), "s7"),
            (3, "halted", D(2018, 12, 31), "s8"),
        ],
        columns=["threat_id", "status", "changed_on", "source"],
    )


def test_status_as_of_takes_the_change_in_force(changes: pd.DataFrame) -> None:
    got = status_as_of(changes, D(2019, 6, 1)).set_index("threat_id")
    assert got["status"].to_dict() == {1: "approved", 3: "halted"}
    assert got.loc[1, "source"] == "s2"
    assert bool(got.loc[1, "live"]) and not bool(got.loc[3, "live"])


def test_status_as_of_counts_a_change_on_that_day(changes: pd.DataFrame) -> None:
    got = status_as_of(changes, D(2019, 10, 15)).set_index("threat_id")
    assert got.loc[1, "status"] == "halted"
    assert status_as_of(changes, D(2019, 10, 14)).set_index("threat_id").loc[1, "status"] == (
        "approved"
    )


def test_status_as_of_and_back(changes: pd.DataFrame) -> None:
    got = status_as_of(changes, D(2025, 6, 1)).set_index("threat_id")
    assert got["status"].to_dict() == {1: "proposed", 2: "active", 3: "halted"}


def test_nothing_known_before_the_first_change(changes: pd.DataFrame) -> None:
    assert status_as_of(changes, D(2000, 1, 1)).empty


def test_threatened_in_a_year(changes: pd.DataFrame) -> None:
    # 2019: threat 1 approved until October; 3 halted at the end of 2018; 2 not yet recorded
    assert threatened_in_year(changes, 2019) == [1]
    assert threatened_in_year(changes, 2018) == [1, 3]
    assert threatened_in_year(changes, 2020) == [2]


def test_timeline_periods(changes: pd.DataFrame) -> None:
    t = timeline(changes[changes["threat_id"] == 1], until=D(2026, 1, 1))
    assert t["status"].tolist() == ["proposed", "approved", "halted", "proposed"]
    assert t["end"].tolist() == [D(2014, 6, 1), D(2019, 10, 15), D(2025, 2, 1), D(2026, 1, 1)]
    assert t["days"].iloc[0] == (D(2014, 6, 1) - D(2011, 3, 1)).days


def test_unknown_status_is_refused(changes: pd.DataFrame) -> None:
    bad = changes.copy()
    bad.loc[0, "status"] = "rumoured"
    with pytest.raises(InvalidInput, match="rumoured"):
        status_as_of(bad, D(2020, 1, 1))


KOK = box(76.96, 43.12, 77.0, 43.15)


def test_read_drawn_feature_collection() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": mapping(KOK), "properties": {}}],
    }
    geom = read_footprint(json.dumps(fc))
    assert geom.equals(KOK)
    assert footprint_area_ha(geom) == pytest.approx(geodesic_area_m2(KOK) / 1e4)


def test_bowtie_is_repaired() -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[77, 43], [77.1, 43.1], [77.1, 43], [77, 43.1], [77, 43]]],
    }
    geom = read_footprint(json.dumps(bowtie))
    assert geom.is_valid and geom.area > 0


def test_outside_the_region_is_refused() -> None:
    with pytest.raises(OutsideRegion, match="not inside the region"):
        read_footprint(json.dumps(mapping(box(2.3, 48.8, 2.4, 48.9))))  # Paris


def test_lat_lon_swapped_is_refused() -> None:
    with pytest.raises(OutsideRegion, match="longitude, latitude"):
        read_footprint(json.dumps(mapping(Point(43.14, 76.98))))


def test_nothing_drawn() -> None:
    with pytest.raises(InvalidGeometry, match="draw the threat"):
        read_footprint("")
    with pytest.raises(InvalidGeometry, match="no geometry"):
        read_footprint(json.dumps({"type": "FeatureCollection", "features": []}))


def test_not_geojson() -> None:
    with pytest.raises(InvalidGeometry, match="not valid GeoJSON"):
        read_footprint("{not json")


KML = b"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>road</name>
<LineString><coordinates>76.95,43.10 76.99,43.14 77.02,43.16</coordinates></LineString>
</Placemark></Document></kml>"""


def test_read_kml_file() -> None:
    geom = read_footprint(data=KML, filename="road.kml")
    assert geom.geom_type == "LineString"
    assert geom.coords[0] == pytest.approx((76.95, 43.10))
    # along the ellipsoid (pyproj's geodesic), not degrees; PostGIS geography agrees (API test)
    assert footprint_length_km(geom) == pytest.approx(8.81, abs=0.01)
    assert footprint_length_km(KOK) == 0


def test_read_geojson_file_in_another_crs() -> None:
    # EPSG:32643 (UTM 43N) coordinates of a point near Almaty
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32643"}},
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [661000, 4778000]},
            }
        ],
    }
    geom = read_footprint(data=json.dumps(fc).encode(), filename="site.geojson")
    assert 76.5 < geom.x < 77.5 and 43 < geom.y < 43.3


def test_unreadable_file() -> None:
    with pytest.raises(UnreadableFile, match=r"x\.kml"):
        read_footprint(data=b"\x00\x01garbage", filename="x.kml")
    with pytest.raises(UnreadableFile, match=r"y\.geojson"):
        read_footprint(data=b'{"type": "FeatureCollection", "features": [', filename="y.geojson")
