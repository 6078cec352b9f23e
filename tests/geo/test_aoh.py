"""Area of Habitat (Brooks et al. 2019) = range ∩ elevation limits ∩ suitable land cover,
against an independent computation (numpy masks and pyproj geodesic cell areas); modelled
ranges from named ecoregions and mountain systems (geo.ranges)."""

from __future__ import annotations

import numpy as np
import pytest

import geopandas as gpd
from pyproj import Geod
from rasterio.transform import from_origin
from shapely.geometry import box

from geo.ecosystems import DESERT, EcosystemGrid
from geo.errors import InvalidInput
from geo.habitat import GOITERED_GAZELLE, SNOW_LEOPARD, default_range, model_habitat
from geo.ranges import GOITERED_GAZELLE_RANGE, SNOW_LEOPARD_RANGE, RangePart, part_polygons

GEOD = Geod(ellps="WGS84")
W, N, STEP = 76.0, 43.0, 0.05
H, WID = 12, 16


def synthetic() -> EcosystemGrid:
    rng = np.random.default_rng(7)
    elev = rng.integers(1000, 5000, size=(H, WID)).astype("int16")
    classes = rng.integers(1, 7, size=(H, WID)).astype("uint8")  # all mountain
    classes[-2:] = DESERT
    landcover = rng.choice(np.array([0, 7, 10, 12, 15, 16], dtype="uint8"), size=(H, WID))
    country = np.ones((H, WID), dtype="uint8")
    country[:, WID // 2 :] = 2
    return EcosystemGrid(
        classes=classes,
        source=np.ones_like(classes),
        elevation=elev,
        country=country,
        countries=["KAZ", "KGZ"],
        transform=from_origin(W, N, STEP, STEP),
        landcover=landcover,
    )


def cell_ha(row: int, col: int) -> float:
    b = box(W + col * STEP, N - (row + 1) * STEP, W + (col + 1) * STEP, N - row * STEP)
    return abs(GEOD.geometry_area_perimeter(b)[0]) / 1e4


def test_aoh_is_range_elevation_and_land_cover_on_a_small_synthetic_case():
    g = synthetic()
    # a range on cell edges: columns 2..11, rows 1..9
    rng = gpd.GeoDataFrame(
        geometry=[box(W + 2 * STEP, N - 10 * STEP, W + 12 * STEP, N - STEP)], crs=4326
    )
    p = SNOW_LEOPARD.with_changes(elevation_min_by_region={}, range_parts=())
    h = model_habitat(g, p, rng)

    # independent: the same three conditions, cell by cell
    expected = {"KAZ": 0.0, "KGZ": 0.0}
    for r in range(1, 10):
        for c in range(2, 12):
            ok = (
                3000 <= g.elevation[r, c] <= 5500
                and g.classes[r, c] in (1, 2, 3, 4, 5, 6)
                and g.landcover is not None
                and g.landcover[r, c] in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16)
            )
            if ok:
                expected["KAZ" if c < WID // 2 else "KGZ"] += cell_ha(r, c)
    got = h.groupby("iso3")["area_ha"].sum().to_dict()
    assert expected["KAZ"] > 0 and expected["KGZ"] > 0
    for iso in ("KAZ", "KGZ"):
        assert got[iso] == pytest.approx(expected[iso], rel=2e-3)
    # land cover matters: without it, more habitat
    loose = model_habitat(g, p.with_changes(landcover_classes=()), rng)
    assert loose["area_ha"].sum() > h["area_ha"].sum() * 1.2


def test_lower_limit_of_a_mountain_system_applies_inside_it():
    g = synthetic()
    rng = gpd.GeoDataFrame(geometry=[box(W, N - H * STEP, W + WID * STEP, N)], crs=4326)
    system = gpd.GeoDataFrame(
        {"name": ["Western Tien Shan"]},
        geometry=[box(W, N - H * STEP, W + 4 * STEP, N)],
        crs=4326,
    )
    p = SNOW_LEOPARD.with_changes(elevation_min_by_region={"Western Tien Shan": 1500.0})
    h = model_habitat(g, p, rng, system)
    expected = 0.0
    for r in range(H):
        for c in range(WID):
            lo = 1500 if c < 4 else 3000
            lc = g.landcover[r, c] if g.landcover is not None else 0
            if (
                lo <= g.elevation[r, c] <= 5500
                and g.classes[r, c] <= 6
                and lc in SNOW_LEOPARD.landcover_classes
            ):
                expected += cell_ha(r, c)
    assert h["area_ha"].sum() == pytest.approx(expected, rel=2e-3)


def test_a_grid_without_land_cover_is_refused_with_what_to_do():
    g = synthetic()
    g.landcover = None
    rng = gpd.GeoDataFrame(geometry=[box(W, N - 1, W + 1, N)], crs=4326)
    with pytest.raises(InvalidInput, match="irbis analyse ecosystems"):
        model_habitat(g, SNOW_LEOPARD, rng)


def test_range_parts_are_built_from_named_ecoregions_and_regions_and_cut_by_their_box():
    eco = gpd.GeoDataFrame(
        {"eco_name": ["A", "B"]}, geometry=[box(0, 0, 2, 2), box(2, 0, 4, 2)], crs=4326
    )
    reg = gpd.GeoDataFrame({"name": ["R"]}, geometry=[box(0, 2, 1, 3)], crs=4326)
    parts = (
        RangePart("one", ecoregions=("A",), regions=("R",), elevation_min_m=1000.0),
        RangePart("two", ecoregions=("A", "B"), clip=(1, 0, 3, 1)),
    )
    pp = part_polygons(parts, eco, reg)
    assert pp.geometry.iloc[0].area == pytest.approx(5.0)
    assert pp.geometry.iloc[1].symmetric_difference(box(1, 0, 3, 1)).area < 1e-12
    with pytest.raises(InvalidInput, match="no ecoregion named 'C'"):
        part_polygons((RangePart("bad", ecoregions=("C",)),), eco, reg)
    # a default range is the range countries cut to the species' parts
    countries = gpd.GeoDataFrame({"iso_a3": ["KAZ"]}, geometry=[box(0, 0, 3, 3)], crs=4326)
    p = GOITERED_GAZELLE.with_changes(range_parts=("two",))
    r = default_range(p, countries, parts=pp)
    assert r.geometry.iloc[0].area == pytest.approx(2.0)


def test_the_modelled_ranges_name_the_published_systems_with_sources():
    names = " ".join(p.name for p in SNOW_LEOPARD_RANGE)
    for system in ("Tien Shan", "Western Tien Shan", "Pamir-Alay", "Dzungarian Alatau"):
        assert system in names
    assert "Altai" in names and "Saur-Tarbagatai" in names
    assert all(p.source and p.elevation_min_m for p in SNOW_LEOPARD_RANGE)
    gz = " ".join(p.name for p in GOITERED_GAZELLE_RANGE)
    for place in ("Ili-Balkhash", "Betpak-Dala", "Ustyurt", "Kyzylkum", "Moiynkum", "Tajikistan"):
        assert place in gz
    assert SNOW_LEOPARD.sources["landcover_classes"].startswith("Lumbierres")
