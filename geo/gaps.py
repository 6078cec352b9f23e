"""Coverage gaps: how much habitat is protected, funded and threatened, and where it is not.

Protected coverage follows the one set of Protected Planet rules of
:mod:`geo.protected_planet` (used by planning units and threat dossiers too): sites with
status ``Proposed`` or ``Not Reported`` and UNESCO-MAB Biosphere Reserves are left out;
sites reported as points are buffered to a geodesic circle of their reported area;
overlapping sites are dissolved so no area is counted twice; areas are measured in an
equal-area projection.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> pas = gpd.GeoDataFrame({"status": ["Designated"], "reported_area_km2": [100.0]},
...                        geometry=[Point(77, 43)], crs=4326)
>>> from geo.crs import geodesic_area_m2
>>> round(geodesic_area_m2(protected_surface(pas)) / 1e6, 1)
100.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geo.crs import STORAGE_EPSG, area_ha, require_crs
from geo.errors import InvalidInput
from geo.overlap import POLYGONAL
from geo.protected_planet import (
    CIRCLE_VERTICES,
    geodesic_circle,
    pa_polygons,
    protected_surface,
)
from geo.shapes import polygonal_parts


def _union(gdf: gpd.GeoDataFrame | None, what: str) -> shapely.Geometry:
    if gdf is None or gdf.empty:
        return shapely.MultiPolygon()
    require_crs(gdf, what=what)
    g = gdf.to_crs(STORAGE_EPSG).geometry.to_numpy()
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    g = polygonal_parts(shapely.make_valid(g))[0]
    return shapely.union_all(g) if len(g) else shapely.MultiPolygon()


def _ha(geoms: np.ndarray) -> np.ndarray:
    return area_ha(gpd.GeoSeries(list(geoms), crs=STORAGE_EPSG))


def coverage_gaps(
    habitat: gpd.GeoDataFrame,
    protected_areas: gpd.GeoDataFrame | None,
    field_sites: gpd.GeoDataFrame | None = None,
    threats: gpd.GeoDataFrame | None = None,
    *,
    min_gap_ha: float = 1.0,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Habitat area and its shares protected, funded and threatened, and the gap layer.

    Parameters
    ----------
    habitat : GeoDataFrame
        Habitat polygons with ``species``, ``ecosystem`` and ``iso3`` (from
        :func:`geo.habitat.model_habitat` or the habitat table).
    protected_areas : GeoDataFrame
        With ``status``, ``designation`` and ``reported_area_km2`` (see
        :func:`geo.protected_planet.protected_surface`).
    field_sites : GeoDataFrame, optional
        Field sites funded on the analysis day, for the habitat's species: select them with
        :func:`geo.funding.funded_sites` (the one funding rule).
    threats : GeoDataFrame, optional
        Threat footprints (only polygonal footprints have an area).
    min_gap_ha : float
        Gap pieces smaller than this (slivers along edges) are left out of the gap layer.

    Returns
    -------
    table : DataFrame
        Per species × ecosystem × country: ``habitat_ha, protected_ha, funded_ha,
        threatened_ha, gap_ha`` and the matching ``share_*``.
    gaps : GeoDataFrame
        Habitat that is neither protected nor funded, one row per piece, ranked by size
        (``rank`` 1 = largest), with ``area_ha``.
    """
    keys = ["species", "ecosystem", "iso3"]
    missing = [k for k in keys if k not in habitat.columns]
    if missing:
        raise InvalidInput(f"the habitat layer lacks column(s): {', '.join(missing)}")
    require_crs(habitat, what="the habitat")
    h = habitat.to_crs(STORAGE_EPSG)
    h = h[~(h.geometry.isna() | h.geometry.is_empty)]
    if h.empty:
        cols = [*keys, "habitat_ha", "protected_ha", "funded_ha", "threatened_ha", "gap_ha"]
        return pd.DataFrame(columns=cols), gpd.GeoDataFrame(
            columns=[*keys, "area_ha", "rank"], geometry=[], crs=STORAGE_EPSG
        )
    h = h.dissolve(by=keys, as_index=False)
    prot = (
        protected_surface(protected_areas)
        if protected_areas is not None
        else shapely.MultiPolygon()
    )
    funded = _union(field_sites, "the field sites")
    threat = _union(threats, "the threats")
    hab = h.geometry.to_numpy()
    table = h[keys].copy()
    table["habitat_ha"] = _ha(hab)
    table["protected_ha"] = _ha(shapely.intersection(hab, prot))
    table["funded_ha"] = _ha(shapely.intersection(hab, funded))
    table["threatened_ha"] = _ha(shapely.intersection(hab, threat))
    gap_geoms = shapely.difference(hab, shapely.union(prot, funded))
    table["gap_ha"] = _ha(gap_geoms)
    for k in ("protected", "funded", "threatened", "gap"):
        table[f"share_{k}"] = table[f"{k}_ha"] / table["habitat_ha"]
    gaps = gpd.GeoDataFrame(h[keys].copy(), geometry=list(gap_geoms), crs=STORAGE_EPSG)
    gaps = gaps.explode(index_parts=False, ignore_index=True)
    gaps = gaps[gaps.geometry.geom_type.isin(POLYGONAL)]
    gaps["area_ha"] = area_ha(gaps)
    gaps = gaps[gaps["area_ha"] >= min_gap_ha].sort_values("area_ha", ascending=False)
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    gaps["geometry"] = [
        shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in gaps.geometry
    ]
    return table.reset_index(drop=True), gaps.reset_index(drop=True)


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """Mountains and arid lowlands side by side: shares per species and country."""
    if table.empty:
        return table
    t = table.groupby(["species", "ecosystem"], as_index=False)[
        ["habitat_ha", "protected_ha", "funded_ha", "threatened_ha", "gap_ha"]
    ].sum()
    for k in ("protected", "funded", "threatened", "gap"):
        t[f"share_{k}"] = t[f"{k}_ha"] / t["habitat_ha"]
    return t.pivot_table(
        index="species",
        columns="ecosystem",
        values=["habitat_ha", "share_protected", "share_funded", "share_gap"],
    )


__all__ = [
    "CIRCLE_VERTICES",
    "coverage_gaps",
    "geodesic_circle",
    "pa_polygons",
    "protected_surface",
    "side_by_side",
]
