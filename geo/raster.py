"""Raster access, cell areas and zonal statistics that weight partial pixels.

Zonal statistics go through exactextract, which computes the exact fraction of each pixel
covered by a polygon. Areas are never taken in degrees: for a lon/lat raster each cell's area
is its geodesic area on the WGS 84 ellipsoid (one value per row), for an equal-area raster it
is the pixel size in square metres.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> zones = gpd.GeoDataFrame({"zid": [1]}, geometry=[box(76.9, 43.1, 77.0, 43.2)], crs=4326)
>>> t = class_areas("data/elevation/gebco2023_almaty_ile_alatau_15s.tif", zones, "zid",
...                 classify=lambda a: a >= 2000)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import rasterio
import shapely
from exactextract import exact_extract
from exactextract.raster import RasterioRasterSource
from pyproj import CRS
from rasterio.io import DatasetReader

from geo.crs import EQUAL_AREA_EPSG, M2_PER_HA, geodesic_area_m2, require_crs
from geo.errors import CRSMismatch, InvalidInput, MissingCRS, UnreadableFile

RasterLike = str | Path


def sha256_file(path: RasterLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, hex (raster inputs of an analysis are recorded by their digest)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def open_raster(path: RasterLike) -> Iterator[DatasetReader]:
    """Open a raster for reading, with a clear error for a missing or unreadable file.

    Raises
    ------
    UnreadableFile
        The file does not exist or GDAL cannot read it.
    MissingCRS
        The raster carries no coordinate reference system.
    """
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise UnreadableFile(f"cannot read raster {path}: {exc}") from exc
    try:
        if src.crs is None:
            raise MissingCRS(
                f"raster {Path(str(path)).name} has no coordinate reference system; "
                "assign one with gdal_edit.py -a_srs EPSG:4326 (or the right code)."
            )
        yield src
    finally:
        src.close()


def area_crs_kind(crs: CRS | rasterio.crs.CRS) -> str:
    """``"geographic"`` or ``"equal_area"``; refuse any other CRS with an actionable message."""
    c = CRS.from_user_input(crs)
    if c.is_geographic:
        return "geographic"
    if c.to_epsg() == EQUAL_AREA_EPSG or "Equal Area" in c.name or "equal area" in c.name.lower():
        return "equal_area"
    raise CRSMismatch(
        f"raster is in {c.name} ({c.to_string()}), where pixels do not have equal areas; "
        f"reproject it to EPSG:4326 or EPSG:{EQUAL_AREA_EPSG} first "
        f"(gdalwarp -t_srs EPSG:{EQUAL_AREA_EPSG} -r near in.tif out.tif)."
    )


def cell_areas_m2(transform: rasterio.Affine, height: int, width: int, crs: Any) -> np.ndarray:
    """Area in m² of every cell of a grid (2-D array).

    For a lon/lat grid the area of a cell is its geodesic area on the WGS 84 ellipsoid
    (constant along a row); for an equal-area grid it is ``|a * e|``.

    Parameters
    ----------
    transform : Affine
        The grid's affine transform (north-up, no rotation).
    height, width : int
        Grid size.
    crs : CRS-like
        Geographic or equal-area (see :func:`area_crs_kind`).
    """
    if transform.b != 0 or transform.d != 0:
        raise InvalidInput("rotated rasters are not supported; warp the raster north-up first")
    if area_crs_kind(crs) == "equal_area":
        return np.full((height, width), abs(transform.a * transform.e), dtype="float64")
    dlon = abs(transform.a)
    tops = transform.f + transform.e * np.arange(height)
    bottoms = tops + transform.e
    row_area = np.array(
        [_band_area(min(t, b), max(t, b), dlon) for t, b in zip(tops, bottoms, strict=True)]
    )
    return np.repeat(row_area[:, None], width, axis=1)


def _band_area(lat0: float, lat1: float, dlon: float) -> float:
    return geodesic_area_m2(shapely.box(0.0, lat0, dlon, lat1))


def _zones_in(zones: gpd.GeoDataFrame, crs: Any, id_col: str) -> gpd.GeoDataFrame:
    require_crs(zones, what="the zones")
    if id_col not in zones.columns:
        raise InvalidInput(f"the zones have no column {id_col!r}")
    z = zones[[id_col, zones.geometry.name]].copy()
    z = z[~(z.geometry.isna() | z.geometry.is_empty)]
    if not z.geometry.is_valid.all():
        z[z.geometry.name] = z.geometry.make_valid()
    z = z.rename(columns={id_col: "_zone"})
    return z.to_crs(crs)


def zonal_stats(
    raster: RasterLike, zones: gpd.GeoDataFrame, id_col: str, ops: Sequence[str] = ("mean",)
) -> pd.DataFrame:
    """Zonal statistics of a raster over polygons, partial pixels weighted (exactextract).

    Zones in another CRS than the raster are reprojected to the raster's CRS; nodata cells
    are left out by exactextract.

    Parameters
    ----------
    raster : path
        Any raster GDAL reads, with a CRS.
    zones : GeoDataFrame
        Polygons with a CRS and an identifier column.
    id_col : str
        The identifier column, returned as the first column.
    ops : sequence of str
        exactextract operations, e.g. ``("mean", "count", "min", "max")``.

    Returns
    -------
    DataFrame
        One row per non-empty zone: ``id_col`` then one column per operation.
    """
    with open_raster(raster) as src:
        z = _zones_in(zones, src.crs, id_col)
        if z.empty:
            return pd.DataFrame(columns=[id_col, *ops])
        # a file name lets exactextract read through GDAL directly (faster than via rasterio)
        out = exact_extract(str(raster), z, list(ops), include_cols=["_zone"], output="pandas")
    return pd.DataFrame(out).rename(columns={"_zone": id_col})


def class_areas(
    raster: RasterLike,
    zones: gpd.GeoDataFrame,
    id_col: str,
    *,
    classify: Callable[[np.ndarray], np.ndarray] | None = None,
    band: int = 1,
) -> pd.DataFrame:
    """Area (ha) of each raster value (or of ``classify(values)``) inside each zone.

    Every pixel counts with the fraction of it covered by the zone (exactextract) times its
    area in m² (geodesic for lon/lat rasters, from the latitude of its row), so small zones
    and zone edges are measured exactly. The raster is read zone by zone, never whole.

    Parameters
    ----------
    raster : path
        A classified raster (integer classes) in EPSG:4326 or an equal-area CRS.
    zones : GeoDataFrame
        Polygons with an identifier column ``id_col`` (any CRS; reprojected).
    classify : callable, optional
        Maps the raster values to classes (e.g. ``lambda a: a >= 2000`` for "habitat").
    band : int
        Raster band to read.

    Returns
    -------
    DataFrame
        Long table ``id_col, value, area_ha`` plus ``valid_ha`` (the zone's area over
        cells with data) and ``nodata_ha`` (over nodata cells; a NaN nodata value is skipped
        by exactextract, so it is not measured).
    """
    cols = [id_col, "value", "area_ha", "valid_ha", "nodata_ha"]
    with open_raster(raster) as src:
        kind = area_crs_kind(src.crs)
        z = _zones_in(zones, src.crs, id_col)
        if z.empty:
            return pd.DataFrame(columns=cols)
        nd = src.nodata
        if nd is not None and np.isfinite(nd):
            arg = f"(default_value={int(nd) if float(nd).is_integer() else nd!r})"
        else:
            arg = ""
        ops = [f"values{arg}", f"coverage{arg}", f"center_y{arg}"]
        source = str(raster) if src.count == 1 else RasterioRasterSource(src, band)
        res = exact_extract(source, z, ops, include_cols=["_zone"], output="pandas")
        t = src.transform
    res.columns = ["_zone", "values", "coverage", "center_y"]
    fixed = abs(t.a * t.e) if kind == "equal_area" else None
    half = abs(t.e) / 2
    band_area: dict[float, float] = {}

    def areas(cy: np.ndarray) -> np.ndarray:
        if fixed is not None:
            return np.full(cy.shape, fixed)
        rows, inv = np.unique(cy, return_inverse=True)
        per_row = np.empty(rows.shape)
        for k, y in enumerate(rows):
            a = band_area.get(float(y))
            if a is None:
                a = band_area[float(y)] = _band_area(y - half, y + half, abs(t.a))
            per_row[k] = a
        return per_row[inv.ravel()]

    rows = []
    for zid, g in res.groupby("_zone", sort=False):
        vals = np.concatenate([np.asarray(v) for v in g["values"]])
        cov = np.concatenate([np.asarray(v, dtype="float64") for v in g["coverage"]])
        cy = np.concatenate([np.asarray(v, dtype="float64") for v in g["center_y"]])
        m2 = cov * areas(cy)
        if nd is None:
            nodata = np.zeros(vals.shape, dtype=bool)
        elif np.isnan(nd):
            nodata = np.isnan(vals.astype("float64"))
        else:
            nodata = vals == nd
        valid_m2 = float(m2[~nodata].sum())
        nodata_m2 = float(m2[nodata].sum())
        v = vals[~nodata]
        classes = np.asarray(classify(v)) if classify is not None else v
        if classes.size:
            uniq, inv = np.unique(classes, return_inverse=True)
            sums = np.bincount(inv.ravel(), weights=m2[~nodata])
        else:
            uniq, sums = np.array([]), np.array([])
        for u, a in zip(uniq, sums, strict=True):
            rows.append(
                {
                    id_col: zid,
                    "value": u.item() if hasattr(u, "item") else u,
                    "area_ha": float(a) / M2_PER_HA,
                    "valid_ha": valid_m2 / M2_PER_HA,
                    "nodata_ha": nodata_m2 / M2_PER_HA,
                }
            )
    return pd.DataFrame(rows, columns=cols)
