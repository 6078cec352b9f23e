"""Coverage gaps (geo.gaps): the Protected Planet rules on hand-made layers."""

from __future__ import annotations

import pytest

import geopandas as gpd
from shapely.geometry import Point, box

from geo.crs import geodesic_area_m2
from geo.errors import InvalidInput
from geo.gaps import coverage_gaps, geodesic_circle, protected_surface, side_by_side


def ha(g) -> float:  # type: ignore[no-untyped-def]
    return geodesic_area_m2(g) / 1e4


def pas(rows):  # type: ignore[no-untyped-def]
    return gpd.GeoDataFrame(
        {"status": [r[0] for r in rows], "reported_area_km2": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=4326,
    )


def habitat():  # type: ignore[no-untyped-def]
    return gpd.GeoDataFrame(
        {
            "species": ["Panthera uncia", "Gazella subgutturosa"],
            "ecosystem": ["mountain", "arid_lowland"],
            "iso3": ["KGZ", "KAZ"],
        },
        geometry=[box(75.0, 42.0, 75.4, 42.2), box(70.0, 45.0, 70.4, 45.2)],
        crs=4326,
    )


def test_point_buffer_has_the_reported_area():
    c = geodesic_circle(77.0, 43.0, 250e6)
    assert geodesic_area_m2(c) == pytest.approx(250e6, rel=1e-6)


def test_proposed_left_out_overlaps_dissolved_points_buffered():
    p = pas(
        [
            ("Designated", None, box(75.0, 42.0, 75.2, 42.2)),
            ("Designated", None, box(75.1, 42.0, 75.3, 42.2)),  # overlaps the first by half
            ("Proposed", None, box(75.3, 42.0, 75.4, 42.2)),
            ("Designated", 10.0, Point(80.0, 44.0)),
            ("Designated", None, Point(81.0, 44.0)),  # no reported area: left out
        ]
    )
    s = protected_surface(p)
    expected = ha(box(75.0, 42.0, 75.3, 42.2)) + 1000.0
    assert ha(s) == pytest.approx(expected, rel=1e-4)


def test_shares_protected_funded_threatened_and_gaps():
    p = pas(
        [
            ("Designated", None, box(75.0, 42.0, 75.2, 42.2)),
            ("Designated", None, box(75.1, 42.0, 75.2, 42.2)),
        ]
    )
    sites = gpd.GeoDataFrame(geometry=[box(75.3, 42.0, 75.4, 42.2)], crs=4326)
    threats = gpd.GeoDataFrame(
        geometry=[box(75.15, 42.0, 75.25, 42.2), Point(75.3, 42.1)], crs=4326
    )
    table, gaps = coverage_gaps(habitat(), p, sites, threats)
    row = table.set_index("species").loc["Panthera uncia"]
    assert row["share_protected"] == pytest.approx(0.5, rel=2e-3)
    assert row["share_funded"] == pytest.approx(0.25, rel=2e-3)
    assert row["share_threatened"] == pytest.approx(0.25, rel=2e-3)
    assert row["gap_ha"] == pytest.approx(ha(box(75.2, 42.0, 75.3, 42.2)), rel=2e-3)
    gaz = table.set_index("species").loc["Gazella subgutturosa"]
    assert gaz["share_protected"] == 0 and gaz["share_gap"] == pytest.approx(1.0)
    assert list(gaps["rank"]) == [1, 2]
    assert gaps["area_ha"].is_monotonic_decreasing
    assert gaps.iloc[0]["species"] == "Gazella subgutturosa"
    s = side_by_side(table)
    assert {"mountain", "arid_lowland"} <= set(s.columns.get_level_values(1))


def test_no_habitat_gives_empty_results():
    empty = habitat().iloc[0:0]
    table, gaps = coverage_gaps(empty, None)
    assert table.empty and gaps.empty


def test_habitat_without_keys_is_refused():
    with pytest.raises(InvalidInput, match="species"):
        coverage_gaps(habitat().drop(columns="species"), None)


def test_multipoint_shares_its_reported_area_and_columns_are_kept():
    from shapely.geometry import MultiPoint

    from geo.gaps import pa_polygons

    p = pas([("Designated", 20.0, MultiPoint([(70, 40), (72, 40)]))]).assign(name=["twin"])
    out = pa_polygons(p)
    assert list(out["name"]) == ["twin"]
    assert ha(out.geometry.iloc[0]) == pytest.approx(2000.0, rel=1e-5)
