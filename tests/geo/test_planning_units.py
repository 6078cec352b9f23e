"""Planning units: the H3 grid, per-unit values measured in equal area, costs and boundaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3
import shapely
from pyproj import Geod
from shapely.geometry import Point, box

from geo.crs import geodesic_area_m2
from geo.errors import InvalidInput, SchemaMismatch, TooLarge
from geo.planning_units import (
    CostModel,
    feature_columns,
    geodesic_circle,
    habitat_from_regions,
    hex_grid,
    nearest_km,
    overlap_mask,
    unit_boundaries,
    unit_costs,
    unit_values,
)

DATA = Path(__file__).resolve().parents[2] / "data"
AREA = gpd.GeoDataFrame({"iso3": ["KGZ"]}, geometry=[box(74.0, 41.0, 75.5, 42.2)], crs=4326)


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return hex_grid(AREA, 5)


def test_grid_covers_the_area_exactly(units: gpd.GeoDataFrame) -> None:
    expected = geodesic_area_m2(AREA.geometry[0]) / 1e6
    assert units["area_km2"].sum() == pytest.approx(expected, rel=1e-3)
    assert units["h3"].is_unique and (units["iso3"] == "KGZ").all()
    assert units["clipped"].any() and not units["clipped"].all()
    for geom, km2 in zip(units.geometry[:20], units["area_km2"][:20], strict=True):
        assert km2 == pytest.approx(geodesic_area_m2(geom) / 1e6, rel=5e-3)


def test_grid_of_two_countries_assigns_each_unit_one_country() -> None:
    two = gpd.GeoDataFrame(
        {"iso_a3": ["AAA", "BBB"]}, geometry=[box(74, 41, 75, 42), box(75, 41, 76, 42)], crs=4326
    )
    g = hex_grid(two, 4)
    assert set(g["iso3"]) == {"AAA", "BBB"}
    west = g[g.geometry.representative_point().x < 74.8]
    assert (west["iso3"] == "AAA").all()


def test_grid_refuses_too_fine_and_bad_resolutions() -> None:
    with pytest.raises(TooLarge):
        hex_grid(AREA, 10)
    with pytest.raises(InvalidInput):
        hex_grid(AREA, 16)


def test_habitat_area_is_counted_once_and_in_equal_area(units: gpd.GeoDataFrame) -> None:
    patch = box(74.3, 41.3, 74.9, 41.8)
    habitat = gpd.GeoDataFrame(
        {
            "species": ["Panthera uncia"] * 2 + ["Gazella subgutturosa"],
            "ecosystem": ["mountain"] * 2 + ["arid_lowland"],
        },
        geometry=[patch, box(74.5, 41.5, 74.9, 41.8), box(75.0, 41.1, 75.2, 41.3)],
        crs=4326,
    )
    v = unit_values(units, habitat=habitat)
    cols = feature_columns(v)
    assert cols == ["habitat:Gazella subgutturosa|arid_lowland", "habitat:Panthera uncia|mountain"]
    leopard = v["habitat:Panthera uncia|mountain"]
    assert leopard.sum() == pytest.approx(geodesic_area_m2(patch) / 1e6, rel=2e-3)
    assert (leopard <= v["area_km2"] + 1e-9).all()


def test_habitat_without_species_column_is_refused(units: gpd.GeoDataFrame) -> None:
    bad = gpd.GeoDataFrame({"kind": ["x"]}, geometry=[box(74.3, 41.3, 74.4, 41.4)], crs=4326)
    with pytest.raises(SchemaMismatch):
        unit_values(units, habitat=bad)


def test_protected_share_dissolves_overlaps_and_buffers_points(units: gpd.GeoDataFrame) -> None:
    park = box(74.2, 41.2, 74.6, 41.6)
    pa = gpd.GeoDataFrame(
        {
            "status": ["Designated", "Designated", "Designated", "Proposed"],
            "reported_area_km2": [None, None, 100.0, None],
        },
        geometry=[
            park,
            box(74.4, 41.4, 74.6, 41.6),
            Point(75.2, 41.9),
            box(75.0, 41.0, 75.5, 41.2),
        ],
        crs=4326,
    )
    v = unit_values(units, protected=pa)
    protected_km2 = (v["protected_share"] * v["area_km2"]).sum()
    expected = geodesic_area_m2(park) / 1e6 + 100.0
    assert protected_km2 == pytest.approx(expected, rel=3e-3)
    assert v["protected_share"].between(0, 1).all()


def test_geodesic_circle_has_its_area() -> None:
    assert geodesic_area_m2(geodesic_circle(77.0, 43.0, 250.0)) / 1e6 == pytest.approx(
        250, rel=3e-3
    )


def test_threat_pressure_is_weighted_by_status(units: gpd.GeoDataFrame) -> None:
    # a unit wholly inside an active footprint has pressure 1; a halted one weighs 0.1
    inner = units[~units["clipped"]].iloc[len(units) // 3]
    cover = inner.geometry.buffer(0.05)
    active = gpd.GeoDataFrame({"status": ["active"]}, geometry=[cover], crs=4326)
    halted = gpd.GeoDataFrame({"status": ["halted"]}, geometry=[cover], crs=4326)
    k = units.index[units["h3"] == inner["h3"]][0]
    assert unit_values(units, threats=active, threat_buffer_km=0)["threat_pressure"][
        k
    ] == pytest.approx(1.0)
    assert unit_values(units, threats=halted, threat_buffer_km=0)["threat_pressure"][
        k
    ] == pytest.approx(0.1)
    far = unit_values(units, threats=active)["threat_pressure"]
    assert (far > 0).sum() < len(units) / 4


def test_a_point_threat_is_buffered_by_a_true_distance(units: gpd.GeoDataFrame) -> None:
    p = gpd.GeoDataFrame({"status": ["active"]}, geometry=[Point(74.8, 41.6)], crs=4326)
    v = unit_values(units, threats=p, threat_buffer_km=3.0)
    hit_km2 = (v["threat_pressure"] * v["area_km2"]).sum()
    assert hit_km2 == pytest.approx(np.pi * 9.0, rel=0.01)


def test_distances_to_towns_are_geodesic(units: gpd.GeoDataFrame) -> None:
    d = nearest_km(np.array([[74.0, 41.0], [74.0, 42.0]]), np.array([[74.0, 41.0]]))
    assert d[0] == pytest.approx(0.0, abs=1e-6)
    assert d[1] == pytest.approx(111.1, rel=0.01)  # one degree of latitude
    towns = gpd.GeoDataFrame(geometry=[Point(74.75, 41.6)], crs=4326)
    v = unit_values(units, places=towns)
    assert v["town_km"].min() < 10 and v["town_km"].max() < 150
    assert v["road_km"].isna().all()


def test_field_site_coverage(units: gpd.GeoDataFrame) -> None:
    site = box(74.5, 41.5, 74.7, 41.7)
    v = unit_values(units, field_sites=gpd.GeoDataFrame(geometry=[site], crs=4326))
    assert (v["grant_share"] * v["area_km2"]).sum() == pytest.approx(
        geodesic_area_m2(site) / 1e6, rel=3e-3
    )


def test_costs_follow_the_model() -> None:
    u = pd.DataFrame(
        {"area_km2": [10.0, 20.0], "threat_pressure": [0.0, 1.0], "town_km": [0.0, 1e6]}
    )
    assert unit_costs(u).tolist() == [10.0, 20.0]
    assert unit_costs(u, CostModel(threat_weight=1.0)).tolist() == [10.0, 40.0]
    assert unit_costs(u, CostModel(base="uniform", town_weight=2.0)).tolist() == pytest.approx(
        [3.0, 1.0]
    )
    with pytest.raises(InvalidInput):
        unit_costs(u.assign(road_km=np.nan), CostModel(road_weight=1.0))
    with pytest.raises(InvalidInput):
        CostModel(threat_weight=-1.0)


def test_boundaries_are_h3_edges_and_the_outline(units: gpd.GeoDataFrame) -> None:
    b = unit_boundaries(units)
    degree = np.bincount(np.concatenate([b.i, b.j]), minlength=len(units))
    full = np.flatnonzero((degree == 6) & ~units["clipped"].to_numpy())
    assert len(full) > 5
    k = full[len(full) // 2]
    edges = (b.i == k) | (b.j == k)
    assert b.length[edges].sum() == pytest.approx(b.perimeter[k], rel=1e-3)
    # edges between clipped units are measured too, and never exceed a unit's outline
    shared = b.shared_with(np.ones(len(units), bool))
    assert (shared <= b.perimeter + 1e-9).all()
    cut = units["clipped"].to_numpy()[b.i] & units["clipped"].to_numpy()[b.j]
    assert cut.any() and (b.length[cut] > 0).mean() > 0.5  # some shared edges lie outside
    cell = units["h3"][k]
    assert b.perimeter[k] == pytest.approx(
        sum(h3.edge_length(e, "km") for e in h3.origin_to_directed_edges(cell)), rel=1e-3
    )
    # the boundary of the whole grid is the outline of the study area
    expected = Geod(ellps="WGS84").geometry_length(AREA.geometry[0]) / 1000
    assert b.length_of(np.ones(len(units), bool)) == pytest.approx(expected, rel=0.01)


def test_overlap_mask_locks_out_touched_units(units: gpd.GeoDataFrame) -> None:
    resort = gpd.GeoDataFrame(geometry=[Point(74.8, 41.6).buffer(0.01)], crs=4326)
    mask = overlap_mask(units, resort)
    assert 1 <= mask.sum() <= 3
    assert units[mask].intersects(resort.geometry[0]).all()


def test_habitat_proxy_from_named_regions() -> None:
    regions = gpd.read_file(DATA / "natural_earth" / "ne10m_geography_regions_central_asia.gpkg")
    countries = gpd.read_file(DATA / "boundaries" / "ne10m_admin0_kz_kg_tj_uz_simplified.geojson")
    hab = habitat_from_regions(regions, countries)
    leopard = hab[hab["species"] == "Panthera uncia"]
    assert "TIAN SHAN" in set(leopard["region"]) and set(leopard["ecosystem"]) == {"mountain"}
    gazelle = hab[hab["species"] == "Gazella subgutturosa"]
    assert {"QIZILQUM DESERT", "Ustyurt Plateau"} <= set(gazelle["region"])
    assert "PLATEAU OF TIBET" not in set(hab["region"])
    whole = shapely.union_all(countries.geometry.to_numpy()).buffer(1e-6)
    assert all(whole.contains(g) for g in hab.geometry)
