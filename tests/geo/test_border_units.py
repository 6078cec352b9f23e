"""A planning unit on a border counts for each country by the habitat it holds there."""

from __future__ import annotations

import pytest

import geopandas as gpd
from shapely.geometry import box

from geo.planning_units import feature_columns, hex_grid, unit_values

TWO = gpd.GeoDataFrame(
    {"iso_a3": ["AAA", "BBB"]}, geometry=[box(74, 41, 75, 42), box(75, 41, 76, 42)], crs=4326
)


def test_border_hexagons_contribute_to_each_country_by_intersection() -> None:
    units = hex_grid(TWO, 4)
    # one species' habitat in both countries, split at the border as habitat runs store it
    hab = gpd.GeoDataFrame(
        {"species": ["s", "s"], "ecosystem": ["mountain"] * 2, "iso3": ["AAA", "BBB"]},
        geometry=[box(74.5, 41.2, 75.0, 41.8), box(75.0, 41.2, 75.5, 41.8)],
        crs=4326,
    )
    out = unit_values(units, habitat=hab, by_country=True)
    cols = feature_columns(out)
    assert cols == ["habitat:s|mountain|AAA", "habitat:s|mountain|BBB"]
    ea = hab.to_crs(6933)
    for col, iso in zip(cols, ("AAA", "BBB"), strict=True):
        # independent: the habitat of that country in equal area, all units together
        assert out[col].sum() == pytest.approx(ea[ea["iso3"] == iso].area.sum() / 1e6, rel=1e-6)
    # units whose majority country is AAA still hold BBB habitat where they cross the border
    crossing = out[(out["iso3"] == "AAA") & (out["habitat:s|mountain|BBB"] > 0)]
    assert not crossing.empty
    u = units.loc[crossing.index[0]]
    piece = gpd.GeoDataFrame(geometry=[u.geometry.intersection(hab.geometry[1])], crs=4326).to_crs(
        6933
    )
    assert crossing["habitat:s|mountain|BBB"].iloc[0] == pytest.approx(
        piece.area.iloc[0] / 1e6, rel=1e-6
    )
