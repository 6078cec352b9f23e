"""The Protected Planet rules: which protected areas count, and as what surface.

One set of rules for every figure Irbis derives from protected areas (coverage gaps,
planning units, threat dossiers), after UNEP-WCMC & IUCN, "Calculating protected and OECM
area coverage" (Protected Planet methodology of the Protected Planet Report):

1. **Left out:** sites whose status is ``Proposed`` or ``Not Reported``
   (:data:`EXCLUDED_STATUSES`), and UNESCO-MAB Biosphere Reserves
   (:data:`EXCLUDED_DESIGNATIONS`: their zoning is not a protection status; their core
   areas are usually also reported under a national designation).
2. **Points:** a site reported as a point is a geodesic circle of its reported area (a
   multipoint shares it equally among its points); a point without a reported area is left
   out.
3. **Dissolve:** overlapping sites are merged so no area is counted twice.
4. **Equal-area:** areas are measured in an equal-area CRS (EPSG:6933, see
   :func:`geo.crs.area_m2`), never in degrees.

Land excised from a protected area and later returned (Kok-Zhailau: excised from Ile-Alatau
National Park in 2014, returned in February 2022) counts as protected only on the dates it
was inside: see :func:`inside_on` and :func:`protected_on`.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point, box
>>> pas = gpd.GeoDataFrame(
...     {"status": ["Designated", "Proposed"], "designation": ["National Park", None],
...      "reported_area_km2": [100.0, None]},
...     geometry=[Point(77, 43), box(76, 42, 77, 43)], crs=4326)
>>> round(protected_area_ha(protected_surface(pas)) / 100, 1)  # km²
100.0
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import Geod

from geo.crs import STORAGE_EPSG, area_ha, require_crs
from geo.shapes import polygonal_part, polygonal_parts

#: Statuses Protected Planet leaves out of coverage.
EXCLUDED_STATUSES: tuple[str, ...] = ("Proposed", "Not Reported")
#: Designations Protected Planet leaves out of coverage (compared case-insensitively).
EXCLUDED_DESIGNATIONS: tuple[str, ...] = ("UNESCO-MAB Biosphere Reserve",)
#: Kinds of boundary change: land taken out of a protected area, or given back to it.
BOUNDARY_CHANGES: tuple[str, ...] = ("excised", "returned")
#: Vertices of the circle drawn for a site reported as a point.
CIRCLE_VERTICES = 64

_GEOD = Geod(ellps="WGS84")


def geodesic_circle(
    lon: float, lat: float, area_m2: float, n: int = CIRCLE_VERTICES
) -> shapely.Polygon:
    """A geodesic n-gon centred on (lon, lat) whose area equals ``area_m2``.

    The radius is that of a regular n-gon of the given area, ``sqrt(2A / (n sin(2π/n)))``,
    so the polygon (not the ideal circle) has the reported area.
    """
    if area_m2 <= 0:
        return shapely.Polygon()
    r = math.sqrt(2 * area_m2 / (n * math.sin(2 * math.pi / n)))
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = _GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, r))
    return shapely.Polygon(list(zip(lons[::-1], lats[::-1], strict=True)))


def counted(
    pas: gpd.GeoDataFrame,
    *,
    status_col: str = "status",
    designation_col: str = "designation",
) -> pd.Series:
    """Whether each protected area counts (rule 1), as a boolean Series on ``pas.index``.

    A missing status or designation does not exclude a site.
    """
    keep = pd.Series(True, index=pas.index)
    if status_col in pas.columns:
        status = pas[status_col].astype(object).where(pas[status_col].notna(), None)
        keep &= ~status.map(lambda v: v is not None and str(v).strip() in EXCLUDED_STATUSES)
    if designation_col in pas.columns:
        excluded = {d.casefold() for d in EXCLUDED_DESIGNATIONS}
        desig = pas[designation_col].astype(object).where(pas[designation_col].notna(), None)
        keep &= ~desig.map(lambda v: v is not None and str(v).strip().casefold() in excluded)
    return keep.astype(bool)


def pa_polygons(pas: gpd.GeoDataFrame, *, area_col: str = "reported_area_km2") -> gpd.GeoDataFrame:
    """Each protected area as a polygon in EPSG:4326, all other columns kept (rule 2).

    Points become geodesic circles of their reported area in km² (a multipoint shares it
    equally among its points); points without a reported area are dropped; invalid
    polygons are repaired. No site is excluded here (see :func:`protected_polygons`).
    """
    if pas is None or pas.empty:
        return gpd.GeoDataFrame(
            columns=[*getattr(pas, "columns", [])], geometry=[], crs=STORAGE_EPSG
        )
    require_crs(pas, what="the protected areas")
    p = pas.to_crs(STORAGE_EPSG)
    reported = p[area_col] if area_col in p.columns else pd.Series([None] * len(p), index=p.index)
    geoms = []
    for g, rep in zip(p.geometry, reported, strict=True):
        if g is None or g.is_empty:
            geoms.append(shapely.Polygon())
        elif g.geom_type in ("Point", "MultiPoint"):
            ok = rep is not None and np.isfinite(rep) and rep > 0
            pts = list(shapely.get_parts(g))
            circles = (
                [geodesic_circle(pt.x, pt.y, rep * 1e6 / len(pts)) for pt in pts] if ok else []
            )
            geoms.append(shapely.union_all(circles) if circles else shapely.Polygon())
        else:
            geoms.append(polygonal_part(shapely.make_valid(g) if not g.is_valid else g))
    out = gpd.GeoDataFrame(
        pd.DataFrame(p.drop(columns=p.geometry.name)),
        geometry=gpd.GeoSeries(geoms, index=p.index, crs=STORAGE_EPSG),
    )
    return out[~out.geometry.is_empty]


def protected_polygons(
    pas: gpd.GeoDataFrame,
    *,
    status_col: str = "status",
    designation_col: str = "designation",
    area_col: str = "reported_area_km2",
) -> gpd.GeoDataFrame:
    """The protected areas that count (rule 1), each as a polygon (rule 2), not dissolved."""
    if pas is None or pas.empty:
        return pa_polygons(pas, area_col=area_col)
    keep = counted(pas, status_col=status_col, designation_col=designation_col)
    return pa_polygons(pas[keep.to_numpy()], area_col=area_col)


def protected_surface(
    pas: gpd.GeoDataFrame | None,
    *,
    status_col: str = "status",
    designation_col: str = "designation",
    area_col: str = "reported_area_km2",
) -> shapely.Geometry:
    """The dissolved protected surface (rules 1-3), one (multi)polygon in EPSG:4326."""
    if pas is None or pas.empty:
        return shapely.MultiPolygon()
    polys = protected_polygons(
        pas, status_col=status_col, designation_col=designation_col, area_col=area_col
    )
    if polys.empty:
        return shapely.MultiPolygon()
    return polygonal_part(shapely.make_valid(shapely.union_all(polys.geometry.to_numpy())))


def protected_area_ha(surface: shapely.Geometry) -> float:
    """Area in hectares of a lon/lat surface in the equal-area CRS (rule 4)."""
    if surface is None or surface.is_empty:
        return 0.0
    return float(area_ha(gpd.GeoSeries([surface], crs=STORAGE_EPSG))[0])


def clipped_to(pas: gpd.GeoDataFrame, footprint: shapely.Geometry) -> gpd.GeoDataFrame:
    """The protected areas that count, as polygons (rules 1-2), clipped to ``footprint``;
    those that do not reach it are dropped (threat dossiers: what a footprint takes from each
    site, so not dissolved)."""
    polys = protected_polygons(pas)
    if polys.empty:
        return polys
    pieces = shapely.intersection(polys.geometry.to_numpy(), footprint)
    pieces = polygonal_parts(pieces)[0]
    out = polys.set_geometry(gpd.GeoSeries(pieces, index=polys.index, crs=STORAGE_EPSG))
    out = out[~out.geometry.is_empty]
    name = pas.geometry.name
    return out if out.geometry.name == name else out.rename_geometry(name)


def inside_on(changes: Iterable[tuple[dt.date, str]], on: dt.date) -> bool:
    """Whether land is inside its protected area on ``on``, given its boundary changes.

    ``changes`` are ``(date, kind)`` pairs, kind ``"excised"`` (taken out of the protected
    area) or ``"returned"`` (given back). The land is inside unless its latest change on or
    before ``on`` is an excision; land with no change is inside.

    >>> import datetime as dt
    >>> kj = [(dt.date(2014, 1, 1), "excised"), (dt.date(2022, 2, 1), "returned")]
    >>> [inside_on(kj, dt.date(y, 6, 1)) for y in (2013, 2015, 2020, 2023, 2025)]
    [True, False, False, True, True]
    """
    latest: str | None = None
    for day, kind in sorted(changes, key=lambda c: c[0]):
        if kind not in BOUNDARY_CHANGES:
            raise ValueError(
                f"unknown boundary change {kind!r}; expected one of {BOUNDARY_CHANGES}"
            )
        if day <= on:
            latest = kind
    return latest != "excised"


def protected_on(
    area: shapely.Geometry,
    changes: Iterable[tuple[dt.date, str, shapely.Geometry]],
    on: dt.date,
) -> shapely.Geometry:
    """A protected area's surface on ``on``: ``area`` without the land that stands excised
    on that date (each changed piece of land judged by :func:`inside_on` over its own
    changes, grouped by geometry)."""
    by_land: dict[bytes, list[tuple[dt.date, str]]] = {}
    land: dict[bytes, shapely.Geometry] = {}
    for day, kind, geom in changes:
        key = shapely.to_wkb(shapely.normalize(geom))
        by_land.setdefault(key, []).append((day, kind))
        land[key] = geom
    out = area
    for key, history in by_land.items():
        if not inside_on(history, on):
            out = shapely.difference(out, land[key])
    return polygonal_part(out)


__all__ = [
    "BOUNDARY_CHANGES",
    "CIRCLE_VERTICES",
    "EXCLUDED_DESIGNATIONS",
    "EXCLUDED_STATUSES",
    "clipped_to",
    "counted",
    "geodesic_circle",
    "inside_on",
    "pa_polygons",
    "protected_area_ha",
    "protected_on",
    "protected_polygons",
    "protected_surface",
]
