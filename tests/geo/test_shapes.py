"""The one polygonal-part helper (geo.shapes): collections at any depth, empties, lines, points."""

from __future__ import annotations

import numpy as np
import pytest

import shapely
from shapely import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from geo.shapes import polygonal_part, polygonal_parts

A, B, C = box(0, 0, 1, 1), box(2, 0, 3, 1), box(4, 0, 5, 2)
LINE = LineString([(0, 0), (5, 5)])


def test_polygons_and_multipolygons_become_multipolygons_unchanged() -> None:
    parts, dropped = polygonal_parts([A, MultiPolygon([A, B])])
    assert [p.geom_type for p in parts] == ["MultiPolygon", "MultiPolygon"]
    assert parts[0].equals(MultiPolygon([A])) and parts[1].equals(MultiPolygon([A, B]))
    assert not dropped.any()


def test_collections_at_any_depth_keep_every_polygon() -> None:
    nested = GeometryCollection([MultiPolygon([A, B]), GeometryCollection([C, Point(9, 9)]), LINE])
    part = polygonal_part(nested)
    assert part.geom_type == "MultiPolygon" and len(part.geoms) == 3
    assert part.area == pytest.approx(A.area + B.area + C.area)
    assert polygonal_parts([nested])[1].tolist() == [True]


@pytest.mark.parametrize(
    "geom",
    [
        None,
        Polygon(),
        MultiPolygon(),
        GeometryCollection(),
        LINE,
        MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
        Point(1, 1),
        MultiPoint([(0, 0), (1, 1)]),
        GeometryCollection([LINE, Point(0, 0)]),
    ],
    ids=lambda g: "None" if g is None else g.wkt[:24],
)
def test_no_polygonal_part_gives_an_empty_multipolygon(geom) -> None:  # type: ignore[no-untyped-def]
    part = polygonal_part(geom)
    assert part.geom_type == "MultiPolygon" and part.is_empty


def test_dropped_flags_only_non_empty_points_and_lines() -> None:
    geoms = [
        A,
        GeometryCollection([A, LINE]),
        GeometryCollection([A, Polygon()]),
        LINE,
        None,
        Polygon(),
    ]
    parts, dropped = polygonal_parts(geoms)
    assert dropped.tolist() == [False, True, False, True, False, False]
    assert [p.is_empty for p in parts] == [False, False, False, True, True, True]


def test_empty_input_and_arrays() -> None:
    parts, dropped = polygonal_parts([])
    assert len(parts) == 0 and len(dropped) == 0
    arr = np.array([A, None, GeometryCollection([B, LINE])], dtype=object)
    parts, _ = polygonal_parts(arr)
    assert shapely.area(parts).tolist() == [1.0, 0.0, 1.0]


def test_the_input_is_not_changed_and_nothing_is_unioned() -> None:
    """Two touching squares stay two parts (no union); the input array is left alone."""
    touching = GeometryCollection([box(0, 0, 1, 1), box(1, 0, 2, 1), LINE])
    arr = np.array([touching], dtype=object)
    part = polygonal_parts(arr)[0][0]
    assert len(part.geoms) == 2
    assert arr[0] is touching


def test_make_valid_output_of_a_bowtie() -> None:
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    part = polygonal_part(shapely.make_valid(bowtie))
    assert part.is_valid and len(part.geoms) == 2 and part.area == pytest.approx(2.0)
