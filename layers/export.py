"""Downloads: the rows of a layer query as GeoJSON, GeoPackage or CSV (WKT geometry).

The rows come from :meth:`layers.sql.LayerSQL.items`, so downloads carry exactly what the
principal may see (generalised locations, no private columns).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layers import geojson
from layers.spec import Column
from layers.sql import row_properties

if TYPE_CHECKING:  # heavy imports wait until a download is asked for
    import pandas as pd

    import geopandas as gpd

FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}

_DTYPES = {"integer": "Int64", "number": "Float64", "boolean": "boolean"}


def to_geodataframe(rows: Sequence[Any], cols: tuple[Column, ...]) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:4326) with ``id``, the columns and the geometry."""
    import pandas as pd

    import geopandas as gpd
    import shapely

    records = [{"id": r._mapping["fid"], **row_properties(r, cols)} for r in rows]
    geoms = shapely.from_geojson([r._mapping["geojson"] for r in rows]) if rows else []
    df = pd.DataFrame.from_records(records, columns=["id", *(c.name for c in cols)])
    for c in cols:
        if c.type in _DTYPES:
            df[c.name] = df[c.name].astype(_DTYPES[c.type])
        elif c.type == "date":
            df[c.name] = pd.to_datetime(df[c.name]).dt.date
        elif c.type == "datetime":
            df[c.name] = pd.to_datetime(df[c.name], utc=True)
    return gpd.GeoDataFrame(df, geometry=list(geoms), crs="EPSG:4326")


def geojson_bytes(rows: Sequence[Any], cols: tuple[Column, ...]) -> bytes:
    doc = {"type": "FeatureCollection", "features": [geojson.feature(r, cols) for r in rows]}
    return geojson.dumps(doc)


#: Text cells starting with one of these are read as formulas by spreadsheets (OWASP, CSV
#: injection); TAB and CR too, since some spreadsheets strip them before parsing.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A value safe to write to a CSV cell: text that a spreadsheet would run as a formula
    (starting with ``= + - @`` TAB or CR) gets a leading ``'``; numbers, and text that is
    exactly a number (``-12.5``), are kept as they are.

    >>> [csv_cell(v) for v in ("=1+1", "@SUM(A1)", "-12.5", -3, "-1+2", "ok", None)]
    ["'=1+1", "'@SUM(A1)", '-12.5', -3, "'-1+2", 'ok', None]
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell passed through :func:`csv_cell` (numeric columns untouched)."""
    out = df.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or str(col.dtype) in {"string", "str"}:
            out[name] = col.map(csv_cell, na_action="ignore")
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out


def csv_bytes(rows: Sequence[Any], cols: tuple[Column, ...]) -> bytes:
    import pandas as pd

    import shapely

    gdf = to_geodataframe(rows, cols)
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["geometry_wkt"] = shapely.to_wkt(gdf.geometry.values, rounding_precision=6)
    # CRLF rows (RFC 4180): a cell holding a CR or LF is quoted, so it cannot split a row
    return csv_safe(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def gpkg_file(
    rows: Sequence[Any], cols: tuple[Column, ...], layer: str, geometry_type: str
) -> Path:
    """Write a GeoPackage to a temporary file (the caller deletes its folder)."""
    import pyogrio

    gdf = to_geodataframe(rows, cols)
    path = Path(tempfile.mkdtemp(prefix="irbis-download-")) / f"{layer}.gpkg"
    gtype = None if geometry_type == "Geometry" else geometry_type
    pyogrio.write_dataframe(
        gdf,
        path,
        layer=layer,
        driver="GPKG",
        geometry_type=gtype or "Unknown",
        promote_to_multi=False,
    )
    return path
