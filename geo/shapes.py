"""Deterministic schematic shapes, sized on the ellipsoid (for example records and tests).

Examples
--------
>>> from geo.crs import geodesic_area_m2
>>> e = ellipse_with_area(76.98, 43.14, area_ha=1002, aspect=1.8)
>>> round(geodesic_area_m2(e) / 1e4)
1002
"""

from __future__ import annotations

import math

import numpy as np

from pyproj import Geod
from shapely.geometry import Polygon

from geo.crs import geodesic_area_m2

_GEOD = Geod(ellps="WGS84")


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
