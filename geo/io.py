"""Read vector files into GeoDataFrames, with errors a person can act on.

Any format GDAL reads is accepted (through pyogrio). A file that cannot be read, is empty or
has no coordinate reference system raises a domain error naming the problem.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from geo.errors import MissingCRS, SchemaMismatch, UnreadableFile
from geo.validate import undefined_crs

#: Files that are tables, not GDAL vector sources: read with pandas (Darwin Core, WKT/lonlat CSV).
TABULAR_SUFFIXES = {".csv", ".tsv", ".txt"}


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers of a vector data source."""
    try:
        return [str(name) for name, _ in pyogrio.list_layers(str(path))]
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise UnreadableFile(
            f"{Path(path).name}: cannot be opened as a vector file ({exc})"
        ) from exc


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | int | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer of a vector file.

    Parameters
    ----------
    path : path of the file (GeoPackage, Shapefile or a zip of one, GeoJSON, KML, FlatGeobuf...).
    layer : the layer to read, required when the source holds several.
    crs : the CRS of the coordinates when the file does not say (e.g. ``4326``); a file that
        names its own CRS keeps it.
    encoding : text encoding of the attributes, when the file does not say.

    Raises
    ------
    UnreadableFile
        The file is missing, empty, truncated or not a vector format.
    MissingCRS
        Neither the file nor ``crs`` gives a coordinate reference system.
    """
    p = Path(path)
    if not p.exists():
        raise UnreadableFile(f"{p}: no such file")
    if p.is_file() and p.stat().st_size == 0:
        raise UnreadableFile(f"{p.name}: the file is empty")
    source = str(p)
    if p.suffix.lower() == ".zip":
        source = f"/vsizip/{p}"
    if layer is None:
        layers = list_layers(source)
        if not layers:
            raise UnreadableFile(f"{p.name}: holds no vector layer")
        if len(layers) > 1:
            raise SchemaMismatch(
                f"{p.name} holds several layers ({', '.join(layers)}); name the one to read"
            )
        layer = layers[0]
    try:
        gdf = pyogrio.read_dataframe(source, layer=layer, encoding=encoding)
    except (DataSourceError, DataLayerError, OSError, ValueError, RuntimeError) as exc:
        raise UnreadableFile(f"{p.name}: cannot be read ({exc})") from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
        raise SchemaMismatch(f"{p.name}: layer {layer!r} has no geometry column")
    if len(gdf) == 0:
        raise UnreadableFile(f"{p.name}: layer {layer!r} has no features")
    if gdf.crs is not None and undefined_crs(CRS.from_user_input(gdf.crs)):
        # a GeoPackage's "Undefined geographic SRS" says nothing about the coordinates
        if crs is None:
            raise MissingCRS(
                f"{p.name}: the coordinate reference system is undefined "
                f"({CRS.from_user_input(gdf.crs).name}); name the EPSG code of the coordinates "
                "(for example --srs 4326)"
            )
        gdf = gdf.set_crs(crs, allow_override=True)
    if gdf.crs is None:
        if crs is None:
            raise MissingCRS(
                f"{p.name}: no coordinate reference system (a Shapefile needs its .prj); "
                "name the EPSG code of the coordinates (for example --srs 4326)"
            )
        gdf = gdf.set_crs(crs)
    return gdf


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a delimited text table (comma, tab or semicolon separated) as strings."""
    p = Path(path)
    if not p.exists():
        raise UnreadableFile(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise UnreadableFile(f"{p.name}: the file is empty")
    try:
        with p.open("r", encoding="utf-8-sig", newline="") as fh:
            head = fh.readline()
        sep = max(("\t", ",", ";"), key=head.count)
        df = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{p.name}: not UTF-8 text ({exc.reason})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise UnreadableFile(f"{p.name}: cannot be parsed as a table ({exc})") from exc
    if len(df) == 0:
        raise UnreadableFile(f"{p.name}: the table has a header but no rows")
    return df
