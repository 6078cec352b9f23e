"""The one set of Protected Planet rules (geo.protected_planet), and that gaps, planning units
and threat dossiers all follow it.

Each rule is checked against an independent computation: pyproj's geodesic area of boxes
whose union is known by construction (the expected protected area is written down from the
boxes that should count, never from the code under test).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import geopandas as gpd
import shapely
from pyproj import Geod
from shapely.geometry import Point, box

from geo import protected_planet as pp
from geo.gaps import coverage_gaps
from geo.planning_units import protected_polygons
from layers.threats import overlaps

GEOD = Geod(ellps="WGS84")

#: The habitat: one box of 0.4 x 0.2 degrees; the candidate sites are its four quarters.
HABITAT = box(75.0, 42.0, 75.4, 42.2)
QUARTERS = [box(75.0 + 0.1 * i, 42.0, 75.1 + 0.1 * i, 42.2) for i in range(4)]


def geodesic_ha(geom: shapely.Geometry) -> float:
    """pyproj on a counter-clockwise polygon: independent of geo.crs."""
    return abs(GEOD.geometry_area_perimeter(shapely.geometry.polygon.orient(geom))[0]) / 1e4


def sites(rows: list[tuple[str, str | None, float | None, shapely.Geometry]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "status": [r[0] for r in rows],
            "designation": [r[1] for r in rows],
            "reported_area_km2": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=4326,
    )


def protected_ha(pas: gpd.GeoDataFrame) -> float:
    hab = gpd.GeoDataFrame(
        {"species": ["Panthera uncia"], "ecosystem": ["mountain"], "iso3": ["KGZ"]},
        geometry=[HABITAT],
        crs=4326,
    )
    table, _ = coverage_gaps(hab, pas)
    return float(table["protected_ha"].iloc[0])


@pytest.mark.parametrize(
    ("status", "designation"),
    [
        ("Proposed", "National Park"),
        ("Not Reported", "National Park"),
        ("Designated", "UNESCO-MAB Biosphere Reserve"),
        ("Designated", "unesco-mab biosphere reserve "),
    ],
    ids=["proposed", "not-reported", "unesco-mab", "unesco-mab-spelling"],
)
def test_each_exclusion_leaves_its_site_out(status: str, designation: str) -> None:
    pas = sites(
        [
            ("Designated", "National Park", None, QUARTERS[0]),
            (status, designation, None, QUARTERS[1]),
        ]
    )
    assert pp.counted(pas).tolist() == [True, False]
    expected = geodesic_ha(QUARTERS[0])
    assert protected_ha(pas) == pytest.approx(expected, rel=2e-4)
    surface = pp.protected_surface(pas)
    assert pp.protected_area_ha(surface) == pytest.approx(expected, rel=2e-4)


def test_a_national_biosphere_reserve_is_not_the_unesco_designation() -> None:
    """State Biosphere Reserves (zapovedniks) are national designations and count."""
    pas = sites([("Designated", "State Biosphere Reserve", None, QUARTERS[0])])
    assert pp.counted(pas).tolist() == [True]
    assert protected_ha(pas) == pytest.approx(geodesic_ha(QUARTERS[0]), rel=2e-4)


def test_overlaps_are_dissolved() -> None:
    a = box(75.0, 42.0, 75.2, 42.2)
    b = box(75.1, 42.0, 75.3, 42.2)
    pas = sites([("Designated", None, None, a), ("Inscribed", None, None, b)])
    expected = geodesic_ha(box(75.0, 42.0, 75.3, 42.2))
    assert protected_ha(pas) == pytest.approx(expected, rel=2e-4)


def test_a_point_is_a_circle_of_its_reported_area() -> None:
    pas = sites(
        [
            ("Designated", None, 25.0, Point(75.2, 42.1)),
            ("Designated", None, None, Point(75.05, 42.05)),  # no reported area: left out
        ]
    )
    circle = pp.protected_surface(pas)
    assert geodesic_ha(circle) == pytest.approx(2500.0, rel=1e-6)
    assert circle.contains(Point(75.2, 42.1)) and not circle.contains(Point(75.05, 42.05))
    # a multipoint shares its area among its points
    multi = sites([("Designated", None, 30.0, shapely.MultiPoint([(75.1, 42.1), (75.3, 42.1)]))])
    parts = shapely.get_parts(pp.protected_surface(multi))
    assert [round(geodesic_ha(p)) for p in parts] == [1500, 1500]


def test_areas_are_equal_area_not_degrees() -> None:
    """Two boxes of the same size in degrees, far apart in latitude, have different areas."""
    south = sites([("Designated", None, None, box(70.0, 37.0, 70.2, 37.2))])
    north = sites([("Designated", None, None, box(70.0, 54.0, 70.2, 54.2))])
    s = pp.protected_area_ha(pp.protected_surface(south))
    n = pp.protected_area_ha(pp.protected_surface(north))
    assert s == pytest.approx(geodesic_ha(box(70.0, 37.0, 70.2, 37.2)), rel=2e-4)
    assert n == pytest.approx(geodesic_ha(box(70.0, 54.0, 70.2, 54.2)), rel=2e-4)
    assert s / n > 1.3


def test_planning_units_follow_the_same_rules() -> None:
    pas = sites(
        [
            ("Designated", "National Park", None, QUARTERS[0]),
            ("Not Reported", None, None, QUARTERS[1]),
            ("Designated", "UNESCO-MAB Biosphere Reserve", None, QUARTERS[2]),
            ("Proposed", None, None, QUARTERS[3]),
            ("Designated", None, 10.0, Point(76.0, 42.5)),
        ]
    )
    polys = protected_polygons(pas)
    assert len(polys) == 2
    assert shapely.equals(polys.geometry.iloc[0], QUARTERS[0])
    assert geodesic_ha(polys.geometry.iloc[1]) == pytest.approx(1000.0, rel=1e-6)


def test_threat_dossiers_follow_the_same_rules(engine: Engine, demo: dict[str, int]) -> None:
    """A footprint over four test sites: only the counted ones are listed, and a point site
    is measured as the circle of its reported area."""
    footprint = box(60.0, 50.0, 60.4, 50.2)  # in the steppe, far from the demo's sites
    quarters = [box(60.0 + 0.1 * i, 50.0, 60.1 + 0.1 * i, 50.2) for i in range(4)]
    with engine.connect() as conn, conn.begin() as tx:
        for i, (status, desig) in enumerate(
            [
                ("Designated", "National Park"),
                ("Not Reported", "National Park"),
                ("Designated", "UNESCO-MAB Biosphere Reserve"),
                ("Proposed", "Nature Reserve"),
            ]
        ):
            conn.execute(
                text(
                    "INSERT INTO protected_areas (name, status, designation, is_oecm, source, "
                    "licence, method, geom) VALUES (:n, :s, :d, false, 'test', 'test', 'example', "
                    "ST_Multi(ST_GeomFromText(:wkt, 4326)))"
                ),
                {"n": f"PP test {i}", "s": status, "d": desig, "wkt": quarters[i].wkt},
            )
        # a point 3 km outside the footprint whose 100 km² circle (radius ~5.6 km) reaches in
        conn.execute(
            text(
                "INSERT INTO protected_areas (name, status, reported_area_km2, is_oecm, source, "
                "licence, method, geom) VALUES ('PP test point', 'Designated', 100, false, 'test', 'test', "
                "'example', ST_SetSRID(ST_MakePoint(60.2, 49.973), 4326))"
            )
        )
        got = overlaps(conn, footprint)
        tx.rollback()
    rows = {r["name"]: r for r in got["protected_areas"]}
    assert set(rows) == {"PP test 0", "PP test point"}
    assert rows["PP test 0"]["overlap_ha"] == pytest.approx(geodesic_ha(quarters[0]), rel=2e-4)
    circle = pp.geodesic_circle(60.2, 49.973, 100e6)
    expected = geodesic_ha(shapely.intersection(circle, footprint))
    assert expected > 100
    assert rows["PP test point"]["overlap_ha"] == pytest.approx(expected, rel=2e-3)
