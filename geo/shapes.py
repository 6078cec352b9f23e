"""Shapes: the polygonal part of any geometry, and deterministic schematic shapes sized on the
ellipsoid (for example records and tests).

Examples
--------
>>> from geo.crs import geodesic_area_m2
>>> e = ellipse_with_area(76.98, 43.14, area_ha=1002, aspect=1.8)
>>> round(geodesic_area_m2(e) / 1e4)
1002
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.crs import geodesic_area_m2

_GEOD = Geod(ellps="WGS84")
_POLYGON = shapely.GeometryType.POLYGON
_MULTIPOLYGON = shapely.GeometryType.MULTIPOLYGON
_FIRST_MULTI = shapely.GeometryType.MULTIPOINT  # multi-part types and collections follow it


def polygonal_parts(
    geoms: Sequence[BaseGeometry | None] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The polygonal part of each geometry as a MultiPolygon, and whether other parts were
    dropped.

    Polygons of any depth of collections are kept; points, lines and empty parts go. A
    geometry with no polygonal part (a missing one, an empty one, a point, a line) gives an
    empty MultiPolygon. Nothing is unioned or repaired: make the input valid first (the parts
    of a valid geometry, or of ``make_valid``'s output, do not overlap).

    Parameters
    ----------
    geoms
        Geometries (or None), as a sequence or an array.

    Returns
    -------
    parts : numpy.ndarray of MultiPolygon
        The polygonal part of each geometry, in order.
    dropped : numpy.ndarray of bool
        True where a non-empty point or line part was dropped.

    Examples
    --------
    >>> from shapely import GeometryCollection, LineString, box
    >>> parts, dropped = polygonal_parts(
    ...     [box(0, 0, 1, 1), GeometryCollection([box(2, 0, 3, 1), LineString([(0, 0), (1, 1)])])]
    ... )
    >>> [p.geom_type for p in parts], [len(p.geoms) for p in parts], dropped.tolist()
    (['MultiPolygon', 'MultiPolygon'], [1, 1], [False, True])
    >>> polygonal_parts([LineString([(0, 0), (1, 1)]), None])[0].tolist()
    [<MULTIPOLYGON EMPTY>, <MULTIPOLYGON EMPTY>]
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    out = np.array([MultiPolygon() for _ in range(n)], dtype=object)
    dropped = np.zeros(n, dtype=bool)
    type_id = shapely.get_type_id(geoms)
    present = np.isin(type_id, [_POLYGON, _MULTIPOLYGON]) & ~shapely.is_empty(geoms)
    if present.all():  # the usual case: polygons and multipolygons only
        single = type_id == _POLYGON
        out[~single] = geoms[~single]
        if single.any():
            out[single] = shapely.multipolygons(geoms[single][:, None])
        return out, dropped
    parts, owner = geoms, np.arange(n)
    while (shapely.get_type_id(parts) >= _FIRST_MULTI).any():  # open every collection
        parts, index = shapely.get_parts(parts, return_index=True)
        owner = owner[index]
    empty = shapely.is_empty(parts) | shapely.is_missing(parts)
    is_poly = (shapely.get_type_id(parts) == _POLYGON) & ~empty
    dropped[owner[~is_poly & ~empty]] = True
    if is_poly.any():
        shapely.multipolygons(parts[is_poly], indices=owner[is_poly], out=out)
    return out, dropped


def polygonal_part(geom: BaseGeometry | None) -> MultiPolygon:
    """The polygonal part of one geometry as a MultiPolygon (empty when it has none): see
    :func:`polygonal_parts`.

    Examples
    --------
    >>> from shapely import GeometryCollection, LineString, Point, box
    >>> polygonal_part(GeometryCollection([Point(0, 0), box(0, 0, 1, 1)])).wkt
    'MULTIPOLYGON (((1 0, 1 1, 0 1, 0 0, 1 0)))'
    >>> polygonal_part(LineString([(0, 0), (1, 1)])).is_empty
    True
    """
    part: MultiPolygon = polygonal_parts([geom])[0][0]
    return part


def _ring(lon: float, lat: float, radii_m: np.ndarray, rotation_deg: float = 0.0) -> Polygon:
    n = len(radii_m)
    azimuths = (np.arange(n) * 360.0 / n + rotation_deg) % 360.0
    lons, lats, _ = _GEOD.fwd(np.full(n, lon), np.full(n, lat), azimuths, radii_m)
    return Polygon(zip(lons, lats, strict=True))


def irregular_polygon(
    lon: float, lat: float, radius_km: float, *, seed: int, vertices: int = 28
) -> Polygon:
    """A star-shaped, valid polygon of mean radius ``radius_km`` around (lon, lat).

    The radius varies smoothly (two harmonics with seeded phases) between about 0.7 and 1.3
    times the mean, so the outline looks like a drawn site rather than a circle.
    """
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    factor = 1 + 0.2 * np.sin(2 * theta + p1) + 0.1 * np.sin(3 * theta + p2)
    return _ring(lon, lat, radius_km * 1000.0 * factor)


def ellipse_with_area(
    lon: float,
    lat: float,
    *,
    area_ha: float,
    aspect: float = 1.5,
    rotation_deg: float = 0.0,
    vertices: int = 48,
) -> Polygon:
    """An ellipse around (lon, lat) whose geodesic area is ``area_ha`` hectares (±0.01 %)."""
    theta = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    b = math.sqrt(area_ha * 1e4 / (math.pi * aspect))
    for _ in range(4):  # rescale: a polygon inscribed in the ellipse is a little smaller
        a = b * aspect
        r = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
        poly = _ring(lon, lat, r, rotation_deg)
        b *= math.sqrt(area_ha * 1e4 / geodesic_area_m2(poly))
    a = b * aspect
    r = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
    return _ring(lon, lat, r, rotation_deg)
