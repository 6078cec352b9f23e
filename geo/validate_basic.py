"""Normalising geometries on the way in: valid, 2-D, of one collection type."""

from __future__ import annotations

import geopandas as gpd
import shapely

from geo.shapes import polygonal_parts


def to_multipolygons(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Make geometries valid, drop Z/M, keep the polygonal part as MultiPolygons.

    Rows left with no polygonal part are dropped.
    """
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    multi = polygonal_parts(geoms)[0]
    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(multi, index=gdf.index, crs=gdf.crs))
    return out[~shapely.is_empty(multi)]
