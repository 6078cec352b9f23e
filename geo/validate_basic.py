"""Normalising geometries on the way in: valid, 2-D, of one collection type."""

from __future__ import annotations

import numpy as np

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry


def polygonal_part(geom: BaseGeometry | None) -> MultiPolygon | None:
    """The polygonal part of ``geom`` as a MultiPolygon (None when it has none)."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    polys: list[Polygon] = []
    for p in parts:
        polys.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(polys) if polys else None


def to_multipolygons(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Make geometries valid, drop Z/M, keep the polygonal part as MultiPolygons.

    Rows left with no polygonal part are dropped.
    """
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    multi = np.array([polygonal_part(g) for g in geoms], dtype=object)
    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(multi, index=gdf.index, crs=gdf.crs))
    return out[~out.geometry.isna()]
