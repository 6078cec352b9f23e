"""geo.crs.geodesic_area_m2: the one geodesic area, whatever the winding of the rings.

Checked against pyproj's Geod.geometry_area_perimeter on each part given a consistent
orientation, and against PostGIS's geography area (an independent implementation of the
same ellipsoidal measure).
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient

from geo.crs import geodesic_area_m2
from geo.raster import cell_areas_m2

GEOD = Geod(ellps="WGS84")

CCW = box(76.80, 43.00, 76.95, 43.12)  # shapely's box is counter-clockwise
CW = shapely.reverse(box(77.00, 43.00, 77.20, 43.10))
# a polygon whose hole is wound like its exterior (both counter-clockwise)
HOLED_SAME_WINDING = Polygon(
    CCW.exterior.coords, [list(box(76.85, 43.03, 76.90, 43.08).exterior.coords)]
)
MIXED = MultiPolygon([CCW, CW])
MIXED_WITH_HOLE = MultiPolygon([HOLED_SAME_WINDING, CW])


def pyproj_by_part(geom: shapely.Geometry) -> float:
    """Each polygon oriented exterior-CCW / holes-CW, measured by pyproj, summed."""
    return sum(
        GEOD.geometry_area_perimeter(orient(p, sign=1.0))[0] for p in shapely.get_parts(geom)
    )


def test_the_windings_really_are_opposite() -> None:
    assert CCW.exterior.is_ccw and not CW.exterior.is_ccw
    # the raw pyproj sum of the mixed multipolygon cancels out: the bug this guards against
    raw = GEOD.geometry_area_perimeter(MIXED)[0]
    assert abs(raw) < 0.5 * pyproj_by_part(MIXED)


@pytest.mark.parametrize(
    "geom",
    [CCW, CW, HOLED_SAME_WINDING, MIXED, MIXED_WITH_HOLE],
    ids=["ccw", "cw", "hole-same-winding", "multi-mixed", "multi-mixed-with-hole"],
)
def test_area_matches_pyproj_per_part(geom: shapely.Geometry) -> None:
    expected = pyproj_by_part(geom)
    assert expected > 1e7
    assert geodesic_area_m2(geom) == pytest.approx(expected, rel=1e-9)


def test_a_hole_is_taken_away_and_parts_add_up() -> None:
    hole = box(76.85, 43.03, 76.90, 43.08)
    assert geodesic_area_m2(HOLED_SAME_WINDING) == pytest.approx(
        geodesic_area_m2(CCW) - geodesic_area_m2(hole), rel=1e-9
    )
    assert geodesic_area_m2(MIXED_WITH_HOLE) == pytest.approx(
        geodesic_area_m2(HOLED_SAME_WINDING) + geodesic_area_m2(CW), rel=1e-9
    )
    assert geodesic_area_m2(shapely.reverse(MIXED)) == pytest.approx(
        geodesic_area_m2(MIXED), rel=1e-12
    )


def test_points_and_lines_have_no_area() -> None:
    assert geodesic_area_m2(shapely.Point(77, 43)) == 0.0
    assert geodesic_area_m2(shapely.LineString([(77, 43), (78, 44)])) == 0.0
    assert geodesic_area_m2(None) == 0.0
    collection = shapely.GeometryCollection([shapely.Point(77, 43), CW])
    assert geodesic_area_m2(collection) == pytest.approx(geodesic_area_m2(CW), rel=1e-12)


@pytest.mark.parametrize(
    "geom", [CCW, CW, HOLED_SAME_WINDING, MIXED, MIXED_WITH_HOLE], ids=lambda g: g.geom_type
)
def test_area_matches_postgis_geography(engine: Engine, geom: shapely.Geometry) -> None:
    with engine.connect() as conn:
        postgis = conn.execute(
            text("SELECT ST_Area(ST_GeomFromText(:wkt, 4326)::geography, true)"),
            {"wkt": geom.wkt},
        ).scalar_one()
    assert geodesic_area_m2(geom) == pytest.approx(float(postgis), rel=1e-6)


def test_raster_cell_areas_use_the_same_geodesic_measure() -> None:
    from rasterio.transform import from_origin

    areas = cell_areas_m2(from_origin(76.0, 44.0, 0.5, 0.5), 2, 1, "EPSG:4326")
    expected = geodesic_area_m2(box(76.0, 43.5, 76.5, 44.0))
    assert areas[0, 0] == pytest.approx(expected, rel=1e-12)
    assert np.all(areas > 0)
