"""The one way a query's rows become a GeoDataFrame.

Every reader of PostGIS into geopandas (the store, the use cases, the layers' own queries) goes
through :func:`read_gdf`: the geometry column may come as WKB (``ST_AsBinary``), as EWKB hex
(a geometry column selected as it is) or as a GeoAlchemy2 element; it is always decoded the
same way, and an empty result is a GeoDataFrame with the query's columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Executable, text
from sqlalchemy.orm import Session

import geopandas as gpd
import shapely

from geo.crs import STORAGE_EPSG


def read_gdf(
    bind: Connection | Session,
    query: Executable | str,
    *,
    params: Mapping[str, Any] | None = None,
    geom_col: str = "geom",
    crs: int = STORAGE_EPSG,
) -> gpd.GeoDataFrame:
    """Run ``query`` on ``bind`` and return its rows as a GeoDataFrame in ``crs``.

    Parameters
    ----------
    bind
        A connection or a session (the query runs in its transaction).
    query
        A SQLAlchemy statement, or SQL text with ``:name`` parameters.
    params
        Values of the query's bound parameters.
    geom_col
        The column holding the geometry; it becomes the GeoDataFrame's geometry.
    crs
        The CRS of the stored geometries (EPSG code).
    """
    sql = text(query) if isinstance(query, str) else query
    result = bind.execute(sql, dict(params or {}))
    cols = list(result.keys())
    data = [dict(zip(cols, r, strict=True)) for r in result]
    if not data:
        return gpd.GeoDataFrame(columns=cols, geometry=geom_col, crs=crs)
    df = pd.DataFrame(data)
    df[geom_col] = shapely.from_wkb([wkb_value(v) for v in df[geom_col]])
    return gpd.GeoDataFrame(df, geometry=geom_col, crs=crs)


def wkb_value(value: Any) -> bytes | str | None:
    """What :func:`shapely.from_wkb` reads from a value the driver returned for a geometry:
    bytes for WKB (a memoryview too), the hex string of EWKB, the data of a GeoAlchemy2
    element.

    Examples
    --------
    >>> import shapely
    >>> shapely.from_wkb(wkb_value(memoryview(shapely.Point(1, 2).wkb))).wkt
    'POINT (1 2)'
    >>> wkb_value(None) is None
    True
    """
    if value is None:
        return None
    data = getattr(value, "data", value)
    if isinstance(data, memoryview):
        return bytes(data)
    return data
