"""The store: the one boundary between GeoDataFrames and PostGIS.

Geometries are normalised on the way in (``geo.validate``/``geo.crs``) and their SRID is
checked on the way to storage: a GeoDataFrame that is not in EPSG:4326 is refused here, and the
typed geometry columns refuse a mismatched SRID in the database too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import geopandas as gpd
from geoalchemy2.shape import from_shape

from api.db.models import Base
from geo.crs import STORAGE_EPSG, check_storage_srid
from geo.raster import describe_raster
from layers.frames import read_gdf


def rows_from_gdf(
    gdf: gpd.GeoDataFrame, columns: Sequence[str], *, defaults: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Turn a GeoDataFrame into insertable rows (geometry as EWKB with SRID 4326)."""
    check_storage_srid(gdf)
    defaults = dict(defaults or {})
    rows: list[dict[str, Any]] = []
    geoms = gdf.geometry.to_numpy()
    records = gdf[list(columns)].to_dict("records") if columns else [{} for _ in range(len(gdf))]
    for rec, geom in zip(records, geoms, strict=True):
        row = {**defaults, **{k: _clean(v) for k, v in rec.items()}}
        row["geom"] = from_shape(geom, srid=STORAGE_EPSG)
        rows.append(row)
    return rows


def _clean(value: Any) -> Any:
    """pandas missing values become NULL; numpy scalars become Python scalars."""
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def insert_gdf(
    session: Session,
    model: type[Base],
    gdf: gpd.GeoDataFrame,
    columns: Sequence[str],
    *,
    defaults: Mapping[str, Any] | None = None,
) -> int:
    """Insert every row of ``gdf`` into ``model``'s table in the session's transaction."""
    rows = rows_from_gdf(gdf, columns, defaults=defaults)
    if rows:
        session.execute(insert(model), rows)
    return len(rows)


def read_table(session: Session, model: type[Base], where: Iterable[Any] = ()) -> gpd.GeoDataFrame:
    """Read a whole spatial table (optionally filtered) into a GeoDataFrame."""
    table = model.__table__
    q = select(*[c for c in table.c if c.name != "geom"], table.c.geom.ST_AsBinary().label("geom"))
    for clause in where:
        q = q.where(clause)
    return read_gdf(session, q)


def raster_columns(path: Any, **properties: Any) -> dict[str, Any]:
    """The columns of a ``rasters`` row that describe the file at ``path``
    (:func:`geo.raster.describe_raster`: digest, grid, data type, nodata and its footprint in
    EPSG:4326, stored as a geometry), with ``properties`` added to the row's properties."""
    cols = describe_raster(path).columns()
    cols["properties"] = {**cols["properties"], **properties}
    cols["geom"] = from_shape(cols["geom"], srid=STORAGE_EPSG)
    return cols
