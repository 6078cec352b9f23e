"""Coordinate reference systems used by Irbis, and area helpers.

Geometries are stored in EPSG:4326 (longitude, latitude). Areas and lengths are never taken in
degrees: they are measured in an equal-area CRS (EPSG:6933, WGS 84 / NSIDC EASE-Grid 2.0
Global, cylindrical equal-area on the ellipsoid), or geodesically with pyproj.

Examples
--------
>>> from shapely.geometry import box
>>> round(geodesic_area_m2(box(76.9, 43.1, 77.0, 43.2)) / 1e4)  # hectares
9037
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import shapely
from pyproj import CRS, Geod

from geo.errors import CRSMismatch, MissingCRS

if TYPE_CHECKING:
    import geopandas as gpd

STORAGE_EPSG = 4326
EQUAL_AREA_EPSG = 6933
STORAGE_CRS = CRS.from_epsg(STORAGE_EPSG)

#: The region Irbis covers (lon 45..88 E, lat 35..56 N): Kazakhstan, Kyrgyzstan, Tajikistan,
#: Uzbekistan and their neighbourhood.
REGION_BOUNDS = (45.0, 35.0, 88.0, 56.0)
#: ISO 3166 alpha-3 codes of the four programme countries.
PROGRAMME_COUNTRIES = ("KAZ", "KGZ", "TJK", "UZB")

M2_PER_HA = 10_000.0
M2_PER_KM2 = 1_000_000.0

_GEOD = Geod(ellps="WGS84")


def require_crs(gdf: gpd.GeoDataFrame, *, what: str = "the data") -> CRS:
    """Return the CRS of ``gdf`` or raise :class:`MissingCRS` with an actionable message."""
    if gdf.crs is None:
        raise MissingCRS(
            f"{what} has no coordinate reference system. Add a .prj file (Shapefile), "
            "re-export with a CRS, or name the EPSG code of the coordinates."
        )
    return CRS.from_user_input(gdf.crs)


def to_storage(gdf: gpd.GeoDataFrame, *, what: str = "the data") -> gpd.GeoDataFrame:
    """Reproject ``gdf`` to the storage CRS (EPSG:4326), refusing data with no CRS."""
    crs = require_crs(gdf, what=what)
    if crs.equals(STORAGE_CRS) or crs.to_epsg() == STORAGE_EPSG:
        if gdf.crs != STORAGE_CRS:
            gdf = gdf.set_crs(STORAGE_EPSG, allow_override=True)
        return gdf
    return gdf.to_crs(STORAGE_EPSG)


def check_storage_srid(gdf: gpd.GeoDataFrame) -> None:
    """Raise :class:`CRSMismatch` unless ``gdf`` is in EPSG:4326 (checked before storage)."""
    crs = require_crs(gdf)
    if crs.to_epsg() != STORAGE_EPSG:
        raise CRSMismatch(
            f"geometries are in {crs.to_string()}, but Irbis stores EPSG:{STORAGE_EPSG}; "
            "reproject them first (geo.crs.to_storage)."
        )


def area_m2(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Areas in square metres, measured in the equal-area CRS (EPSG:6933).

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Any CRS; it is reprojected, never measured in degrees.
    """
    crs = require_crs(gdf)
    series = gdf.geometry
    if crs.is_geographic or crs.to_epsg() != EQUAL_AREA_EPSG:
        series = series.to_crs(EQUAL_AREA_EPSG)
    return np.asarray(series.area, dtype="float64")


def area_ha(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Areas in hectares (see :func:`area_m2`)."""
    return area_m2(gdf) / M2_PER_HA


def geodesic_area_m2(geom: shapely.Geometry | None) -> float:
    """Geodesic area in square metres of a lon/lat geometry on the WGS 84 ellipsoid.

    This is the one geodesic area measure of Irbis. Each polygon is measured on its own with
    a consistent orientation (exterior counter-clockwise, holes clockwise), so the area does
    not depend on how the rings were wound: parts wound in opposite directions add up
    instead of cancelling. Points and lines have no area (0); a collection counts its
    polygons. Overlapping parts of a multipolygon are counted once each (dissolve first).

    >>> from shapely.geometry import MultiPolygon, box
    >>> cw = shapely.reverse(box(77.0, 43.0, 77.1, 43.1))
    >>> both = MultiPolygon([box(76.8, 43.0, 76.9, 43.1), cw])
    >>> round(geodesic_area_m2(both) / geodesic_area_m2(box(76.8, 43.0, 76.9, 43.1)), 3)
    2.0
    """
    if geom is None or geom.is_empty:
        return 0.0
    total = 0.0
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            oriented = shapely.geometry.polygon.orient(part, sign=1.0)
            area, _ = _GEOD.geometry_area_perimeter(oriented)
            total += float(area)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            total += geodesic_area_m2(part)
    return total
