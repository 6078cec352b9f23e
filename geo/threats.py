"""Threats over time and threat footprints: pure functions, no database, no HTTP.

A threat's life is a list of status changes (proposed, approved, under construction, active,
halted, and back), each from a date. :func:`status_as_of` answers "what was the status of each
threat on a date" ("what was threatened in 2019"), :func:`timeline` turns changes into periods.
:func:`read_footprint` normalises a geometry drawn in a page or uploaded as a file.

Examples
--------
>>> import datetime as dt
>>> import pandas as pd
>>> changes = pd.DataFrame(
...     {
...         "threat_id": [1, 1, 1],
...         "status": ["proposed", "approved", "halted"],
...         "changed_on": [dt.date(2011, 1, 1), dt.date(2014, 6, 1), dt.date(2019, 10, 1)],
...     }
... )
>>> status_as_of(changes, dt.date(2019, 6, 1))["status"].tolist()
['approved']
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np

import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from geo.crs import REGION_BOUNDS, geodesic_area_m2
from geo.errors import InvalidGeometry, InvalidInput, OutsideRegion, TooLarge
from geo.lazy import lazy_module
from geo.messages import en, number
from geo.uploads import UploadLimits

if TYPE_CHECKING:
    import pandas as pd
else:  # imported when statuses are first computed, not when a server starts (geo.lazy)
    pd = lazy_module("pandas")

#: The statuses a threat can have, in the order of a typical life.
STATUSES = ("proposed", "approved", "under_construction", "active", "halted")
#: Statuses in which a threat is a live threat to habitat (a halted plan is not).
LIVE_STATUSES = frozenset({"proposed", "approved", "under_construction", "active"})
#: At most this many vertices in a reported footprint.
MAX_FOOTPRINT_VERTICES = 100_000

_REGION = box(*REGION_BOUNDS)


def _check_changes(changes: pd.DataFrame) -> pd.DataFrame:
    missing = {"threat_id", "status", "changed_on"} - set(changes.columns)
    if missing:
        raise InvalidInput(
            en("status changes need the columns {columns}", columns=str(sorted(missing)))
        )
    unknown = set(changes["status"]) - set(STATUSES)
    if unknown:
        raise InvalidInput(
            en(
                "unknown threat statuses {statuses}; use one of {known}",
                statuses=str(sorted(unknown)),
                known=str(STATUSES),
            )
        )
    out = changes.copy()
    out["changed_on"] = pd.to_datetime(out["changed_on"]).dt.date
    return out.sort_values(["threat_id", "changed_on"], kind="stable")


def status_as_of(changes: pd.DataFrame, on: dt.date) -> pd.DataFrame:
    """The status of each threat on a date.

    Parameters
    ----------
    changes : DataFrame
        One row per status change with ``threat_id``, ``status`` and ``changed_on`` (a date);
        other columns (``source``, ``note``) are carried along.
    on : date
        The day asked about. A change dated that day counts.

    Returns
    -------
    DataFrame
        One row per threat that had a status on ``on`` (threats first recorded later are
        left out), with the change in force and a boolean ``live`` column.
    """
    ordered = _check_changes(changes)
    known = ordered[ordered["changed_on"] <= on]
    if known.empty:
        return known.assign(live=pd.Series(dtype=bool)).reset_index(drop=True)
    last = known.groupby("threat_id", sort=True).tail(1).reset_index(drop=True)
    last["live"] = last["status"].isin(LIVE_STATUSES)
    return last


def threatened_in_year(changes: pd.DataFrame, year: int) -> list[int]:
    """Ids of threats that were live at any time in ``year`` (sorted).

    A threat counts if its status on 1 January was live, or if it changed to a live status
    during the year.
    """
    ordered = _check_changes(changes)
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    at_start = status_as_of(ordered, start)
    live = set(at_start.loc[at_start["live"], "threat_id"])
    during = ordered[(ordered["changed_on"] >= start) & (ordered["changed_on"] <= end)]
    live |= set(during.loc[during["status"].isin(LIVE_STATUSES), "threat_id"])
    return sorted(int(t) for t in live)


def timeline(changes: pd.DataFrame, *, until: dt.date | None = None) -> pd.DataFrame:
    """Status periods of each threat: from, to (exclusive, or ``until``/None), days.

    Consecutive changes to the same status are merged into one period.
    """
    ordered = _check_changes(changes)
    rows: list[dict[str, Any]] = []
    for threat_id, group in ordered.groupby("threat_id", sort=True):
        recs = group.to_dict("records")
        merged: list[dict[str, Any]] = []
        for rec in recs:
            if merged and merged[-1]["status"] == rec["status"]:
                continue
            merged.append(rec)
        for i, rec in enumerate(merged):
            end = merged[i + 1]["changed_on"] if i + 1 < len(merged) else until
            rows.append(
                {
                    **rec,
                    "threat_id": threat_id,
                    "start": rec["changed_on"],
                    "end": end,
                    "days": (end - rec["changed_on"]).days if end else None,
                }
            )
    return pd.DataFrame(rows, columns=[*ordered.columns, "start", "end", "days"])


# ---------------------------------------------------------------------------------------------
# Footprints
# ---------------------------------------------------------------------------------------------


def _from_geojson(text: str) -> BaseGeometry:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise InvalidGeometry(
            en("the geometry is not valid GeoJSON: {reason}", reason=str(exc))
        ) from None
    if not isinstance(obj, dict):
        raise InvalidGeometry(en("the geometry must be a GeoJSON object"))
    if obj.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") for f in obj.get("features") or [] if isinstance(f, dict)]
    elif obj.get("type") == "Feature":
        geoms = [obj.get("geometry")]
    else:
        geoms = [obj]
    geoms = [g for g in geoms if g]
    if not geoms:
        raise InvalidGeometry(en("no geometry was drawn or found in the file"))
    try:
        parts = [shape(g) for g in geoms]
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidGeometry(
            en("the geometry cannot be read: {reason}", reason=str(exc))
        ) from None
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def _from_file(data: bytes, filename: str, limits: UploadLimits | None) -> BaseGeometry:
    """Read a footprint file with :func:`geo.uploads.read_upload` (formats, archives, limits)."""
    import tempfile
    from pathlib import Path

    from geo.crs import to_storage
    from geo.uploads import read_upload

    name = Path(filename or "footprint.geojson").name
    with tempfile.TemporaryDirectory(prefix="irbis-footprint-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        upload = read_upload(path, limits or UploadLimits(), filename=name)
    gdf = upload.gdf
    if gdf.empty:
        raise InvalidGeometry(en("{name} holds no features", name=name))
    gdf = to_storage(gdf, what=name)
    geoms = [g for g in gdf.geometry if g is not None and not g.is_empty]
    if not geoms:
        raise InvalidGeometry(en("{name} holds no geometry", name=name))
    return shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]


def read_footprint(
    geojson: str | None = None,
    *,
    data: bytes | None = None,
    filename: str = "",
    limits: UploadLimits | None = None,
) -> BaseGeometry:
    """Read a threat footprint drawn on a map (GeoJSON text) or uploaded as a file.

    Parameters
    ----------
    geojson : str, optional
        A GeoJSON geometry, Feature or FeatureCollection in lon/lat (EPSG:4326).
    data, filename : bytes, str, optional
        A file in any format :func:`geo.uploads.read_upload` reads (GeoJSON, KML/KMZ, zipped
        Shapefile, GeoPackage, ...), in the CRS it declares; reprojected to EPSG:4326.
    limits : UploadLimits, optional
        Size, feature and vertex limits for the file.

    Returns
    -------
    shapely geometry
        Valid, 2-D, in EPSG:4326, entirely inside the region Irbis covers.

    Raises
    ------
    InvalidGeometry, UnreadableFile, OutsideRegion, TooLarge
        With a message that says what to change.
    """
    if data:
        geom = _from_file(data, filename, limits)
    elif geojson and geojson.strip():
        geom = _from_geojson(geojson)
    else:
        raise InvalidGeometry(en("draw the threat on the map or upload a GeoJSON or KML file"))
    return check_footprint(geom)


def check_footprint(geom: BaseGeometry) -> BaseGeometry:
    """Validate a footprint: repaired if invalid, 2-D, not empty, inside the region."""
    if geom is None or geom.is_empty:
        raise InvalidGeometry(en("the geometry is empty"))
    if shapely.get_num_coordinates(geom) > MAX_FOOTPRINT_VERTICES:
        raise TooLarge(
            en("the geometry has more than {n} vertices", n=number(MAX_FOOTPRINT_VERTICES))
        )
    geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise InvalidGeometry(en("the geometry has coordinates that are not numbers"))
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        if geom.geom_type == "GeometryCollection":
            polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
            geom = shapely.union_all(polys) if polys else geom
    if geom.is_empty:
        raise InvalidGeometry(en("the geometry is empty after repair"))
    if not _REGION.contains(geom):
        w, s, e, n = REGION_BOUNDS
        minx, miny, maxx, maxy = geom.bounds
        raise OutsideRegion(
            en(
                "the geometry (lon {minx}..{maxx}, lat {miny}..{maxy}) is not inside the region "
                "Irbis covers (lon {w}..{e} E, lat {s}..{n} N); check that the coordinates are "
                "longitude, latitude in degrees",
                minx=format(minx, ".3f"),
                maxx=format(maxx, ".3f"),
                miny=format(miny, ".3f"),
                maxy=format(maxy, ".3f"),
                w=format(w, "g"),
                e=format(e, "g"),
                s=format(s, "g"),
                n=format(n, "g"),
            )
        )
    return geom


def footprint_area_ha(geom: BaseGeometry) -> float:
    """Geodesic area in hectares of a lon/lat footprint (0 for points and lines)."""
    return geodesic_area_m2(geom) / 10_000.0


def footprint_length_km(geom: BaseGeometry) -> float:
    """Geodesic length in kilometres of the lines of a lon/lat footprint (roads, pipelines;
    0 for points and polygons)."""
    from pyproj import Geod

    lines = [g for g in getattr(geom, "geoms", [geom]) if "LineString" in g.geom_type]
    geod = Geod(ellps="WGS84")
    return sum(float(geod.geometry_length(g)) for g in lines) / 1000.0
