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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import rasterio
import rasterio.warp
import rasterio.windows
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource, RasterioRasterSource
from pyproj import CRS
from rasterio.io import DatasetReader
from rasterio.windows import Window

from geo.crs import EQUAL_AREA_EPSG, M2_PER_HA, STORAGE_EPSG, geodesic_area_m2, require_crs
from geo.errors import CRSMismatch, InvalidInput, MissingCRS, UnreadableFile

RasterLike = str | Path
EPSG_4326 = rasterio.crs.CRS.from_epsg(STORAGE_EPSG)


def sha256_file(path: RasterLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, hex (raster inputs of an analysis are recorded by their digest)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class RasterRecord:
    """What the register of rasters keeps about a file (the ``rasters`` table's columns)."""

    sha256: str
    crs: str
    width: int
    height: int
    resolution: tuple[float, float]
    dtype: str
    nodata: float | None
    #: The raster's bounds in its own CRS (west, south, east, north).
    bounds: tuple[float, float, float, float]
    #: Its outline in the storage CRS (EPSG:4326), the edges densified before reprojecting.
    footprint: shapely.Polygon

    def columns(self) -> dict[str, Any]:
        """The columns of a ``rasters`` row, the footprint as a shapely geometry."""
        return {
            "sha256": self.sha256,
            "crs": self.crs,
            "width": self.width,
            "height": self.height,
            "resolution": list(self.resolution),
            "dtype": self.dtype,
            "nodata": self.nodata,
            "properties": {"bounds": list(self.bounds)},
            "geom": self.footprint,
        }


def describe_raster(path: RasterLike) -> RasterRecord:
    """Describe a raster file for the register: digest, grid, data type and footprint.

    Raises
    ------
    UnreadableFile
        The file is missing or is not a raster.
    MissingCRS
        The raster has no CRS (its footprint could not be placed): see :func:`open_raster`.

    Examples
    --------
    >>> r = describe_raster("data/elevation/gebco2023_almaty_ile_alatau_15s.tif")
    >>> r.crs, r.dtype, r.footprint.geom_type
    ('EPSG:4326', 'int16', 'Polygon')
    """
    with open_raster(path) as src:
        b = src.bounds
        bounds = (float(b.left), float(b.bottom), float(b.right), float(b.top))
        west, south, east, north = rasterio.warp.transform_bounds(
            src.crs, EPSG_4326, *bounds, densify_pts=21
        )
        return RasterRecord(
            sha256=sha256_file(path),
            crs=src.crs.to_string(),
            width=src.width,
            height=src.height,
            resolution=(abs(float(src.res[0])), abs(float(src.res[1]))),
            dtype=str(src.dtypes[0]),
            nodata=None if src.nodata is None else float(src.nodata),
            bounds=bounds,
            footprint=shapely.box(west, south, east, north),
        )


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


# -- windowed: the raster read window by window, memory flat as it grows -------------------

#: Cells per window of the windowed zonal functions (about 16 MB of uint8 per window).
WINDOW_CELLS = 1 << 24


def raster_windows(
    src: DatasetReader, *, band: int = 1, max_cells: int = WINDOW_CELLS
) -> list[Window]:
    """Windows covering the raster, aligned on its blocks, each of at most about
    ``max_cells`` cells (at least one block): read in this order, a window reads whole
    blocks once."""
    bh, bw = src.block_shapes[band - 1]
    per = max(1, max_cells // (bh * bw))
    cols = min(-(-src.width // bw), per)
    rows = max(1, per // cols)
    h, w = rows * bh, cols * bw
    return [
        Window(c, r, min(w, src.width - c), min(h, src.height - r))
        for r in range(0, src.height, h)
        for c in range(0, src.width, w)
    ]


@dataclass
class ClassSums:
    """Partial sums of :func:`class_areas` over some cells: m² per (zone, class), and per
    zone over cells with data and over nodata cells. Sums of parts add up (``+``)."""

    area: dict[tuple[Any, Any], float] = field(default_factory=dict)
    valid: dict[Any, float] = field(default_factory=dict)
    nodata: dict[Any, float] = field(default_factory=dict)

    def __add__(self, other: ClassSums) -> ClassSums:
        out = ClassSums(dict(self.area), dict(self.valid), dict(self.nodata))
        for d, o in ((out.area, other.area), (out.valid, other.valid), (out.nodata, other.nodata)):
            for k, v in o.items():
                d[k] = d.get(k, 0.0) + v
        return out

    def table(self, id_col: str, order: Sequence[Any]) -> pd.DataFrame:
        """The long table of :func:`class_areas` (zones in ``order``, classes sorted)."""
        by_zone: dict[Any, list[tuple[Any, float]]] = {}
        for (zid, value), a in self.area.items():
            by_zone.setdefault(zid, []).append((value, a))
        rows = []
        for zid in order:
            for value, a in sorted(by_zone.get(zid, ()), key=lambda x: x[0]):
                rows.append(
                    {
                        id_col: zid,
                        "value": value,
                        "area_ha": a / M2_PER_HA,
                        "valid_ha": self.valid.get(zid, 0.0) / M2_PER_HA,
                        "nodata_ha": self.nodata.get(zid, 0.0) / M2_PER_HA,
                    }
                )
        return pd.DataFrame(rows, columns=[id_col, "value", "area_ha", "valid_ha", "nodata_ha"])


@dataclass(frozen=True)
class WindowJob:
    """What one window of :func:`class_areas_windowed` needs: picklable, so a Dask worker
    (:mod:`geo.partitioned`) can run it as well as this process."""

    raster: str
    band: int
    window: Window
    zones: gpd.GeoDataFrame  # the zones touching the window, in the raster's CRS, ``_zone``


def zones_for_windows(
    src: DatasetReader, zones: gpd.GeoDataFrame, id_col: str, windows: Sequence[Window]
) -> tuple[gpd.GeoDataFrame, list[gpd.GeoDataFrame]]:
    """The zones in the raster's CRS and, for each window, those whose box touches it."""
    z = _zones_in(zones, src.crs, id_col)
    tree = z.sindex
    parts = []
    for w in windows:
        b = rasterio.windows.bounds(w, src.transform)
        hit = tree.query(shapely.box(*b))
        parts.append(z.iloc[np.sort(hit)])
    return z, parts


def window_class_sums(
    job: WindowJob, classify: Callable[[np.ndarray], np.ndarray] | None = None
) -> ClassSums:
    """:func:`class_areas`'s sums over the cells of one window (exactextract coverage
    fractions of a cell do not depend on the window it is read in)."""
    out = ClassSums()
    if job.zones.empty:
        return out
    with open_raster(job.raster) as src:
        kind = area_crs_kind(src.crs)
        data = src.read(job.band, window=job.window)
        t = src.window_transform(job.window)
        nd = src.nodata
        wkt = src.crs.to_wkt()
    xmin, ymax = t.c, t.f
    xmax, ymin = xmin + t.a * data.shape[1], ymax + t.e * data.shape[0]
    # exactextract wants the nodata value in the array's own type (255, not 255.0)
    nd_value = None if nd is None else np.asarray(nd).astype(data.dtype).item()
    source = NumPyRasterSource(data, xmin, ymin, xmax, ymax, nodata=nd_value, srs_wkt=wkt)
    if nd is not None and np.isfinite(nd):
        arg = f"(default_value={int(nd) if float(nd).is_integer() else nd!r})"
    else:
        arg = ""
    ops = [f"values{arg}", f"coverage{arg}", f"center_y{arg}"]
    res = exact_extract(source, job.zones, ops, include_cols=["_zone"], output="pandas")
    res.columns = ["_zone", "values", "coverage", "center_y"]
    fixed = abs(t.a * t.e) if kind == "equal_area" else None
    half = abs(t.e) / 2
    for zid, vals, cov, cy in zip(
        res["_zone"], res["values"], res["coverage"], res["center_y"], strict=True
    ):
        vals = np.asarray(vals)
        if vals.size == 0:
            continue
        cy = np.asarray(cy, dtype="float64")
        if fixed is not None:
            cell = np.full(cy.shape, fixed)
        else:
            ys, inv = np.unique(cy, return_inverse=True)
            per = np.array([_band_area(y - half, y + half, abs(t.a)) for y in ys])
            cell = per[inv.ravel()]
        m2 = np.asarray(cov, dtype="float64") * cell
        if nd is None:
            nodata = np.zeros(vals.shape, dtype=bool)
        elif np.isnan(nd):
            nodata = np.isnan(vals.astype("float64"))
        else:
            nodata = vals == nd
        out.valid[zid] = out.valid.get(zid, 0.0) + float(m2[~nodata].sum())
        out.nodata[zid] = out.nodata.get(zid, 0.0) + float(m2[nodata].sum())
        v = vals[~nodata]
        classes = np.asarray(classify(v)) if classify is not None else v
        if classes.size:
            uniq, inv = np.unique(classes, return_inverse=True)
            sums = np.bincount(inv.ravel(), weights=m2[~nodata])
            for u, a in zip(uniq, sums, strict=True):
                key = (zid, u.item() if hasattr(u, "item") else u)
                out.area[key] = out.area.get(key, 0.0) + float(a)
    return out


def window_jobs(
    raster: RasterLike,
    zones: gpd.GeoDataFrame,
    id_col: str,
    *,
    band: int = 1,
    max_cells: int = WINDOW_CELLS,
) -> tuple[list[WindowJob], list[Any]]:
    """The windows of a raster with the zones each touches, and the zones' ids in order."""
    with open_raster(raster) as src:
        area_crs_kind(src.crs)
        windows = raster_windows(src, band=band, max_cells=max_cells)
        z, parts = zones_for_windows(src, zones, id_col, windows)
    jobs = [WindowJob(str(raster), band, w, p) for w, p in zip(windows, parts, strict=True)]
    return [j for j in jobs if not j.zones.empty], list(z["_zone"])


def class_areas_windowed(
    raster: RasterLike,
    zones: gpd.GeoDataFrame,
    id_col: str,
    *,
    classify: Callable[[np.ndarray], np.ndarray] | None = None,
    band: int = 1,
    max_cells: int = WINDOW_CELLS,
) -> pd.DataFrame:
    """:func:`class_areas` read window by window (block-aligned windows of at most about
    ``max_cells`` cells): the same table, with memory bounded by a window, not by the
    raster or the zones' size. The sums differ from :func:`class_areas` only by the order
    of floating-point additions."""
    jobs, order = window_jobs(raster, zones, id_col, band=band, max_cells=max_cells)
    total = ClassSums()
    for job in jobs:
        total = total + window_class_sums(job, classify)
    return total.table(id_col, list(dict.fromkeys(order)))
