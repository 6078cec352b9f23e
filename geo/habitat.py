"""Species habitat in the Area of Habitat style (Brooks et al. 2019).

Brooks, T.M., Pimm, S.L., Akçakaya, H.R. et al. (2019) "Measuring terrestrial Area of
Habitat (AOH) and its utility for the IUCN Red List", *Trends in Ecology & Evolution*
34(11): 977–986, doi:10.1016/j.tree.2019.06.009. AOH = the species' range, cut to the
elevation limits of the species and to the habitats (here: ecosystems) it uses.

AOH = range ∩ elevation limits ∩ suitable land cover: the land-cover classes that the
species' IUCN habitat classes translate to (Lumbierres, M., Dahal, P.R., Di Marco, M.,
Butchart, S.H.M., Donald, P.F. & Rondinini, C. (2022) "Translating habitat class to land
cover to map area of habitat of terrestrial vertebrates", *Conservation Biology* 36(3):
e13851, doi:10.1111/cobi.13851), here on MODIS 2019 IGBP classes (MCD12C1, Friedl &
Sulla-Menashe 2015), and to the ecosystems (Kapos mountain classes, arid lowland) the
species is assigned to in the programme.

Every parameter is named in :class:`HabitatParams`, has a default from a cited source and can
be changed; the parameters travel with the result, which is always ``method = modelled``.

Defaults
--------
Snow leopard (*Panthera uncia*): alpine and subalpine zones, typically 3,000–4,500 m, lower in
the northern part of the range (McCarthy et al. 2017, IUCN Red List e.T22732A50664030). The
range is the modelled one of :mod:`geo.ranges` (whole Tien Shan including the western ranges,
Pamir–Alay, Dzungarian Alatau, Altai, Saur–Tarbagatai), with a lower limit per mountain
system from the literature (``elevation_min_by_region``); 3,000 m elsewhere. IUCN habitats
(forest, shrubland, grassland, rocky areas) → IGBP forests 1–5, shrublands 6–7, savannas
8–9, grassland 10 and barren 16 (rock and scree); not water, wetland, cropland, urban,
mosaic or permanent snow and ice.

Goitered gazelle (*Gazella subgutturosa*): deserts and semi-deserts of the plains and
foothills (IUCN SSC Antelope Specialist Group 2017, IUCN Red List e.T8976A50187422); the range
is the modelled one of :mod:`geo.ranges`; up to 1,500 m (modelling choice for the plains and
foothills of the four countries); arid lowland (desert, semi-desert and steppe) and the
foothill classes K5–K6. IUCN habitats (shrubland, grassland, desert) → IGBP open and closed
shrublands 6–7, grassland 10, barren 16.

Examples
--------
>>> p = default_params("Panthera uncia")
>>> p.elevation_min_m, p.elevation_min_by_region["Western Tien Shan"]
(3000.0, 1500.0)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import rasterio.features
import shapely

from geo.crs import PROGRAMME_COUNTRIES, STORAGE_EPSG, area_ha, require_crs
from geo.ecosystems import (
    ARID_CLASSES,
    DESERT,
    MAX_EDGE_DEG,
    MOUNTAIN_CLASSES,
    NODATA,
    SEMI_DESERT,
    EcosystemGrid,
    polygonize,
)
from geo.errors import InvalidInput
from geo.messages import en
from geo.ranges import GOITERED_GAZELLE_RANGE, SNOW_LEOPARD_RANGE
from geo.shapes import polygonal_parts


@dataclass(frozen=True)
class HabitatParams:
    """The parameters of an Area of Habitat model; all of them are recorded with the result.

    Attributes
    ----------
    species : str
        Scientific name.
    elevation_min_m, elevation_max_m : float
        Elevation limits (m).
    elevation_min_by_region : dict
        Lower limits that replace ``elevation_min_m`` inside named regions (the ``name`` of
        a region polygon, e.g. ``"TIAN SHAN"``).
    ecosystem_classes : tuple of int
        Suitable ecosystem classes (see :mod:`geo.ecosystems`).
    range_countries : tuple of str
        ISO alpha-3 codes used as the range when no range polygon is given.
    range_regions : tuple of str
        If set, the default range is these named regions (within the range countries).
    range_parts : tuple of str
        If set, the default range is these parts of the modelled range (:mod:`geo.ranges`),
        within the range countries.
    landcover_classes : tuple of int
        Suitable MODIS IGBP land-cover classes (the IUCN habitats translated); empty = no
        land-cover filter.
    sources : dict
        A citation per parameter.
    """

    species: str
    elevation_min_m: float
    elevation_max_m: float
    ecosystem_classes: tuple[int, ...]
    elevation_min_by_region: dict[str, float] = field(default_factory=dict)
    range_countries: tuple[str, ...] = PROGRAMME_COUNTRIES
    range_regions: tuple[str, ...] = ()
    range_parts: tuple[str, ...] = ()
    landcover_classes: tuple[int, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ecosystem_classes"] = list(self.ecosystem_classes)
        d["range_countries"] = list(self.range_countries)
        d["range_regions"] = list(self.range_regions)
        d["range_parts"] = list(self.range_parts)
        d["landcover_classes"] = list(self.landcover_classes)
        return d

    def with_changes(self, **changes: Any) -> HabitatParams:
        """A copy with some parameters changed (unknown names are refused)."""
        known = set(self.__dataclass_fields__)
        bad = set(changes) - known
        if bad:
            raise InvalidInput(f"unknown habitat parameter(s): {', '.join(sorted(bad))}")
        tuples = ("ecosystem_classes", "range_countries", "range_regions", "range_parts")
        for k in (*tuples, "landcover_classes"):
            if k in changes and changes[k] is not None:
                changes[k] = tuple(changes[k])
        p = replace(self, **{k: v for k, v in changes.items() if v is not None})
        if p.elevation_min_m >= p.elevation_max_m:
            raise InvalidInput("elevation_min_m must be below elevation_max_m")
        return p


_MCCARTHY = (
    "McCarthy, T., Mallon, D., Jackson, R., Zahler, P. & McCarthy, K. (2017) Panthera uncia. "
    "The IUCN Red List of Threatened Species 2017: e.T22732A50664030"
)
_GAZELLE = (
    "IUCN SSC Antelope Specialist Group (2017) Gazella subgutturosa. The IUCN Red List of "
    "Threatened Species 2017: e.T8976A50187422 (deserts and semi-deserts, plains and foothills)"
)
_KAPOS = "Kapos et al. (2000) mountain classes; Brooks et al. (2019) Area of Habitat"
_LUMBIERRES = (
    "Lumbierres et al. (2022) Conservation Biology 36: e13851, IUCN habitat to land cover; "
    "applied to MODIS IGBP classes (MCD12C1 2019)"
)

SNOW_LEOPARD = HabitatParams(
    species="Panthera uncia",
    elevation_min_m=3000.0,
    elevation_max_m=5500.0,
    elevation_min_by_region={
        p.name: p.elevation_min_m for p in SNOW_LEOPARD_RANGE if p.elevation_min_m is not None
    },
    ecosystem_classes=MOUNTAIN_CLASSES,
    range_parts=tuple(p.name for p in SNOW_LEOPARD_RANGE),
    landcover_classes=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16),
    sources={
        "elevation_min_m": _MCCARTHY + " (typically 3,000-4,500 m)",
        "elevation_max_m": _MCCARTHY + " (recorded to about 5,500 m)",
        "elevation_min_by_region": "; ".join(
            f"{p.name}: {p.source}" for p in SNOW_LEOPARD_RANGE if p.elevation_min_m
        ),
        "ecosystem_classes": _KAPOS + ": all mountain classes",
        "range_countries": _MCCARTHY + " (range states)",
        "range_parts": "modelled range of geo.ranges (RESOLVE 2017 ecoregions, Natural "
        "Earth regions): " + "; ".join(p.name for p in SNOW_LEOPARD_RANGE),
        "landcover_classes": _LUMBIERRES
        + ": forest, shrubland, grassland, rocky areas -> IGBP 1-10, 16",
    },
)
GOITERED_GAZELLE = HabitatParams(
    species="Gazella subgutturosa",
    elevation_min_m=-100.0,
    elevation_max_m=1500.0,
    ecosystem_classes=(DESERT, SEMI_DESERT, 5, 6),
    range_parts=tuple(p.name for p in GOITERED_GAZELLE_RANGE),
    landcover_classes=(6, 7, 10, 16),
    sources={
        "range_parts": _GAZELLE
        + "; modelled range of geo.ranges: "
        + "; ".join(f"{p.name} ({p.source})" for p in GOITERED_GAZELLE_RANGE),
        "elevation_max_m": _GAZELLE + "; 1,500 m upper limit is a modelling choice",
        "ecosystem_classes": _GAZELLE + "; arid lowland + Kapos K5-K6 foothills",
        "range_countries": _GAZELLE + " (range states)",
        "landcover_classes": _LUMBIERRES + ": shrubland, grassland, desert -> IGBP 6, 7, 10, 16",
    },
)
DEFAULTS = {p.species: p for p in (SNOW_LEOPARD, GOITERED_GAZELLE)}


def default_params(species: str) -> HabitatParams:
    """The cited default parameters for a species (by scientific name)."""
    try:
        return DEFAULTS[species]
    except KeyError:
        raise InvalidInput(
            en(
                "no default habitat parameters for {species}; known: {known}. "
                "Give all parameters explicitly.",
                species=repr(species),
                known=", ".join(DEFAULTS),
            )
        ) from None


def default_range(
    params: HabitatParams,
    countries: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame | None = None,
    *,
    iso_col: str = "iso_a3",
    parts: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """The default range: the range countries, or named regions or range parts (``parts``,
    from :func:`geo.ranges.part_polygons`) within them."""
    c = countries.to_crs(STORAGE_EPSG)
    c = c[c[iso_col].isin(params.range_countries)]
    if c.empty:
        raise InvalidInput(f"none of the range countries {params.range_countries} is loaded")
    geom = shapely.union_all(c.geometry.to_numpy())
    if params.range_regions:
        if regions is None or regions.empty:
            raise InvalidInput("range_regions are set but no regions were given")
        r = regions.to_crs(STORAGE_EPSG)
        r = r[r["name"].isin(params.range_regions)]
        if r.empty:
            raise InvalidInput(f"none of the range regions {params.range_regions} is known")
        geom = shapely.intersection(geom, shapely.union_all(r.geometry.to_numpy()))
    if params.range_parts:
        if parts is None or parts.empty:
            raise InvalidInput("range_parts are set but no range parts were given")
        p = parts.to_crs(STORAGE_EPSG)
        p = p[p["name"].isin(params.range_parts)]
        if p.empty:
            raise InvalidInput(f"none of the range parts {params.range_parts} is known")
        geom = shapely.intersection(geom, shapely.union_all(p.geometry.to_numpy()))
    # long straight edges (country borders along parallels and meridians) are densified, so
    # that planar, equal-area and geodesic (PostGIS geography) readings of the habitat agree
    geom = shapely.segmentize(geom, MAX_EDGE_DEG)
    return gpd.GeoDataFrame({"source": ["default range"]}, geometry=[geom], crs=STORAGE_EPSG)


def model_habitat(
    grid: EcosystemGrid,
    params: HabitatParams,
    range_gdf: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Area of Habitat: range × elevation limits × suitable ecosystems, per country and kind.

    Parameters
    ----------
    grid : EcosystemGrid
        Classes, elevation and countries (from :func:`geo.ecosystems.classify_region`).
    params : HabitatParams
        The model's parameters (see :func:`default_params`).
    range_gdf : GeoDataFrame
        The species' range polygons (imported range, or :func:`default_range`).
    regions : GeoDataFrame, optional
        Named regions or range parts (column ``name``) for ``elevation_min_by_region``.

    Returns
    -------
    GeoDataFrame
        One MultiPolygon per country and ecosystem kind: ``species, ecosystem, iso3,
        area_ha`` (equal-area), geometry in EPSG:4326. Empty (with these columns) when no
        cell qualifies.
    """
    cols = ["species", "ecosystem", "iso3", "area_ha"]
    empty = gpd.GeoDataFrame(columns=cols, geometry=[], crs=STORAGE_EPSG)
    ok, range_geom = _mask(grid, params, range_gdf, regions)
    if not ok.any():
        return empty
    kind_code = np.where(
        np.isin(grid.classes, MOUNTAIN_CLASSES),
        0,
        np.where(np.isin(grid.classes, ARID_CLASSES), 1, 2),
    )
    key = grid.country.astype("int32") * 4 + kind_code
    polys = polygonize(grid, key, ok)
    polys["geometry"] = shapely.intersection(polys.geometry.to_numpy(), range_geom)
    polys = polys[~polys.geometry.is_empty]
    if polys.empty:
        return empty
    k = polys["key"].to_numpy()
    polys["iso3"] = [grid.countries[i - 1] for i in k // 4]
    polys["ecosystem"] = [("mountain", "arid_lowland", "other")[v] for v in k % 4]
    polys["species"] = params.species
    polys["geometry"] = polygonal_parts(polys.geometry.to_numpy())[0]
    polys["area_ha"] = area_ha(polys)
    return gpd.GeoDataFrame(polys[[*cols, "geometry"]], crs=STORAGE_EPSG).reset_index(drop=True)


def _mask(
    grid: EcosystemGrid,
    params: HabitatParams,
    range_gdf: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame | None,
) -> tuple[np.ndarray, shapely.Geometry]:
    require_crs(range_gdf, what="the range")
    rng = range_gdf.to_crs(STORAGE_EPSG)
    rng = rng[~(rng.geometry.isna() | rng.geometry.is_empty)]
    shape = grid.shape
    if rng.empty:
        return np.zeros(shape, dtype=bool), shapely.MultiPolygon()
    range_geom = shapely.make_valid(shapely.union_all(rng.geometry.to_numpy()))
    min_elev = np.full(shape, params.elevation_min_m, dtype="float32")
    if params.elevation_min_by_region and regions is not None and not regions.empty:
        reg = regions.to_crs(STORAGE_EPSG)
        for name, lim in params.elevation_min_by_region.items():
            geoms = [g for g in reg.loc[reg["name"] == name].geometry if g is not None]
            if geoms:
                m = rasterio.features.geometry_mask(geoms, shape, grid.transform, invert=True)
                min_elev[m] = np.minimum(min_elev[m], lim)
    elev = grid.elevation.astype("float32")
    known = grid.elevation != -32768
    in_range = rasterio.features.geometry_mask(
        [range_geom], shape, grid.transform, invert=True, all_touched=True
    )
    if params.landcover_classes:
        if grid.landcover is None:
            raise InvalidInput(
                "this ecosystems run has no land cover, which the habitat model's "
                "landcover_classes need: run `irbis analyse ecosystems` again, or set "
                "landcover_classes to an empty list"
            )
        suitable_cover = np.isin(grid.landcover, params.landcover_classes)
    else:
        suitable_cover = np.ones(shape, dtype=bool)
    ok = (
        suitable_cover
        & np.isin(grid.classes, params.ecosystem_classes)
        & known
        & (elev >= min_elev)
        & (elev <= params.elevation_max_m)
        & in_range
        & (grid.classes != NODATA)
    )
    return ok, range_geom


def habitat_raster(
    grid: EcosystemGrid,
    params: HabitatParams,
    range_gdf: gpd.GeoDataFrame,
    path: str | Path,
    regions: gpd.GeoDataFrame | None = None,
) -> Path:
    """Write the habitat of a species as a raster on the grid: 1 habitat, 0 not, 255 outside.

    Cells are those of :func:`model_habitat` before the exact cut to the range polygon (a
    cell counts when the range touches it). Useful as epoch 0 of a habitat-change series.
    """
    ok, _ = _mask(grid, params, range_gdf, regions)
    out = np.where(grid.classes == NODATA, 255, ok.astype("uint8")).astype("uint8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = grid.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype="uint8",
        nodata=255,
        crs=f"EPSG:{STORAGE_EPSG}",
        transform=grid.transform,
        compress="deflate",
    ) as dst:
        dst.write(out, 1)
        dst.update_tags(species=params.species, parameters=json.dumps(params.to_json()))
    return path


def habitat_summary(habitat: gpd.GeoDataFrame) -> pd.DataFrame:
    """Habitat area (ha) per species, ecosystem and country."""
    if habitat.empty:
        return pd.DataFrame(columns=["species", "ecosystem", "iso3", "area_ha"])
    return habitat.groupby(["species", "ecosystem", "iso3"], as_index=False)["area_ha"].sum()
