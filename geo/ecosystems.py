"""Ecosystems from the DEM: mountains (Kapos et al. 2000) and arid lowlands.

Mountains follow the UNEP-WCMC definition of Kapos, Rhind, Edwards, Price & Ravilious (2000),
"Developing a map of the world's mountain forests", in Price & Butt (eds.), *Forests in
Sustainable Mountain Development*, CABI, pp. 4–9 — the classes used by UNEP-WCMC's
*Mountain Watch* (2002):

=====  ==========================================================================
class  rule (elevation ``h`` in m, slope in degrees, ``LER`` = local elevation range
       within a 7 km radius)
=====  ==========================================================================
1      ``h >= 4500``
2      ``3500 <= h < 4500``
3      ``2500 <= h < 3500``
4      ``1500 <= h < 2500`` and slope >= 2°
5      ``1000 <= h < 1500`` and (slope >= 5° or LER > 300 m)
6      ``300 <= h < 1000`` and LER > 300 m
=====  ==========================================================================

(Kapos et al. also count isolated inner basins and plateaus under 25 km² surrounded by
mountains; they are not modelled here.) Glaciers and permanent snow stay in the mountain class
of their elevation. Non-mountain land is "arid lowland", the second ecosystem of the SOS
Central Asia programme, where its climate is arid by Köppen (group B; Kottek et al. 2006, at
1 km from Beck et al. 2018): desert (BW) or semi-desert and steppe (BS, after Rubel et al.
2017); the rest is "other lowland". Lakes are set apart where current land cover (MODIS 2019)
still has water.

Slope is computed geodesically for lon/lat pixels (pixel width and height in metres from the
WGS 84 radii of curvature at each row's latitude), and the local elevation range with an exact
circular window of 7 km radius whose size in pixels follows the latitude (computed in bands of
rows; each circle is decomposed into 1-D running max/min filters, so a 7 km window on the
15″ GEBCO grid costs ~30 linear passes rather than a 1,000-cell footprint per pixel).

Where the fine DEM (GEBCO 2023, 15″) does not reach, the coarse DEM (5′) is classified
instead, and every output cell records which DEM it came from (:data:`SOURCE_FINE`,
:data:`SOURCE_COARSE`). At 5′ (about 9 km) slope and local range are underestimated, so the
coarse-DEM mountain classes 4–6 are conservative there; the source band says where that applies.

Examples
--------
>>> import numpy as np
>>> kapos_classes(np.array([[4600, 3000, 1200]]), np.array([[0, 0, 6.0]]),
...               np.array([[0, 0, 0]])).tolist()
[[1, 3, 5]]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from affine import Affine
from scipy import ndimage

import geopandas as gpd
import rasterio
import rasterio.features
import shapely
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import reproject
from rasterio.windows import Window, from_bounds

from geo.crs import STORAGE_EPSG, area_ha, require_crs
from geo.errors import CRSMismatch, InvalidInput
from geo.raster import cell_areas_m2, open_raster

#: No data / outside the countries.
NODATA = 0
#: Kapos classes 1..6 are mountain; then these:
#: arid lowland, desert: non-mountain land of an arid desert climate (Köppen BW).
DESERT = 7
LAKE = 8
#: Glaciers of grids made before glaciers were classed by their elevation.
GLACIER = 9
#: arid lowland, semi-desert and steppe: non-mountain land of an arid steppe climate (Köppen BS).
SEMI_DESERT = 10
#: Non-mountain land that is not arid (humid steppe, forest-steppe, cropland belts).
OTHER_LOWLAND = 11
#: Non-mountain land whose climate was not given (no aridity raster, or its nodata).
LOWLAND_UNASSESSED = 12
MOUNTAIN_CLASSES = (1, 2, 3, 4, 5, 6)
ARID_CLASSES = (DESERT, SEMI_DESERT)
CLASS_LABELS = {
    1: "mountain K1: >= 4500 m",
    2: "mountain K2: 3500-4500 m",
    3: "mountain K3: 2500-3500 m",
    4: "mountain K4: 1500-2500 m, slope >= 2°",
    5: "mountain K5: 1000-1500 m, slope >= 5° or local range > 300 m",
    6: "mountain K6: 300-1000 m, local range > 300 m",
    DESERT: "arid lowland: desert (Köppen BW)",
    LAKE: "lake",
    GLACIER: "glacier (older grids)",
    SEMI_DESERT: "arid lowland: semi-desert and steppe (Köppen BS)",
    OTHER_LOWLAND: "other lowland (not arid)",
    LOWLAND_UNASSESSED: "lowland, aridity not assessed",
}
#: Map colours of the classes (mountain classes from dark to light brown).
CLASS_COLOURS = {
    1: "#4e342e",
    2: "#6d4c41",
    3: "#8d6e63",
    4: "#a1887f",
    5: "#bcaaa4",
    6: "#d7ccc8",
    DESERT: "#fdd835",
    LAKE: "#42a5f5",
    GLACIER: "#e3f2fd",
    SEMI_DESERT: "#ffee99",
    OTHER_LOWLAND: "#aed581",
    LOWLAND_UNASSESSED: "#e0e0e0",
}
#: Köppen-Geiger classes of the Rubel et al. (2017) grid: BWh, BWk (desert); BSh, BSk (steppe).
KOPPEN_DESERT = (7, 8)
KOPPEN_STEPPE = (5, 6)
#: Main class "B" (arid) of the Beck et al. (2018) 1 km grid.
BECK_ARID = 2
#: MODIS IGBP classes: water, permanent snow and ice.
IGBP_WATER = 0
IGBP_SNOW_ICE = 15
IGBP_NODATA = 255
#: RESOLVE 2017 biome of deserts and xeric shrublands.
BIOME_DESERT_XERIC = 13
SOURCE_FINE = 1
#: Longest edge (degrees) of a polygon made from the grid; longer edges are densified.
MAX_EDGE_DEG = 0.05
SOURCE_COARSE = 2

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_KAPOS_NODATA = 255


def kind_of_class(c: int) -> str:
    """Ecosystem kind (``mountain``, ``arid_lowland``, ``other``) of a class code."""
    if c in MOUNTAIN_CLASSES:
        return "mountain"
    if c in ARID_CLASSES:
        return "arid_lowland"
    return "other"


# ------------------------------------------------------------------------------------------
# Terrain: slope and local elevation range on a lon/lat grid
# ------------------------------------------------------------------------------------------


def _pixel_metres(lat_deg: np.ndarray, dlon: float, dlat: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel width and height in metres at each latitude (WGS 84 radii of curvature)."""
    phi = np.radians(lat_deg)
    s2 = np.sin(phi) ** 2
    n = _A / np.sqrt(1 - _E2 * s2)  # prime vertical radius
    m = _A * (1 - _E2) / (1 - _E2 * s2) ** 1.5  # meridional radius
    return n * np.cos(phi) * math.radians(abs(dlon)), m * math.radians(abs(dlat))


def _row_lats(transform: rasterio.Affine, height: int) -> np.ndarray:
    return transform.f + transform.e * (np.arange(height) + 0.5)


def slope_degrees(elev: np.ndarray, transform: rasterio.Affine) -> np.ndarray:
    """Slope in degrees of a lon/lat DEM, with pixel sizes in metres per row.

    Parameters
    ----------
    elev : ndarray
        Elevation in metres, NaN where unknown.
    transform : Affine
        The DEM's lon/lat transform (north-up).
    """
    lats = _row_lats(transform, elev.shape[0])
    dx, dy = _pixel_metres(lats, transform.a, transform.e)
    gy, gx = np.gradient(elev.astype("float32"))
    gx = gx / dx[:, None].astype("float32")
    gy = gy / dy[:, None].astype("float32")
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def _circular_extreme(
    a: np.ndarray, half_widths: dict[int, int], fn: Callable[..., np.ndarray], fill: float
) -> np.ndarray:
    """Max (or min) over a circular window given as half-widths per row offset."""
    h = a.shape[0]
    out = np.full_like(a, fill)
    comb = np.maximum if fn is ndimage.maximum_filter1d else np.minimum
    by_width: dict[int, list[int]] = {}
    for dy, wx in half_widths.items():
        by_width.setdefault(wx, []).append(dy)
    for wx, dys in by_width.items():
        f = fn(a, size=2 * wx + 1, axis=1, mode="constant", cval=fill)
        for dy in dys:
            if dy >= 0:
                comb(out[: h - dy], f[dy:], out=out[: h - dy])
            else:
                comb(out[-dy:], f[: h + dy], out=out[-dy:])
    return out


def local_range(
    elev: np.ndarray, transform: rasterio.Affine, radius_m: float = 7000.0, band_rows: int = 256
) -> np.ndarray:
    """Local elevation range (max - min) within a circle of ``radius_m`` around each cell.

    The circle's size in pixels follows the latitude (one footprint per band of
    ``band_rows`` rows); at least the 4-neighbourhood is always used, so a coarse DEM
    still gets a local range. NaN cells are ignored.
    """
    h = elev.shape[0]
    a = elev.astype("float32")
    hi_in = np.where(np.isnan(a), -np.inf, a)
    lo_in = np.where(np.isnan(a), np.inf, a)
    out = np.full(a.shape, np.nan, dtype="float32")
    lats = _row_lats(transform, h)
    for r0 in range(0, h, band_rows):
        r1 = min(h, r0 + band_rows)
        wx_m, wy_m = _pixel_metres(np.array([lats[(r0 + r1 - 1) // 2]]), transform.a, transform.e)
        dx, dy = float(wx_m[0]), float(wy_m[0])
        ry = max(1, int(radius_m // dy))
        widths: dict[int, int] = {}
        for k in range(-ry, ry + 1):
            rem = radius_m**2 - (k * dy) ** 2
            wx = int(math.sqrt(rem) // dx) if rem >= 0 else 0
            widths[k] = max(wx, 1 if k == 0 else 0)
        p0, p1 = max(0, r0 - ry), min(h, r1 + ry)
        hi = _circular_extreme(hi_in[p0:p1], widths, ndimage.maximum_filter1d, -np.inf)
        lo = _circular_extreme(lo_in[p0:p1], widths, ndimage.minimum_filter1d, np.inf)
        out[r0:r1] = (hi - lo)[r0 - p0 : r0 - p0 + (r1 - r0)]
    out[np.isnan(a)] = np.nan
    return out


def kapos_classes(elev: np.ndarray, slope: np.ndarray, ler: np.ndarray) -> np.ndarray:
    """Kapos et al. (2000) mountain class (1..6) of each cell, 0 if not mountain, 255 if unknown.

    Parameters
    ----------
    elev, slope, ler : ndarray
        Elevation (m), slope (degrees) and local elevation range within 7 km (m); NaN
        elevation means no data.
    """
    e = np.asarray(elev, dtype="float64")
    s = np.asarray(slope, dtype="float64")
    r = np.asarray(ler, dtype="float64")
    out = np.zeros(e.shape, dtype="uint8")
    with np.errstate(invalid="ignore"):
        conds = [
            e >= 4500,
            (e >= 3500) & (e < 4500),
            (e >= 2500) & (e < 3500),
            (e >= 1500) & (e < 2500) & (s >= 2),
            (e >= 1000) & (e < 1500) & ((s >= 5) | (r > 300)),
            (e >= 300) & (e < 1000) & (r > 300),
        ]
    for cls, c in zip(MOUNTAIN_CLASSES, conds, strict=True):
        out[c & (out == 0)] = cls
    out[np.isnan(e)] = _KAPOS_NODATA
    return out


def classify_dem(
    elev: np.ndarray, transform: rasterio.Affine, radius_m: float = 7000.0
) -> np.ndarray:
    """Kapos classes of a lon/lat DEM array (NaN = no data); see :func:`kapos_classes`."""
    return kapos_classes(
        elev, slope_degrees(elev, transform), local_range(elev, transform, radius_m)
    )


# ------------------------------------------------------------------------------------------
# The region: fine DEM where it reaches, coarse elsewhere, countries, lakes and glaciers
# ------------------------------------------------------------------------------------------


@dataclass
class EcosystemGrid:
    """A classified ecosystem grid in EPSG:4326.

    Attributes
    ----------
    classes : ndarray (uint8)
        Kapos classes 1..6 (glaciers and permanent snow inside the class of their
        elevation), :data:`DESERT`, :data:`SEMI_DESERT`, :data:`OTHER_LOWLAND`,
        :data:`LOWLAND_UNASSESSED`, :data:`LAKE`; 0 = outside.
    source : ndarray (uint8)
        Which DEM each cell came from: :data:`SOURCE_FINE`, :data:`SOURCE_COARSE`, 0 = none.
    elevation : ndarray (int16)
        Mean elevation of the cell (m), -32768 where unknown.
    country : ndarray (uint8)
        1-based index into ``countries``, 0 = outside.
    landcover : ndarray (uint8), optional
        MODIS IGBP land-cover class of each cell (255 = unknown), for Area of Habitat.
    stats : dict
        What the classification measured on the way (glaciated area per country, the
        coarse-DEM bias, the two aridity definitions compared); stored with the run.
    """

    classes: np.ndarray
    source: np.ndarray
    elevation: np.ndarray
    country: np.ndarray
    countries: list[str]
    transform: rasterio.Affine
    sources: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    landcover: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.classes.shape[0]), int(self.classes.shape[1]))

    def write(self, path: str | Path) -> Path:
        """Write a GeoTIFF (class, source, elevation, country and, when known, land cover)
        with the legend in tags."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        h, w = self.shape
        bands = ["class", "dem_source", "elevation_m", "country"]
        if self.landcover is not None:
            bands.append("landcover_igbp")
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": len(bands),
            "dtype": "int16",
            "crs": f"EPSG:{STORAGE_EPSG}",
            "transform": self.transform,
            "compress": "deflate",
            "tiled": True,
            "nodata": -32768,
        }
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(self.classes.astype("int16"), 1)
            dst.write(self.source.astype("int16"), 2)
            dst.write(self.elevation.astype("int16"), 3)
            dst.write(self.country.astype("int16"), 4)
            if self.landcover is not None:
                dst.write(self.landcover.astype("int16"), 5)
            for i, d in enumerate(bands, start=1):
                dst.set_band_description(i, d)
            dst.update_tags(
                classes=json.dumps(CLASS_LABELS),
                dem_sources=json.dumps(self.sources),
                countries=json.dumps(self.countries),
                parameters=json.dumps(self.parameters),
                stats=json.dumps(self.stats),
            )
        return path

    @classmethod
    def read(cls, path: str | Path) -> EcosystemGrid:
        """Read a grid written by :meth:`write`."""
        with open_raster(path) as src:
            if src.count not in (4, 5) or "countries" not in src.tags():
                raise InvalidInput(f"{path} is not an Irbis ecosystem grid (4 or 5 bands, tags)")
            b = src.read()
            tags = src.tags()
            return cls(
                classes=b[0].astype("uint8"),
                source=b[1].astype("uint8"),
                elevation=b[2].astype("int16"),
                country=b[3].astype("uint8"),
                countries=json.loads(tags["countries"]),
                transform=src.transform,
                sources=json.loads(tags.get("dem_sources", "{}")),
                parameters=json.loads(tags.get("parameters", "{}")),
                landcover=b[4].astype("uint8") if src.count == 5 else None,
                stats=json.loads(tags.get("stats", "{}")),
            )


def _read_dem(
    path: str | Path, bounds: tuple[float, float, float, float], pad_deg: float
) -> tuple[np.ndarray, rasterio.Affine, Any]:
    with open_raster(path) as src:
        if not src.crs.is_geographic:
            raise CRSMismatch(
                f"DEM {Path(str(path)).name} is in {src.crs.to_string()}; the classification "
                "needs a lon/lat DEM (EPSG:4326): gdalwarp -t_srs EPSG:4326 in.tif out.tif"
            )
        left, bottom, right, top = bounds
        win = from_bounds(
            left - pad_deg, bottom - pad_deg, right + pad_deg, top + pad_deg, src.transform
        )
        win = win.intersection(Window(0, 0, src.width, src.height)).round_offsets().round_lengths()
        data = src.read(1, window=win, masked=True).astype("float32").filled(np.nan)
        return data, src.window_transform(win), src.bounds


def _resample(
    src_arr: np.ndarray,
    src_t: rasterio.Affine,
    dst_shape: tuple[int, int],
    dst_t: rasterio.Affine,
    method: Resampling,
    nodata: float,
) -> np.ndarray:
    dst = np.full(dst_shape, nodata, dtype=src_arr.dtype)
    reproject(
        src_arr,
        dst,
        src_transform=src_t,
        src_crs="EPSG:4326",
        dst_transform=dst_t,
        dst_crs="EPSG:4326",
        resampling=method,
        src_nodata=nodata,
        dst_nodata=nodata,
    )
    return dst


def _burn(gdf: gpd.GeoDataFrame | None, shape: tuple[int, int], t: rasterio.Affine) -> np.ndarray:
    if gdf is None or gdf.empty:
        return np.zeros(shape, dtype=bool)
    geoms = [g for g in gdf.to_crs(STORAGE_EPSG).geometry if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(shape, dtype=bool)
    return rasterio.features.geometry_mask(geoms, shape, t, invert=True)


def _read_categorical(
    path: str | Path, shape: tuple[int, int], t: rasterio.Affine, nodata: int
) -> np.ndarray:
    """A categorical lon/lat raster on the output grid (majority of the source cells)."""
    with open_raster(path) as src:
        if not src.crs.is_geographic:
            raise CRSMismatch(
                f"{Path(str(path)).name} is in {src.crs.to_string()}; a lon/lat raster "
                "(EPSG:4326) is needed: gdalwarp -t_srs EPSG:4326 in.tif out.tif"
            )
        dst = np.full(shape, nodata, dtype="uint8")
        src_nodata = src.nodata if src.nodata is not None else nodata
        finer = abs(src.transform.a) < abs(t.a)
        reproject(
            rasterio.band(src, 1),
            dst,
            dst_transform=t,
            dst_crs="EPSG:4326",
            resampling=Resampling.mode if finer else Resampling.nearest,
            src_nodata=src_nodata,
            dst_nodata=nodata,
        )
        if src_nodata != nodata:
            dst[dst == src_nodata] = nodata
    return dst


def elevation_class(elev: np.ndarray) -> np.ndarray:
    """The Kapos class (1..6) that elevation alone gives, slope and relief waived; 0 below
    300 m or unknown. Used for glaciers and permanent snow, which are mountain by nature."""
    e = np.asarray(elev, dtype="float64")
    out = np.zeros(e.shape, dtype="uint8")
    with np.errstate(invalid="ignore"):
        for cls, lo in zip(MOUNTAIN_CLASSES, (4500, 3500, 2500, 1500, 1000, 300), strict=True):
            out[(e >= lo) & (out == 0)] = cls
    return out


def lowland_classes(arid: np.ndarray, desert: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Class of non-mountain land from its climate: :data:`DESERT` where arid and desert,
    :data:`SEMI_DESERT` where arid only, :data:`OTHER_LOWLAND` where not arid,
    :data:`LOWLAND_UNASSESSED` where the climate is unknown.

    >>> lowland_classes(np.array([[1, 1, 0, 0]], bool), np.array([[1, 0, 0, 0]], bool),
    ...                 np.array([[1, 1, 1, 0]], bool)).tolist()
    [[7, 10, 11, 12]]
    """
    out = np.full(arid.shape, LOWLAND_UNASSESSED, dtype="uint8")
    out[known & arid & desert] = DESERT
    out[known & arid & ~desert] = SEMI_DESERT
    out[known & ~arid] = OTHER_LOWLAND
    return out


def classify_region(
    countries: gpd.GeoDataFrame,
    coarse_dem: str | Path,
    *,
    fine_dem: str | Path | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    glaciers: gpd.GeoDataFrame | None = None,
    koppen: str | Path | None = None,
    aridity: str | Path | None = None,
    landcover: str | Path | None = None,
    ecoregions: gpd.GeoDataFrame | None = None,
    iso_col: str = "iso_a3",
    resolution_deg: float = 1 / 60,
    radius_m: float = 7000.0,
    progress: Callable[[str], None] | None = None,
) -> EcosystemGrid:
    """Classify the land of ``countries`` into mountains (Kapos classes), arid lowland
    (desert; semi-desert and steppe), other lowland and lakes.

    The fine DEM is classified at its own resolution within its window, the coarse DEM
    elsewhere; both are then brought to one output grid of ``resolution_deg`` (the fine
    classes by majority, elevations by mean), and each cell records its source DEM.
    Glaciers and permanent snow stay in the mountain class their elevation gives them.
    Non-mountain land is arid where the climate is Köppen B (Kottek et al. 2006; Beck et al.
    2018 at 1 km for the arid edge), desert where it is BW, semi-desert and steppe where BS.

    Parameters
    ----------
    countries : GeoDataFrame
        Country polygons with an ISO alpha-3 column ``iso_col``.
    coarse_dem : path
        A lon/lat DEM covering all the countries (the 5′ DEM).
    fine_dem : path, optional
        A finer lon/lat DEM used where it has data (GEBCO 2023, 15″).
    lakes : GeoDataFrame, optional
        Lake outlines, class :data:`LAKE`; where ``landcover`` is given, an outline counts
        only where the land cover has water within one of its cells (a dried lake bed such
        as the former Aral Sea is land), and the land cover's water is added.
    glaciers : GeoDataFrame, optional
        Glacier outlines (with the land cover's permanent snow and ice): kept in the
        mountain class of their elevation; their area is reported in ``stats``.
    koppen : path, optional
        Köppen–Geiger classes 1–32 (Rubel et al. 2017): BW = desert, BS = steppe.
    aridity : path, optional
        Köppen main classes 1–5 (Beck et al. 2018, 1 km): 2 = arid (B), the arid edge.
        Without it, B is read from ``koppen``.
    landcover : path, optional
        MODIS IGBP land cover (MCD12C1), kept on the grid for Area of Habitat.
    ecoregions : GeoDataFrame, optional
        RESOLVE 2017 ecoregions with ``biome_num``: the biome definition of aridity (biome
        13, deserts and xeric shrublands) is measured beside the Köppen one in ``stats``.
    resolution_deg : float
        Output cell size in degrees (default 1′, about 1.4 × 1.9 km).
    radius_m : float
        Radius of the local elevation range window (Kapos et al.: 7 km).
    progress : callable, optional
        Called with a short message after each step.

    Returns
    -------
    EcosystemGrid
    """
    say = progress or (lambda _m: None)
    require_crs(countries, what="the countries")
    if iso_col not in countries.columns:
        raise InvalidInput(f"the countries have no column {iso_col!r}")
    if not 1 / 480 <= resolution_deg <= 0.25:
        raise InvalidInput("resolution_deg must lie between 1/480 and 0.25 degrees")
    c = countries.to_crs(STORAGE_EPSG)
    c = c[~(c.geometry.isna() | c.geometry.is_empty)]
    if c.empty:
        raise InvalidInput("no country geometry to classify")
    g = _OutputGrid.around(c, resolution_deg)
    dem = _classify_dems(g, coarse_dem, fine_dem, radius_m, say)
    isos = [str(v) for v in c[iso_col]]
    country = _country_raster(g, c)
    land = country > 0
    known = dem.classes != _KAPOS_NODATA
    lc = None
    if landcover is not None:
        lc = _read_categorical(landcover, g.shape, g.transform, IGBP_NODATA)

    # glaciers and permanent snow: mountain by the class of their elevation
    glaciated = _burn(glaciers, g.shape, g.transform)
    if lc is not None:
        glaciated |= lc == IGBP_SNOW_ICE
    by_elevation = elevation_class(dem.elevation)
    lift = glaciated & known & (dem.classes == 0) & (by_elevation > 0)
    dem.classes[lift] = by_elevation[lift]

    # non-mountain land by its climate
    arid, low = _lowland_by_climate(g, koppen, aridity)
    out = np.where(known & (dem.classes == 0), low, dem.classes).astype("uint8")
    out[~known] = NODATA

    # lakes: outlines where the land cover (2019) still has water, and its water
    lake, stale = _lakes(g, lakes, lc)
    out[lake & known] = LAKE
    out[~land] = NODATA
    dem.source[~land] = 0
    elev_i = np.where(np.isnan(dem.elevation) | ~land, -32768, np.round(dem.elevation))
    say("climate, lakes and glaciers applied")

    layers = _Layers(out, dem, country, glaciated, arid, stale)
    stats = {"countries": _country_stats(g, layers, isos, ecoregions)}
    assessed = koppen is not None or aridity is not None
    return EcosystemGrid(
        classes=out,
        source=dem.source,
        elevation=elev_i.astype("int16"),
        country=np.where(land, country, 0).astype("uint8"),
        countries=isos,
        transform=g.transform,
        sources=dem.sources,
        parameters={
            "resolution_deg": resolution_deg,
            "radius_m": radius_m,
            "definition": "Kapos et al. 2000",
            "aridity": "Köppen B (Beck et al. 2018 main class), BW desert / BS steppe "
            "(Rubel et al. 2017)"
            if assessed
            else "not assessed",
        },
        landcover=np.where(land, lc, IGBP_NODATA).astype("uint8") if lc is not None else None,
        stats=stats,
    )


def _country_raster(g: _OutputGrid, c: gpd.GeoDataFrame) -> np.ndarray:
    """The 1-based position of each cell's country (0: none); the first country wins."""
    country = np.zeros(g.shape, dtype="uint8")
    for i, geom in enumerate(c.geometry, start=1):
        m = rasterio.features.geometry_mask([geom], g.shape, g.transform, invert=True)
        country[m & (country == 0)] = i
    return country


@dataclass(frozen=True)
class _OutputGrid:
    """The output grid: whole cells of ``resolution`` degrees around the countries."""

    transform: Affine
    shape: tuple[int, int]
    bounds: tuple[float, float, float, float]

    @classmethod
    def around(cls, c: gpd.GeoDataFrame, r: float) -> _OutputGrid:
        minx, miny, maxx, maxy = c.total_bounds
        left, top = math.floor(minx / r) * r, math.ceil(maxy / r) * r
        width = math.ceil((maxx - left) / r)
        height = math.ceil((top - miny) / r)
        return cls(
            transform=from_origin(left, top, r, r),
            shape=(height, width),
            bounds=(left, top - height * r, left + width * r, top),
        )


@dataclass
class _DemClasses:
    """Kapos classes and elevation on the output grid, and which DEM gave each cell."""

    classes: np.ndarray
    coarse_classes: np.ndarray
    elevation: np.ndarray
    source: np.ndarray
    sources: dict[str, str]


def _classify_dems(
    g: _OutputGrid,
    coarse_dem: str | Path,
    fine_dem: str | Path | None,
    radius_m: float,
    say: Callable[[str], None],
) -> _DemClasses:
    """The coarse DEM everywhere; the fine DEM, at its own resolution, where it has data."""
    ce, ct, _ = _read_dem(coarse_dem, g.bounds, 0.2)
    ccls = classify_dem(ce, ct, radius_m)
    say("coarse DEM classified")
    classes = _resample(ccls, ct, g.shape, g.transform, Resampling.nearest, _KAPOS_NODATA)
    elev = _resample(ce, ct, g.shape, g.transform, Resampling.bilinear, np.nan)
    out = _DemClasses(
        classes=classes,
        coarse_classes=classes.copy(),
        elevation=elev,
        source=np.where(classes != _KAPOS_NODATA, SOURCE_COARSE, 0).astype("uint8"),
        sources={str(SOURCE_COARSE): Path(str(coarse_dem)).name},
    )
    if fine_dem is None:
        return out
    fe, ft, _ = _read_dem(fine_dem, g.bounds, 0.1)
    if not fe.size:
        return out
    fcls = classify_dem(fe, ft, radius_m)
    say("fine DEM classified")
    f_classes = _resample(fcls, ft, g.shape, g.transform, Resampling.mode, _KAPOS_NODATA)
    f_elev = _resample(fe, ft, g.shape, g.transform, Resampling.average, np.nan)
    use = f_classes != _KAPOS_NODATA
    out.classes[use] = f_classes[use]
    out.elevation[use] = f_elev[use]
    out.source[use] = SOURCE_FINE
    out.sources[str(SOURCE_FINE)] = Path(str(fine_dem)).name
    return out


def _lowland_by_climate(
    g: _OutputGrid, koppen: str | Path | None, aridity: str | Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """Where the climate is arid, and the lowland class each cell would take."""
    if koppen is None and aridity is None:
        return np.zeros(g.shape, dtype=bool), np.full(g.shape, LOWLAND_UNASSESSED, dtype="uint8")
    kg = _read_categorical(koppen, g.shape, g.transform, 0) if koppen is not None else None
    if aridity is not None:
        beck = _read_categorical(aridity, g.shape, g.transform, 0)
        arid, climate_known = beck == BECK_ARID, beck != 0
    else:
        assert kg is not None
        arid = np.isin(kg, (*KOPPEN_DESERT, *KOPPEN_STEPPE))
        climate_known = kg != 0
    desert = np.isin(kg, KOPPEN_DESERT) if kg is not None else np.zeros(g.shape, dtype=bool)
    return arid, lowland_classes(arid, desert, climate_known)


def _lakes(
    g: _OutputGrid, lakes: gpd.GeoDataFrame | None, lc: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Lake cells (outlines that still hold water, and the land cover's water) and the
    outline cells that no longer do."""
    lake = _burn(lakes, g.shape, g.transform)
    if lc is None:
        return lake, np.zeros(g.shape, dtype=bool)
    water = lc == IGBP_WATER
    r = g.transform.a
    near = ndimage.binary_dilation(water, iterations=max(1, round(0.05 / r)))
    return (lake & near) | water, lake & ~near


@dataclass(frozen=True)
class _Layers:
    out: np.ndarray
    dem: _DemClasses
    country: np.ndarray
    glaciated: np.ndarray
    arid: np.ndarray
    stale: np.ndarray


def _country_stats(
    g: _OutputGrid, layers: _Layers, isos: list[str], ecoregions: gpd.GeoDataFrame | None
) -> dict[str, Any]:
    """Per country: the area each DEM classified, glaciated mountain, the coarse-DEM bias
    where both DEMs exist, stale lake outlines, and Köppen vs biome aridity."""
    out, dem = layers.out, layers.dem
    height, width = g.shape
    cell_ha = cell_areas_m2(g.transform, height, width, f"EPSG:{STORAGE_EPSG}") / 1e4
    mountain = np.isin(out, MOUNTAIN_CLASSES)
    biome = None
    if ecoregions is not None and not ecoregions.empty:
        e = ecoregions.to_crs(STORAGE_EPSG)
        biome = _burn(e[e["biome_num"] == BIOME_DESERT_XERIC], g.shape, g.transform)
    stats: dict[str, Any] = {}
    for i, iso in enumerate(isos, start=1):
        inc = layers.country == i
        fine_cells = inc & (dem.source == SOURCE_FINE)
        coarse_known = fine_cells & (dem.coarse_classes != _KAPOS_NODATA)
        nonmtn = inc & np.isin(out, (*ARID_CLASSES, OTHER_LOWLAND, LOWLAND_UNASSESSED))
        entry: dict[str, Any] = {
            "land_ha": float(cell_ha[inc & (out != NODATA)].sum()),
            "mountain_ha": float(cell_ha[inc & mountain].sum()),
            "glaciated_mountain_ha": float(cell_ha[inc & mountain & layers.glaciated].sum()),
            "ha_by_dem": {
                dem.sources[str(k)]: float(cell_ha[inc & (dem.source == k) & (out != NODATA)].sum())
                for k in (SOURCE_FINE, SOURCE_COARSE)
                if str(k) in dem.sources
            },
            # the same cells classified on the coarse DEM: its bias where both exist
            "fine_window_mountain_ha": {
                "fine_dem": float(cell_ha[coarse_known & mountain].sum()),
                "coarse_dem": float(
                    cell_ha[coarse_known & np.isin(dem.coarse_classes, MOUNTAIN_CLASSES)].sum()
                ),
            },
            "stale_lake_ha": float(cell_ha[inc & layers.stale].sum()),
            "non_mountain_ha": float(cell_ha[nonmtn].sum()),
            "arid_koppen_ha": float(cell_ha[nonmtn & np.isin(out, ARID_CLASSES)].sum()),
        }
        if biome is not None:
            entry["arid_biome_ha"] = float(cell_ha[nonmtn & biome].sum())
            entry["arid_both_ha"] = float(cell_ha[nonmtn & biome & layers.arid].sum())
        stats[iso] = entry
    return stats


def polygonize(
    grid: EcosystemGrid, values: np.ndarray, mask: np.ndarray, columns: Sequence[str] = ()
) -> gpd.GeoDataFrame:
    """Polygons of equal ``values`` within ``mask``, dissolved per value (a coverage union).

    Edges longer than :data:`MAX_EDGE_DEG` are densified: a long edge of a lon/lat grid runs
    along a parallel, which a geodesic reading (PostGIS geography) would otherwise bend.
    """
    v = values.astype("int32")
    shapes = rasterio.features.shapes(v, mask=mask, transform=grid.transform, connectivity=4)
    geoms, keys = [], []
    for geom, val in shapes:
        geoms.append(shapely.geometry.shape(geom))
        keys.append(int(val))
    if not geoms:
        return gpd.GeoDataFrame({"key": []}, geometry=[], crs=STORAGE_EPSG)
    df = pd.DataFrame({"key": keys, "geometry": geoms})
    parts = []
    for key, g in df.groupby("key"):
        merged = shapely.coverage_union_all(np.asarray(g["geometry"]))
        # edges along parallels are densified, so that planar (lon/lat), equal-area and
        # geodesic (PostGIS geography) readings of the polygon agree
        merged = shapely.segmentize(merged, MAX_EDGE_DEG)
        parts.append({"key": key, "geometry": _multi(merged)})
    return gpd.GeoDataFrame(parts, geometry="geometry", crs=STORAGE_EPSG)


def _multi(g: shapely.Geometry) -> shapely.Geometry:
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    if g.geom_type == "GeometryCollection":
        polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
        return _multi(shapely.union_all(polys)) if polys else shapely.MultiPolygon()
    return g


def ecosystem_polygons(grid: EcosystemGrid) -> gpd.GeoDataFrame:
    """Ecosystem polygons per class, source DEM and country, with equal-area areas (ha).

    Returns
    -------
    GeoDataFrame
        Columns ``kind`` (mountain, arid_lowland, other), ``eco_class``, ``label``,
        ``dem_source`` (1 fine, 2 coarse), ``dem``, ``iso3``, ``area_ha``, geometry.
    """
    key = grid.classes.astype("int32") + 16 * grid.source.astype("int32") + 64 * grid.country
    mask = grid.classes != NODATA
    polys = polygonize(grid, key, mask)
    if polys.empty:
        return gpd.GeoDataFrame(
            columns=["kind", "eco_class", "label", "dem_source", "dem", "iso3", "area_ha"],
            geometry=[],
            crs=STORAGE_EPSG,
        )
    k = polys["key"].to_numpy()
    polys["eco_class"] = k % 16
    polys["dem_source"] = (k // 16) % 4
    polys["iso3"] = [grid.countries[i - 1] for i in k // 64]
    polys["kind"] = [kind_of_class(int(v)) for v in polys["eco_class"]]
    polys["label"] = [CLASS_LABELS[int(v)] for v in polys["eco_class"]]
    polys["dem"] = [grid.sources.get(str(int(s)), "") for s in polys["dem_source"]]
    polys["area_ha"] = area_ha(polys)
    cols = ["kind", "eco_class", "label", "dem_source", "dem", "iso3", "area_ha", "geometry"]
    return polys[cols].sort_values(["iso3", "eco_class", "dem_source"]).reset_index(drop=True)


def ecosystem_areas(polygons: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area (ha) per country and ecosystem kind, with totals and shares of each country."""
    if polygons.empty:
        return pd.DataFrame(columns=["iso3", "kind", "area_ha", "share"])
    t = polygons.groupby(["iso3", "kind"], as_index=False)["area_ha"].sum()
    t["share"] = t["area_ha"] / t.groupby("iso3")["area_ha"].transform("sum")
    return t


def grid_areas(grid: EcosystemGrid) -> pd.DataFrame:
    """Area (ha) per country and class from the grid's cell areas (a check on the polygons)."""
    cell = cell_areas_m2(grid.transform, *grid.shape, f"EPSG:{STORAGE_EPSG}")
    m = grid.classes != NODATA
    df = pd.DataFrame(
        {
            "iso3": np.array(grid.countries, dtype=object)[grid.country[m].astype(int) - 1],
            "eco_class": grid.classes[m],
            "area_ha": cell[m] / 1e4,
        }
    )
    return df.groupby(["iso3", "eco_class"], as_index=False)["area_ha"].sum()
