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
mountains; they are not modelled here.) The rest of the land of the programme countries is
"arid lowland", the second ecosystem of the SOS Central Asia programme; lakes and glaciers
(Natural Earth) are set apart as their own classes.

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
ARID_LOWLAND = 7
LAKE = 8
GLACIER = 9
MOUNTAIN_CLASSES = (1, 2, 3, 4, 5, 6)
CLASS_LABELS = {
    1: "mountain K1: >= 4500 m",
    2: "mountain K2: 3500-4500 m",
    3: "mountain K3: 2500-3500 m",
    4: "mountain K4: 1500-2500 m, slope >= 2°",
    5: "mountain K5: 1000-1500 m, slope >= 5° or local range > 300 m",
    6: "mountain K6: 300-1000 m, local range > 300 m",
    ARID_LOWLAND: "arid lowland",
    LAKE: "lake",
    GLACIER: "glacier",
}
#: Map colours of the classes (mountain classes from dark to light brown).
CLASS_COLOURS = {
    1: "#4e342e",
    2: "#6d4c41",
    3: "#8d6e63",
    4: "#a1887f",
    5: "#bcaaa4",
    6: "#d7ccc8",
    ARID_LOWLAND: "#fdd835",
    LAKE: "#42a5f5",
    GLACIER: "#e3f2fd",
}
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
    if c == ARID_LOWLAND:
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
        Kapos classes 1..6, :data:`ARID_LOWLAND`, :data:`LAKE`, :data:`GLACIER`, 0 = outside.
    source : ndarray (uint8)
        Which DEM each cell came from: :data:`SOURCE_FINE`, :data:`SOURCE_COARSE`, 0 = none.
    elevation : ndarray (int16)
        Mean elevation of the cell (m), -32768 where unknown.
    country : ndarray (uint8)
        1-based index into ``countries``, 0 = outside.
    """

    classes: np.ndarray
    source: np.ndarray
    elevation: np.ndarray
    country: np.ndarray
    countries: list[str]
    transform: rasterio.Affine
    sources: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.classes.shape[0]), int(self.classes.shape[1]))

    def write(self, path: str | Path) -> Path:
        """Write a 4-band GeoTIFF (class, source, elevation, country) with the legend in tags."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        h, w = self.shape
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": 4,
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
            for i, d in enumerate(("class", "dem_source", "elevation_m", "country"), start=1):
                dst.set_band_description(i, d)
            dst.update_tags(
                classes=json.dumps(CLASS_LABELS),
                dem_sources=json.dumps(self.sources),
                countries=json.dumps(self.countries),
                parameters=json.dumps(self.parameters),
            )
        return path

    @classmethod
    def read(cls, path: str | Path) -> EcosystemGrid:
        """Read a grid written by :meth:`write`."""
        with open_raster(path) as src:
            if src.count != 4 or "countries" not in src.tags():
                raise InvalidInput(f"{path} is not an Irbis ecosystem grid (4 bands with tags)")
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


def classify_region(
    countries: gpd.GeoDataFrame,
    coarse_dem: str | Path,
    *,
    fine_dem: str | Path | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    glaciers: gpd.GeoDataFrame | None = None,
    iso_col: str = "iso_a3",
    resolution_deg: float = 1 / 60,
    radius_m: float = 7000.0,
    progress: Callable[[str], None] | None = None,
) -> EcosystemGrid:
    """Classify the land of ``countries`` into mountains (Kapos classes), arid lowland, lakes
    and glaciers.

    The fine DEM is classified at its own resolution within its window, the coarse DEM
    elsewhere; both are then brought to one output grid of ``resolution_deg`` (the fine
    classes by majority, elevations by mean), and each cell records its source DEM.

    Parameters
    ----------
    countries : GeoDataFrame
        Country polygons with an ISO alpha-3 column ``iso_col``.
    coarse_dem : path
        A lon/lat DEM covering all the countries (the 5′ DEM).
    fine_dem : path, optional
        A finer lon/lat DEM used where it has data (GEBCO 2023, 15″).
    lakes, glaciers : GeoDataFrame, optional
        Set apart as classes :data:`LAKE` and :data:`GLACIER`.
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
    minx, miny, maxx, maxy = c.total_bounds
    r = resolution_deg
    left, top = math.floor(minx / r) * r, math.ceil(maxy / r) * r
    width = math.ceil((maxx - left) / r)
    height = math.ceil((top - miny) / r)
    out_t = from_origin(left, top, r, r)
    shape = (height, width)
    bounds = (left, top - height * r, left + width * r, top)

    # coarse DEM everywhere
    ce, ct, _ = _read_dem(coarse_dem, bounds, 0.2)
    ccls = classify_dem(ce, ct, radius_m)
    say("coarse DEM classified")
    classes = _resample(ccls, ct, shape, out_t, Resampling.nearest, _KAPOS_NODATA)
    elev = _resample(ce, ct, shape, out_t, Resampling.bilinear, np.nan)
    source = np.where(classes != _KAPOS_NODATA, SOURCE_COARSE, 0).astype("uint8")
    sources = {str(SOURCE_COARSE): Path(str(coarse_dem)).name}

    if fine_dem is not None:
        fe, ft, _ = _read_dem(fine_dem, bounds, 0.1)
        if fe.size:
            fcls = classify_dem(fe, ft, radius_m)
            say("fine DEM classified")
            f_classes = _resample(fcls, ft, shape, out_t, Resampling.mode, _KAPOS_NODATA)
            f_elev = _resample(fe, ft, shape, out_t, Resampling.average, np.nan)
            use = f_classes != _KAPOS_NODATA
            classes[use] = f_classes[use]
            elev[use] = f_elev[use]
            source[use] = SOURCE_FINE
            sources[str(SOURCE_FINE)] = Path(str(fine_dem)).name
            del fe, fcls, f_classes, f_elev

    country = np.zeros(shape, dtype="uint8")
    isos = [str(v) for v in c[iso_col]]
    for i, geom in enumerate(c.geometry, start=1):
        m = rasterio.features.geometry_mask([geom], shape, out_t, invert=True)
        country[m & (country == 0)] = i
    land = country > 0
    out = np.where(classes == 0, ARID_LOWLAND, classes).astype("uint8")
    out[classes == _KAPOS_NODATA] = NODATA
    out[_burn(glaciers, shape, out_t)] = GLACIER
    out[_burn(lakes, shape, out_t)] = LAKE
    out[~land] = NODATA
    source[~land] = 0
    elev_i = np.where(np.isnan(elev) | ~land, -32768, np.round(elev)).astype("int16")
    say("countries, lakes and glaciers burnt in")
    return EcosystemGrid(
        classes=out,
        source=source,
        elevation=elev_i,
        country=np.where(land, country, 0).astype("uint8"),
        countries=isos,
        transform=out_t,
        sources=sources,
        parameters={"resolution_deg": r, "radius_m": radius_m, "definition": "Kapos et al. 2000"},
    )


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
