"""Area of Habitat (geo.habitat) on a hand-made ecosystem grid."""

from __future__ import annotations

import numpy as np
import pytest

import geopandas as gpd
from rasterio.transform import from_origin
from shapely.geometry import box

from geo.ecosystems import DESERT, EcosystemGrid
from geo.errors import InvalidInput
from geo.habitat import (
    GOITERED_GAZELLE,
    SNOW_LEOPARD,
    HabitatParams,
    default_params,
    default_range,
    habitat_summary,
    model_habitat,
)
from geo.raster import cell_areas_m2


def grid() -> EcosystemGrid:
    """4 x 4 cells of 0.1°: west half KAZ, east half KGZ; rows: K1 under permanent snow and
    ice, K2, K4, desert; land cover snow/ice, grassland, grassland, barren."""
    classes = np.array([[1] * 4, [2] * 4, [4] * 4, [DESERT] * 4], dtype="uint8")
    landcover = np.array([[15] * 4, [10] * 4, [10] * 4, [16] * 4], dtype="uint8")
    elev = np.array([[5000] * 4, [3800] * 4, [2000] * 4, [600] * 4], dtype="int16")
    country = np.array([[1, 1, 2, 2]] * 4, dtype="uint8")
    return EcosystemGrid(
        classes=classes,
        source=np.ones_like(classes),
        elevation=elev,
        country=country,
        countries=["KAZ", "KGZ"],
        transform=from_origin(76.0, 43.0, 0.1, 0.1),
        landcover=landcover,
    )


def cells_ha(g: EcosystemGrid, rows: list[int], cols: list[int]) -> float:
    a = cell_areas_m2(g.transform, *g.shape, "EPSG:4326")
    return float(a[np.ix_(rows, cols)].sum() / 1e4)


def whole_range() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[box(75, 42, 78, 44)], crs=4326)


def test_snow_leopard_takes_mountain_cells_within_elevation_limits():
    g = grid()
    h = model_habitat(g, SNOW_LEOPARD, whole_range())
    # K2 at 3,800 m only: K4 at 2,000 m is below 3,000 m; permanent snow and ice and the
    # desert lowland are unsuitable
    assert habitat_summary(h)["area_ha"].sum() == pytest.approx(
        cells_ha(g, [1], [0, 1, 2, 3]), rel=2e-3
    )
    assert set(h["iso3"]) == {"KAZ", "KGZ"} and set(h["ecosystem"]) == {"mountain"}


def test_regional_lower_limit_applies_inside_the_region():
    g = grid()
    regions = gpd.GeoDataFrame(
        {"name": ["Tien Shan (northern, inner and central)"]},
        geometry=[box(76.0, 42.5, 76.2, 43.0)],
        crs=4326,
    )
    h = model_habitat(g, SNOW_LEOPARD, whole_range(), regions)
    expected = cells_ha(g, [1], [0, 1, 2, 3]) + cells_ha(g, [2], [0, 1])
    assert h["area_ha"].sum() == pytest.approx(expected, rel=2e-3)


def test_range_polygon_cuts_the_habitat_exactly():
    g = grid()
    rng = gpd.GeoDataFrame(geometry=[box(76.0, 42.0, 76.15, 43.0)], crs=4326)
    h = model_habitat(g, SNOW_LEOPARD, rng)
    assert list(h["iso3"]) == ["KAZ"]
    assert h["area_ha"].sum() == pytest.approx(cells_ha(g, [1], [0]) * 1.5, rel=3e-3)


def test_gazelle_takes_the_lowland():
    g = grid()
    h = model_habitat(g, GOITERED_GAZELLE, whole_range())
    assert set(h["ecosystem"]) == {"arid_lowland"}
    assert h["area_ha"].sum() == pytest.approx(cells_ha(g, [3], [0, 1, 2, 3]), rel=2e-3)


def test_no_cell_qualifies_gives_an_empty_layer():
    p = SNOW_LEOPARD.with_changes(elevation_min_m=6000, elevation_max_m=7000)
    h = model_habitat(grid(), p, whole_range())
    assert h.empty and list(h.columns[:4]) == ["species", "ecosystem", "iso3", "area_ha"]


def test_parameters_are_named_cited_and_changeable():
    p = default_params("Panthera uncia")
    assert p.sources["elevation_min_m"].startswith("McCarthy")
    q = p.with_changes(elevation_min_m=2500)
    assert q.elevation_min_m == 2500 and p.elevation_min_m == 3000
    assert q.to_json()["ecosystem_classes"] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(InvalidInput, match="unknown"):
        p.with_changes(colour="grey")
    with pytest.raises(InvalidInput, match="below"):
        p.with_changes(elevation_min_m=9000)
    with pytest.raises(InvalidInput, match="no default"):
        default_params("Felis catus")
    assert isinstance(p, HabitatParams)


def test_default_range_is_the_range_countries():
    c = gpd.GeoDataFrame(
        {"iso_a3": ["KAZ", "CHN"]}, geometry=[box(76, 42, 77, 43), box(77, 42, 78, 43)], crs=4326
    )
    r = default_range(SNOW_LEOPARD.with_changes(range_parts=()), c)
    assert r.geometry.iloc[0].equals(box(76, 42, 77, 43))
    with pytest.raises(InvalidInput, match="range parts"):
        default_range(GOITERED_GAZELLE, c)


def test_habitat_raster_marks_the_same_cells(tmp_path):
    import rasterio

    from geo.habitat import habitat_raster

    g = grid()
    path = habitat_raster(g, SNOW_LEOPARD, whole_range(), tmp_path / "h.tif")
    with rasterio.open(path) as r:
        a = r.read(1)
    assert a.tolist() == [[0] * 4, [1] * 4, [0] * 4, [0] * 4]
