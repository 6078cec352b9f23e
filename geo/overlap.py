"""Overlaps of two or more layers: the intersecting pieces, their areas and shares.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> a = gpd.GeoDataFrame({"id": [1]}, geometry=[box(0, 40, 0.2, 40.2)], crs=4326)
>>> b = gpd.GeoDataFrame({"id": [7]}, geometry=[box(0.1, 40, 0.3, 40.2)], crs=4326)
>>> t = overlap({"a": a, "b": b})
>>> round(float(t["share_a"].iloc[0]), 3), round(float(t["share_b"].iloc[0]), 3)
(0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geo.crs import STORAGE_EPSG, area_ha, require_crs
from geo.errors import InvalidGeometry, InvalidInput
from geo.shapes import polygonal_parts

POLYGONAL = ("Polygon", "MultiPolygon")


def prepare_layer(gdf: gpd.GeoDataFrame, name: str, id_col: str | None = None) -> gpd.GeoDataFrame:
    """A polygon layer ready for overlay: EPSG:4326, valid, polygonal, with ``<name>_id``.

    Invalid geometries are repaired with ``make_valid`` (keeping their polygonal parts);
    empty and non-polygonal features are dropped.

    Raises
    ------
    MissingCRS
        The layer has no CRS.
    InvalidGeometry
        A geometry cannot be repaired into a polygon.
    """
    require_crs(gdf, what=f"layer {name!r}")
    g = gdf.to_crs(STORAGE_EPSG)
    ids = g[id_col].to_numpy() if id_col else np.asarray(g.index)
    geoms = g.geometry.to_numpy()
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, ids = geoms[keep], ids[keep]
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    geoms = polygonal_parts(geoms)[0]
    if bad.any() and any(geoms[bad][i].is_empty for i in range(int(bad.sum()))):
        raise InvalidGeometry(
            f"layer {name!r}: {int(bad.sum())} invalid geometries could not be repaired "
            "into polygons (they collapse to lines or points)"
        )
    poly = np.array([not x.is_empty for x in geoms], dtype=bool)
    out = gpd.GeoDataFrame({f"{name}_id": ids[poly]}, geometry=list(geoms[poly]), crs=STORAGE_EPSG)
    for col in ("name", "kind", "iso3", "species", "ecosystem", "status"):
        if col in g.columns and col != id_col:
            out[f"{name}_{col}"] = np.asarray(g[col])[keep][poly]
    return out


def overlap(
    layers: Mapping[str, gpd.GeoDataFrame], id_cols: Mapping[str, str] | None = None
) -> gpd.GeoDataFrame:
    """Pieces where all the given layers overlap, with areas (ha) and shares of each input.

    Parameters
    ----------
    layers : mapping of name to GeoDataFrame
        Two or more polygon layers, any CRS (each is reprojected to EPSG:4326).
    id_cols : mapping of name to column, optional
        Identifier column per layer (default: the index).

    Returns
    -------
    GeoDataFrame
        One row per intersecting piece: ``<name>_id`` for every layer, ``area_ha`` (in
        EPSG:6933) and ``share_<name>`` = piece area / area of that layer's feature.
        Empty (with these columns) when nothing overlaps.
    """
    if len(layers) < 2:
        raise InvalidInput("an overlap needs two or more layers")
    id_cols = dict(id_cols or {})
    prepared = {n: prepare_layer(g, n, id_cols.get(n)) for n, g in layers.items()}
    feature_ha = {n: dict(zip(p[f"{n}_id"], area_ha(p), strict=True)) for n, p in prepared.items()}
    names = list(prepared)
    cols = [f"{n}_id" for n in names] + ["area_ha"] + [f"share_{n}" for n in names]
    acc = prepared[names[0]]
    for n in names[1:]:
        acc = _intersect(acc, prepared[n])
        if acc.empty:
            return gpd.GeoDataFrame(columns=cols, geometry=[], crs=STORAGE_EPSG)
    acc["area_ha"] = area_ha(acc)
    acc = acc[acc["area_ha"] > 0].copy()
    for n in names:
        denom = acc[f"{n}_id"].map(feature_ha[n]).astype(float)
        acc[f"share_{n}"] = np.where(denom > 0, acc["area_ha"] / denom, np.nan)
    extra = [c for c in acc.columns if c not in cols and c != "geometry"]
    return gpd.GeoDataFrame(acc[[*cols, *extra, "geometry"]], crs=STORAGE_EPSG).reset_index(
        drop=True
    )


def _intersect(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    ia, ib = b.sindex.query(a.geometry.to_numpy(), predicate="intersects")
    if len(ia) == 0:
        return a.iloc[0:0].assign(**{c: [] for c in b.columns if c != "geometry"})
    inter = shapely.intersection(a.geometry.to_numpy()[ia], b.geometry.to_numpy()[ib])
    inter = polygonal_parts(inter)[0]
    keep = ~shapely.is_empty(inter)
    left = a.drop(columns="geometry").iloc[ia[keep]].reset_index(drop=True)
    right = b.drop(columns="geometry").iloc[ib[keep]].reset_index(drop=True)
    df = pd.concat([left, right], axis=1)
    return gpd.GeoDataFrame(df, geometry=list(inter[keep]), crs=STORAGE_EPSG)


def overlap_table(result: gpd.GeoDataFrame) -> pd.DataFrame:
    """The overlap as a plain table (no geometry), largest pieces first."""
    return pd.DataFrame(result.drop(columns="geometry")).sort_values("area_ha", ascending=False)
