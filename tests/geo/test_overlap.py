"""Overlaps (geo.overlap): hand-checkable squares, several layers, bad input."""

from __future__ import annotations

import pytest

import geopandas as gpd
from shapely.geometry import Polygon, box

from geo.crs import geodesic_area_m2
from geo.errors import InvalidInput, MissingCRS
from geo.overlap import overlap, overlap_table


def layer(*geoms, ids=None, crs=4326):  # type: ignore[no-untyped-def]
    ids = ids or list(range(1, len(geoms) + 1))
    return gpd.GeoDataFrame({"id": ids}, geometry=list(geoms), crs=crs)


def test_two_squares_overlapping_by_a_known_area():
    a = layer(box(76.0, 43.0, 76.2, 43.2))
    b = layer(box(76.1, 43.1, 76.3, 43.3), ids=[9])
    r = overlap({"a": a, "b": b}, id_cols={"a": "id", "b": "id"})
    assert len(r) == 1 and r["a_id"].iloc[0] == 1 and r["b_id"].iloc[0] == 9
    piece = geodesic_area_m2(box(76.1, 43.1, 76.2, 43.2)) / 1e4
    assert r["area_ha"].iloc[0] == pytest.approx(piece, rel=1e-3)
    assert r["share_a"].iloc[0] == pytest.approx(
        piece / (geodesic_area_m2(box(76.0, 43.0, 76.2, 43.2)) / 1e4), rel=1e-3
    )
    assert r["share_b"].iloc[0] == pytest.approx(0.25, rel=2e-3)


def test_three_layers_and_a_table():
    a = layer(box(0, 40, 1, 41))
    b = layer(box(0.5, 40, 1.5, 41), box(0, 40.5, 1, 41.5))
    c = layer(box(0, 40, 2, 40.75))
    r = overlap({"a": a, "b": b, "c": c}, id_cols={"a": "id", "b": "id", "c": "id"})
    assert sorted(r["b_id"]) == [1, 2]
    t = overlap_table(r)
    assert "geometry" not in t.columns and t["area_ha"].is_monotonic_decreasing


def test_layers_in_other_crs_give_the_same_pieces():
    a = layer(box(76.0, 43.0, 76.2, 43.2))
    b = layer(box(76.1, 43.1, 76.3, 43.3))
    r1 = overlap({"a": a, "b": b})
    r2 = overlap({"a": a.to_crs(32643), "b": b.to_crs(3857)})
    assert r2["area_ha"].iloc[0] == pytest.approx(r1["area_ha"].iloc[0], rel=1e-4)


def test_empty_intersection_is_an_empty_layer():
    r = overlap({"a": layer(box(0, 40, 1, 41)), "b": layer(box(5, 40, 6, 41))})
    assert r.empty and {"a_id", "b_id", "area_ha", "share_a", "share_b"} <= set(r.columns)


def test_invalid_geometry_is_repaired():
    bowtie = Polygon([(0, 40), (1, 41), (1, 40), (0, 41), (0, 40)])
    assert not bowtie.is_valid
    r = overlap({"a": layer(bowtie), "b": layer(box(0, 40, 1, 41))})
    # the repaired bow-tie is two triangles, half of the square
    assert r["share_b"].sum() == pytest.approx(0.5, rel=1e-2)


def test_bad_input_is_refused():
    with pytest.raises(InvalidInput, match="two or more"):
        overlap({"a": layer(box(0, 40, 1, 41))})
    no_crs = gpd.GeoDataFrame({"id": [1]}, geometry=[box(0, 40, 1, 41)])
    with pytest.raises(MissingCRS):
        overlap({"a": no_crs, "b": layer(box(0, 40, 1, 41))})
