"""Species habitat in the Area of Habitat style (Brooks et al. 2019).

Brooks, T.M., Pimm, S.L., Akçakaya, H.R. et al. (2019) "Measuring terrestrial Area of
Habitat (AOH) and its utility for the IUCN Red List", *Trends in Ecology & Evolution*
34(11): 977–986, doi:10.1016/j.tree.2019.06.009. AOH = the species' range, cut to the
elevation limits of the species and to the habitats (here: ecosystems) it uses.

Every parameter is named in :class:`HabitatParams`, has a default from a cited source and can
be changed; the parameters travel with the result, which is always ``method = modelled``.

Defaults
--------
Snow leopard (*Panthera uncia*): alpine and subalpine zones, typically 3,000–4,500 m, lower in
the northern part of the range (McCarthy, T., Mallon, D., Jackson, R., Zahler, P. & McCarthy,
K. 2017. *Panthera uncia*. The IUCN Red List of Threatened Species 2017:
e.T22732A50664030). In the Tien Shan it comes down to the upper forest belt, especially in
winter (Snow Leopard Network 2014, *Snow Leopard Survival Strategy*, rev. ed., ch. 2); the
lower limit there is set to 1,800 m, the lower edge of the Schrenk's spruce belt on the
northern Tien Shan slopes, as a modelling choice to revisit with occurrence data. Range
states: all four programme countries (IUCN 2017). Ecosystem: mountains (Kapos classes 1–6).

Goitered gazelle (*Gazella subgutturosa*): deserts and semi-deserts of the plains and
foothills (IUCN SSC Antelope Specialist Group 2017. *Gazella subgutturosa*. The IUCN Red
List of Threatened Species 2017: e.T8976A50187422). Ecosystems: arid lowland and the low
foothill mountain class K6 (300–1,000 m with local relief); upper limit 1,500 m for the
plains and foothills of the four countries (modelling choice; the species is recorded higher
elsewhere in its range). Range: the Natural Earth desert, lowland and plateau regions (Turan
lowland, Kyzylkum, Betpak-Dala, Ustyurt, Caspian depression) within the four programme
countries, until an imported IUCN range replaces them.

Examples
--------
>>> p = default_params("Panthera uncia")
>>> p.elevation_min_m, p.elevation_min_by_region["TIAN SHAN"]
(3000.0, 1800.0)
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
from geo.ecosystems import ARID_LOWLAND, NODATA, EcosystemGrid, kind_of_class, polygonize
from geo.errors import InvalidInput


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
    sources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ecosystem_classes"] = list(self.ecosystem_classes)
        d["range_countries"] = list(self.range_countries)
        d["range_regions"] = list(self.range_regions)
        return d

    def with_changes(self, **changes: Any) -> HabitatParams:
        """A copy with some parameters changed (unknown names are refused)."""
        known = set(self.__dataclass_fields__)
        bad = set(changes) - known
        if bad:
            raise InvalidInput(f"unknown habitat parameter(s): {', '.join(sorted(bad))}")
        for k in ("ecosystem_classes", "range_countries", "range_regions"):
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
_SLSS = (
    "Snow Leopard Network (2014) Snow Leopard Survival Strategy, revised edition, ch. 2; "
    "1,800 m = lower edge of the spruce belt on the northern Tien Shan (modelling choice)"
)
_GAZELLE = (
    "IUCN SSC Antelope Specialist Group (2017) Gazella subgutturosa. The IUCN Red List of "
    "Threatened Species 2017: e.T8976A50187422 (deserts and semi-deserts, plains and foothills)"
)
_KAPOS = "Kapos et al. (2000) mountain classes; Brooks et al. (2019) Area of Habitat"

SNOW_LEOPARD = HabitatParams(
    species="Panthera uncia",
    elevation_min_m=3000.0,
    elevation_max_m=5500.0,
    elevation_min_by_region={"TIAN SHAN": 1800.0, "Alataw Mts.": 1800.0},
    ecosystem_classes=(1, 2, 3, 4, 5, 6),
    sources={
        "elevation_min_m": _MCCARTHY + " (typically 3,000-4,500 m)",
        "elevation_max_m": _MCCARTHY + " (recorded to about 5,500 m)",
        "elevation_min_by_region": _SLSS,
        "ecosystem_classes": _KAPOS + ": all mountain classes",
        "range_countries": _MCCARTHY + " (range states)",
    },
)
GOITERED_GAZELLE = HabitatParams(
    species="Gazella subgutturosa",
    elevation_min_m=-100.0,
    elevation_max_m=1500.0,
    ecosystem_classes=(ARID_LOWLAND, 6),
    range_regions=(
        "TURAN LOWLAND",
        "QIZILQUM DESERT",
        "BETPAQDALA DESERT",
        "Ustyurt Plateau",
        "CASPIAN DEPRESSION",
    ),
    sources={
        "range_regions": _GAZELLE
        + "; Natural Earth desert, lowland and plateau regions of the four countries stand in "
        "for the range until an IUCN range file is imported",
        "elevation_max_m": _GAZELLE + "; 1,500 m upper limit is a modelling choice",
        "ecosystem_classes": _GAZELLE + "; arid lowland + Kapos K6 foothills",
        "range_countries": _GAZELLE + " (range states)",
    },
)
DEFAULTS = {p.species: p for p in (SNOW_LEOPARD, GOITERED_GAZELLE)}


def default_params(species: str) -> HabitatParams:
    """The cited default parameters for a species (by scientific name)."""
    try:
        return DEFAULTS[species]
    except KeyError:
        raise InvalidInput(
            f"no default habitat parameters for {species!r}; known: {', '.join(DEFAULTS)}. "
            "Give all parameters explicitly."
        ) from None


def default_range(
    params: HabitatParams,
    countries: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame | None = None,
    *,
    iso_col: str = "iso_a3",
) -> gpd.GeoDataFrame:
    """The default range: the range countries, or named regions within them."""
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
        Named regions (column ``name``) for ``elevation_min_by_region``.

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
    kind_code = np.where(grid.classes == ARID_LOWLAND, 1, 0)
    key = grid.country.astype("int32") * 2 + kind_code
    polys = polygonize(grid, key, ok)
    polys["geometry"] = shapely.intersection(polys.geometry.to_numpy(), range_geom)
    polys = polys[~polys.geometry.is_empty]
    if polys.empty:
        return empty
    k = polys["key"].to_numpy()
    polys["iso3"] = [grid.countries[i - 1] for i in k // 2]
    polys["ecosystem"] = [kind_of_class(7 if v == 1 else 1) for v in k % 2]
    polys["species"] = params.species
    polys["geometry"] = [_polygonal(g) for g in polys.geometry]
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
    ok = (
        np.isin(grid.classes, params.ecosystem_classes)
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


def _polygonal(g: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts)


def habitat_summary(habitat: gpd.GeoDataFrame) -> pd.DataFrame:
    """Habitat area (ha) per species, ecosystem and country."""
    if habitat.empty:
        return pd.DataFrame(columns=["species", "ecosystem", "iso3", "area_ha"])
    return habitat.groupby(["species", "ecosystem", "iso3"], as_index=False)["area_ha"].sum()
