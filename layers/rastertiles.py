"""PNG tiles from registered rasters (the ``rasters`` table): DEMs and analysis outputs.

A tile is warped with rasterio from one or more files (painted in order, so a finer raster
drawn last covers a coarser one) into the grid of a tile matrix set, then coloured by a
*style*: ``elevation`` (hypsometric ramp), ``hillshade``, ``shaded`` (both) for DEMs, and
for any other raster ``values`` (a ramp between the raster's min and max) or ``classes``
(``properties.colormap`` of the raster row: value → colour). New kinds of analysis output get
tiles by registering their file in ``rasters``; a new colouring is one entry in
:data:`STYLES`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import morecantile
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.warp import reproject

from geo.errors import InvalidInput
from layers.tiles import get_tms

TILE_SIZE = 256
PNG = "image/png"

#: Hypsometric tints for land elevation in metres (Central Asia: -30 m .. 7,500 m).
ELEVATION_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (-100, (120, 160, 120)),
    (0, (150, 190, 130)),
    (400, (190, 210, 150)),
    (1000, (225, 220, 170)),
    (1800, (215, 190, 140)),
    (2800, (185, 150, 115)),
    (3800, (160, 135, 120)),
    (4600, (200, 195, 195)),
    (5500, (250, 250, 252)),
)
VALUE_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (68, 1, 84)),
    (0.25, (59, 82, 139)),
    (0.5, (33, 145, 140)),
    (0.75, (94, 201, 98)),
    (1.0, (253, 231, 37)),
)


@dataclass(frozen=True)
class RasterSource:
    """A registered raster file and what is known about it."""

    name: str
    path: Path
    kind: str
    nodata: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def _ramp(values: np.ndarray, stops: Sequence[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    xs = np.array([s[0] for s in stops], dtype="float64")
    out = np.empty((*values.shape, 3), dtype="uint8")
    for i in range(3):
        ys = np.array([s[1][i] for s in stops], dtype="float64")
        out[..., i] = np.interp(values, xs, ys).astype("uint8")
    return out


def hillshade(
    elevation: np.ndarray,
    dx_m: float,
    dy_m: float,
    *,
    azimuth: float = 315.0,
    altitude: float = 45.0,
) -> np.ndarray:
    """Hillshade (0..1) of an elevation array with pixel sizes in metres (NaN stays NaN)."""
    z = np.where(
        np.isnan(elevation), np.nanmean(elevation) if np.isfinite(elevation).any() else 0, elevation
    )
    gy, gx = np.gradient(z, dy_m, dx_m)
    slope = np.pi / 2.0 - np.arctan(np.hypot(gx, gy))
    aspect = np.arctan2(-gx, gy)
    az = np.radians(360.0 - azimuth + 90.0)
    alt = np.radians(altitude)
    shaded = np.sin(alt) * np.sin(slope) + np.cos(alt) * np.cos(slope) * np.cos(az - aspect)
    out = np.clip(shaded, 0, 1)
    out[np.isnan(elevation)] = np.nan
    return out


def _pixel_metres(tms_id: str, tile: morecantile.Tile) -> tuple[float, float]:
    tms = get_tms(tms_id)
    xmin, ymin, xmax, ymax = tms.xy_bounds(tile)
    _w, s, _e, n = tms.bounds(tile)
    lat = np.radians((s + n) / 2)
    if tms_id == "WorldCRS84Quad":
        dx = (xmax - xmin) / TILE_SIZE * 111_320 * np.cos(lat)
        dy = (ymax - ymin) / TILE_SIZE * 110_574
    else:  # Web Mercator metres shrink with latitude
        dx = (xmax - xmin) / TILE_SIZE * np.cos(lat)
        dy = (ymax - ymin) / TILE_SIZE * np.cos(lat)
    return float(dx), float(dy)


def read_tile(
    sources: Sequence[RasterSource], tms_id: str, z: int, x: int, y: int, *, pad: int = 0
) -> np.ndarray:
    """The tile's values as float64 (NaN where no source has data), ``pad`` pixels around."""
    tms = get_tms(tms_id)
    tile = morecantile.Tile(x, y, z)
    xmin, ymin, xmax, ymax = tms.xy_bounds(tile)
    size = TILE_SIZE + 2 * pad
    px = (xmax - xmin) / TILE_SIZE
    py = (ymax - ymin) / TILE_SIZE
    transform = from_bounds(
        xmin - pad * px, ymin - pad * py, xmax + pad * px, ymax + pad * py, size, size
    )
    return warp(sources, transform, tms.rasterio_crs, (size, size))


def warp(
    sources: Sequence[RasterSource], transform: Any, crs: Any, shape: tuple[int, int]
) -> np.ndarray:
    """The sources' first band on the grid of ``transform`` and ``shape`` in ``crs``, as
    float64 (NaN where no source has data; a later source painted over an earlier one)."""
    out = np.full(shape, np.nan, dtype="float64")
    for src in sources:
        buf = np.full(shape, np.nan, dtype="float64")
        with rasterio.open(src.path) as ds:
            reproject(
                source=rasterio.band(ds, 1),
                destination=buf,
                src_nodata=ds.nodata if ds.nodata is not None else src.nodata,
                dst_transform=transform,
                dst_crs=crs,
                dst_nodata=np.nan,
                # a DEM seen closer than its cells: cubic, whose slopes (the hillshade) are
                # smooth, where bilinear's change at every cell edge and shade it in blocks
                resampling=Resampling.cubic if src.kind == "dem" else Resampling.bilinear,
            )
        ok = np.isfinite(buf)
        out[ok] = buf[ok]
    return out


def _rgba(rgb: np.ndarray, mask: np.ndarray, alpha: int = 255) -> np.ndarray:
    a = np.where(mask, alpha, 0).astype("uint8")
    return np.dstack([rgb, a])


def style_elevation(v: np.ndarray, **_: Any) -> np.ndarray:
    ok = np.isfinite(v)
    return _rgba(_ramp(np.nan_to_num(v), ELEVATION_STOPS), ok)


def style_hillshade(v: np.ndarray, *, dx: float, dy: float, **_: Any) -> np.ndarray:
    hs = hillshade(v, dx, dy)
    ok = np.isfinite(hs)
    grey = (np.nan_to_num(hs, nan=1.0) * 255).astype("uint8")
    # dark where shaded, transparent where lit: it lies over any other layer
    alpha = np.where(ok, (1.0 - np.nan_to_num(hs, nan=1.0)) * 200, 0).astype("uint8")
    return np.dstack([grey // 3, grey // 3, grey // 3, alpha])


def style_shaded(v: np.ndarray, *, dx: float, dy: float, **_: Any) -> np.ndarray:
    ok = np.isfinite(v)
    rgb = _ramp(np.nan_to_num(v), ELEVATION_STOPS).astype("float64")
    hs = np.nan_to_num(hillshade(v, dx, dy), nan=1.0)
    shade = 0.45 + 0.55 * hs
    return _rgba((rgb * shade[..., None]).clip(0, 255).astype("uint8"), ok)


def style_values(v: np.ndarray, *, vmin: float, vmax: float, **_: Any) -> np.ndarray:
    ok = np.isfinite(v)
    span = (vmax - vmin) or 1.0
    return _rgba(_ramp(np.clip((np.nan_to_num(v) - vmin) / span, 0, 1), VALUE_STOPS), ok, 210)


def style_classes(v: np.ndarray, *, colormap: dict[str, str], **_: Any) -> np.ndarray:
    out = np.zeros((*v.shape, 4), dtype="uint8")
    for value, colour in colormap.items():
        c = colour.lstrip("#")
        rgb = [int(c[i : i + 2], 16) for i in (0, 2, 4)]
        m = np.isclose(v, float(value))
        out[m] = [*rgb, 210]
    return out


StyleFn = Callable[..., np.ndarray]
STYLES: dict[str, StyleFn] = {
    "elevation": style_elevation,
    "hillshade": style_hillshade,
    "shaded": style_shaded,
    "values": style_values,
    "classes": style_classes,
}
DEM_STYLES = ("shaded", "elevation", "hillshade")


def styles_for(kind: str, properties: dict[str, Any]) -> tuple[str, ...]:
    """The styles a raster of this kind can be drawn with (the first is the default)."""
    if kind == "dem":
        return DEM_STYLES
    if properties.get("colormap"):
        return ("classes", "values")
    return ("values",)


def value_range(sources: Sequence[RasterSource]) -> tuple[float, float]:
    """min/max from the rasters' properties, else from their overviews (cheap)."""
    lo, hi = np.inf, -np.inf
    for s in sources:
        p = s.properties
        if "min" in p and "max" in p:
            lo, hi = min(lo, float(p["min"])), max(hi, float(p["max"]))
            continue
        with rasterio.open(s.path) as ds:
            a = ds.read(1, out_shape=(max(1, ds.height // 16), max(1, ds.width // 16)), masked=True)
            if a.count():
                lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    return (0.0, 1.0) if not np.isfinite([lo, hi]).all() else (lo, hi)


def render_png(
    sources: Sequence[RasterSource], tms_id: str, z: int, x: int, y: int, *, style: str
) -> bytes:
    """The tile as a PNG (RGBA), coloured with ``style``."""
    if style not in STYLES:
        raise InvalidInput(f"unknown raster style {style!r}; use one of {', '.join(STYLES)}")
    pad = 1 if style in ("hillshade", "shaded") else 0
    values = read_tile(sources, tms_id, z, x, y, pad=pad)
    dx, dy = _pixel_metres(tms_id, morecantile.Tile(x, y, z))
    kwargs: dict[str, Any] = {"dx": dx, "dy": dy}
    if style == "values":
        kwargs["vmin"], kwargs["vmax"] = value_range(sources)
    if style == "classes":
        kwargs["colormap"] = sources[-1].properties.get("colormap") or {}
    rgba = STYLES[style](values, **kwargs)
    if pad:
        rgba = rgba[pad:-pad, pad:-pad]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(
        buf, "PNG", optimize=False, compress_level=6
    )
    return buf.getvalue()
