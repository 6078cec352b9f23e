"""Validate field-site polygons on the way in, with a report per feature (pure, vectorised).

:func:`validate_sites` takes what was read from an upload and returns a
:class:`ValidationReport`: the normalised features (EPSG:4326, 2-D, valid MultiPolygons) and,
for each feature, what was found and done. Rules:

- no CRS, or an undefined one (a GeoPackage's "Undefined geographic SRS"): refused
  (:class:`~geo.errors.MissingCRS`) unless the uploader names the EPSG code;
- coordinates that are not finite numbers (NaN, Infinity) refused, and so are longitudes beyond
  ±180° or latitudes beyond ±90° in a geographic CRS; geometries that could not be parsed (an
  unclosed ring) refused with the reason;
- reprojected to EPSG:4326 when in another CRS; coordinates rounded to 7 decimals (about 1 cm);
- swapped longitude/latitude detected (outside the region as given, inside once swapped) and
  explained; ``swap_xy=True`` swaps them back;
- invalid geometry repaired (``shapely.make_valid``) and the repair reported; a repair that
  changes the area by more than ``max_repair_change`` (10 %) is refused with the areas before
  and after, unless ``confirm_repairs`` is given;
- Z and M dropped; points, lines, empty and degenerate geometries (no area: too few positions,
  all on one line) refused (sites are areas);
- areas (equal-area, EPSG:6933) under ``min_area_ha`` or over ``max_area_ha`` flagged;
- sites outside the programme countries refused, and so are sites with more than
  ``max_outside_share`` (1 %) of their area outside them (the share is given);
- overlap with other grants' sites flagged; the same geometry twice in one file flagged.

All of it works on whole arrays (shapely 2, pyproj): no Python loop per feature except to
write messages for the features that have something to report.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> kaz = gpd.GeoDataFrame({"iso_a3": ["KAZ"]}, geometry=[box(46, 40, 87, 55.5)], crs=4326)
>>> sites = gpd.GeoDataFrame(geometry=[box(76.9, 43.1, 77.0, 43.2)], crs=4326)
>>> report = validate_sites(sites, countries=kaz)
>>> report.ok, round(float(report.features["area_ha"].iloc[0]))
(True, 9037)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo.crs import EQUAL_AREA_EPSG, REGION_BOUNDS, STORAGE_CRS, STORAGE_EPSG
from geo.errors import InvalidInput, MissingCRS
from geo.messages import Message, en, number
from geo.shapes import polygonal_parts

ERROR, WARNING, INFO = "error", "warning", "info"
_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7
_TYPE_NAMES = {
    0: en("point"),
    1: en("line"),
    2: en("ring"),
    3: en("polygon"),
    4: en("multipoint"),
    5: en("multiline"),
    6: en("multipolygon"),
    7: en("geometry collection"),
}
#: Coordinates are rounded to this many decimal degrees (about 1 cm) for :func:`geom_hash`.
HASH_DECIMALS = 7


@dataclass(frozen=True)
class SiteRules:
    """Thresholds of the site rules."""

    min_area_ha: float = 1.0
    max_area_ha: float = 1_000_000.0
    #: A site with more than this share of its area outside the countries is refused.
    max_outside_share: float = 0.01
    #: A repair changing the area by more than this share (of the larger of the areas before
    #: and after) is refused unless confirmed.
    max_repair_change: float = 0.10
    #: Overlaps smaller than this are ignored (shared edges, rounding).
    min_overlap_ha: float = 0.01


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_sites`.

    Attributes
    ----------
    gdf : GeoDataFrame
        One row per input feature, in EPSG:4326, geometries as MultiPolygons (None where the
        feature was refused), with columns ``name``, ``area_ha``, ``geom_hash``, ``status``.
    issues : DataFrame
        One row per finding: ``feature`` (row position, or -1 for the whole file), ``code``,
        ``severity`` (error, warning, info) and ``message``.
    notes : list of str
        What was done to the file as a whole (CRS, reprojection, encoding...).
    """

    gdf: gpd.GeoDataFrame
    issues: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    source_crs: str | None = None

    @property
    def features(self) -> pd.DataFrame:
        return pd.DataFrame(self.gdf.drop(columns=self.gdf.geometry.name))

    @property
    def ok(self) -> bool:
        """True when no feature has an error."""
        return not (self.issues["severity"] == ERROR).any()

    @property
    def accepted(self) -> gpd.GeoDataFrame:
        """The features without errors, ready to store."""
        return self.gdf[self.gdf["status"] != ERROR]

    def counts(self) -> dict[str, int]:
        status = self.gdf["status"]
        return {
            "features": len(self.gdf),
            "ok": int((status == "ok").sum()),
            "warnings": int((status == WARNING).sum()),
            "errors": int((status == ERROR).sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report: counts, notes, and each feature with its findings."""
        by_feature: dict[int, list[dict[str, str]]] = {}
        for rec in self.issues.to_dict("records"):
            said = rec.get("said")
            message = Message(*said) if isinstance(said, tuple) else rec["message"]
            by_feature.setdefault(int(rec["feature"]), []).append(
                {"code": rec["code"], "severity": rec["severity"], "message": message}
            )
        features = []
        for i, (name, area, status, countries) in enumerate(
            zip(
                self.gdf["name"],
                self.gdf["area_ha"],
                self.gdf["status"],
                self.gdf["countries"],
                strict=True,
            )
        ):
            features.append(
                {
                    "index": i,
                    "name": name,
                    "status": status,
                    "area_ha": None if pd.isna(area) else round(float(area), 3),
                    "countries": countries.split(",") if countries else [],
                    "issues": by_feature.get(i, []),
                }
            )
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "source_crs": self.source_crs,
            "notes": self.notes + [i["message"] for i in by_feature.get(-1, [])],
            "features": features,
        }


class _Findings:
    """Collects findings as arrays (one frame per rule), materialised once."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []

    def add(self, idx: np.ndarray, code: str, severity: str, message: Any) -> None:
        """Findings of ``code`` for the features ``idx``: one message for all, or one each.

        Messages made with :func:`geo.messages.en` keep their template and values (in the
        ``said`` column: pandas keeps text as plain strings), for the web layer to translate."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return
        each = [message] * idx.size if isinstance(message, str) else list(message)
        said = np.empty(idx.size, dtype=object)
        said[:] = [(m.template, m.values) if isinstance(m, Message) else None for m in each]
        self.frames.append(
            pd.DataFrame(
                {
                    "feature": idx,
                    "code": code,
                    "severity": severity,
                    "message": [str(m) for m in each],
                    "said": said,
                }
            )
        )

    def has(self, severity: str, code: str, n: int) -> np.ndarray:
        """A mask of the ``n`` features with a finding of ``code`` and ``severity``."""
        out = np.zeros(n, dtype=bool)
        for f in self.frames:
            hit = f[(f["code"] == code) & (f["severity"] == severity)]["feature"].to_numpy()
            out[hit[(hit >= 0) & (hit < n)]] = True
        return out

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return pd.DataFrame(
                {
                    "feature": pd.Series(dtype="int64"),
                    "code": pd.Series(dtype=str),
                    "severity": pd.Series(dtype=str),
                    "message": pd.Series(dtype=str),
                    "said": pd.Series(dtype=object),
                }
            )
        return pd.concat(self.frames, ignore_index=True).sort_values("feature", kind="stable")


def _transform(geoms: np.ndarray, src: CRS, dst: CRS, *, decimals: int | None = None) -> np.ndarray:
    """Reproject every coordinate at once (and round it, in the same pass, if asked)."""
    t = None if src.equals(dst) else Transformer.from_crs(src, dst, always_xy=True)

    def fn(coords: np.ndarray) -> np.ndarray:
        out = np.array(coords.T, order="C")  # two contiguous rows, transformed in place
        if t is not None:
            t.transform(out[0], out[1], inplace=True, errcheck=False)
        if decimals is not None:
            np.round(out, decimals, out=out)
        return out.T

    return shapely.transform(geoms, fn)


def equal_area_ha(geoms: np.ndarray) -> np.ndarray:
    """Areas in hectares of lon/lat geometries, measured in EPSG:6933 (never in degrees)."""
    projected = _transform(geoms, STORAGE_CRS, CRS.from_epsg(EQUAL_AREA_EPSG))
    return shapely.area(projected) / 10_000.0


def geom_hash(geoms: np.ndarray, *, rounded: bool = False) -> np.ndarray:
    """sha256 of each geometry's normalised WKB, coordinates rounded to about 1 cm.

    The same site read from a GeoJSON, a Shapefile or a GeoPackage hashes the same.
    ``rounded=True`` says the coordinates are rounded to :data:`HASH_DECIMALS` already.
    """
    if not rounded:
        geoms = shapely.transform(geoms, lambda c: np.round(c, HASH_DECIMALS))
    wkb = shapely.to_wkb(shapely.normalize(geoms), output_dimension=2, byte_order=1)
    return np.array(
        [None if w is None else hashlib.sha256(w).hexdigest() for w in wkb], dtype=object
    )


def _fmt(values: np.ndarray, digits: int = 1) -> pd.Series:
    return pd.Series([f"{v:,.{digits}f}" for v in values.astype(float)], dtype=object)


def _g(value: float) -> str:
    """``value`` in its shortest form (``0.01``, ``50``)."""
    return f"{value:g}"


def undefined_crs(crs: CRS) -> bool:
    """A CRS that only says it is unknown (GeoPackage srs_id 0 and -1, a LOCAL_CS)."""
    name = (crs.name or "").lower()
    return "undefined" in name or "unknown" in name or crs.type_name.startswith("Engineering")


def _source_crs(gdf: gpd.GeoDataFrame, epsg: int | None, notes: list[str]) -> CRS:
    named = None
    if epsg is not None:
        try:
            named = CRS.from_epsg(int(epsg))
        except (CRSError, ValueError, TypeError) as exc:
            raise InvalidInput(
                en("EPSG:{epsg} is not a known coordinate reference system", epsg=epsg)
            ) from exc
    if gdf.crs is not None and undefined_crs(CRS.from_user_input(gdf.crs)):
        said = CRS.from_user_input(gdf.crs).name
        if named is None:
            raise MissingCRS(
                en(
                    "the file's coordinate reference system is undefined ({crs}): name the "
                    "EPSG code of the coordinates, e.g. 4326 for longitude/latitude in degrees, "
                    "32643 for UTM zone 43N.",
                    crs=repr(said),
                )
            )
        notes.append(
            en(
                "the file's CRS is undefined ({crs}); EPSG:{epsg} as named",
                crs=said,
                epsg=named.to_epsg(),
            )
        )
        return named
    if gdf.crs is None:
        if named is None:
            raise MissingCRS(
                en(
                    "the file has no coordinate reference system (a Shapefile needs its .prj; a "
                    "CSV never has one). Name the EPSG code of the coordinates, e.g. 4326 for "
                    "longitude/latitude in degrees, 32643 for UTM zone 43N."
                )
            )
        notes.append(
            en(
                "the file has no CRS; EPSG:{epsg} ({crs}) as named",
                epsg=named.to_epsg(),
                crs=named.name,
            )
        )
        return named
    crs = CRS.from_user_input(gdf.crs)
    if named is not None and not named.equals(crs):
        notes.append(
            en(
                "the file says its CRS is {crs}; that was used, not the EPSG:{epsg} named",
                crs=crs.name,
                epsg=epsg,
            )
        )
    return crs


def validate_sites(
    gdf: gpd.GeoDataFrame,
    *,
    names: pd.Series | list[str] | None = None,
    countries: gpd.GeoDataFrame | None = None,
    other_sites: gpd.GeoDataFrame | None = None,
    epsg: int | None = None,
    swap_xy: bool = False,
    rules: SiteRules | None = None,
    geometry_errors: Mapping[int, str] | None = None,
    confirm_repairs: bool = False,
) -> ValidationReport:
    """Validate and normalise field-site polygons.

    Parameters
    ----------
    gdf : GeoDataFrame
        The features as read (any CRS, any geometry type).
    names : the site name of each feature (default: ``"site <n>"``).
    countries : GeoDataFrame, optional
        The countries a site must lie in (EPSG:4326) with an ``iso_a3`` column; when it has a
        ``programme`` column only the rows where it is true count. None skips the rule.
    other_sites : GeoDataFrame, optional
        Other grants' sites (EPSG:4326) with ``grant_code`` and ``name`` columns, for the
        overlap rule.
    epsg : the EPSG code of the coordinates, used when the file has no CRS.
    swap_xy : swap x and y of every coordinate first (for files with latitude first).
    rules : thresholds (:class:`SiteRules`).
    geometry_errors : features whose geometry could not be parsed (row position -> why).
    confirm_repairs : accept repairs that change the area by more than
        ``rules.max_repair_change`` (reported as warnings instead of errors).

    Raises
    ------
    MissingCRS
        The file has no CRS and ``epsg`` is None.
    InvalidInput
        ``epsg`` is not a known CRS.
    """
    rules = rules or SiteRules()
    st = _Sites.start(gdf, names, epsg)
    _presence_rule(st, geometry_errors)
    _type_rule(st)
    _axes_rule(st, swap_xy)
    _storage_crs_rule(st)
    _region_rule(st)
    broken, reasons, drawn = _repair(st)
    _polygonal_rule(st, broken)
    _area_rules(st, broken, drawn, reasons, rules, confirm_repairs)
    if countries is not None:
        st.countries, outside = _country_rule(
            st.multi, st.usable, st.area, countries, rules, st.found
        )
        st.usable &= ~outside
    else:
        st.notes.append(en("the country rule was not checked (no country boundaries given)"))
    if other_sites is not None and len(other_sites):
        _overlap_rule(st.multi, st.usable, other_sites, rules, st.found)
    _duplicate_rule(st)
    return st.report()


@dataclass
class _Sites:
    """What the rules of :func:`validate_sites` share: the features as they are being
    normalised, which of them are still usable, and what was found so far."""

    src: CRS
    geoms: np.ndarray
    names: np.ndarray
    notes: list[str]
    found: _Findings = field(default_factory=lambda: _Findings())
    usable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    missing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    multi: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    area: np.ndarray = field(default_factory=lambda: np.zeros(0))
    countries: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    @property
    def n(self) -> int:
        return len(self.geoms)

    @classmethod
    def start(
        cls, gdf: gpd.GeoDataFrame, names: pd.Series | list[str] | None, epsg: int | None
    ) -> _Sites:
        notes: list[str] = []
        n = len(gdf)
        try:
            src = _source_crs(gdf, epsg, notes)
        except MissingCRS:
            # a file of points or lines is refused for that, the real problem, not for its CRS
            types = shapely.get_type_id(np.asarray(gdf.geometry.to_numpy(), dtype=object))
            if np.isin(types, [_POLYGON, _MULTIPOLYGON, _COLLECTION]).any():
                raise
            src = STORAGE_CRS
        if names is None:
            names = [f"site {i + 1}" for i in range(n)]
        st = cls(
            src=src,
            geoms=np.asarray(gdf.geometry.to_numpy(), dtype=object).copy(),
            names=np.asarray(pd.Series(names).astype(str).to_numpy(), dtype=object),
            notes=notes,
        )
        st.multi = np.full(n, None, dtype=object)
        st.area = np.full(n, np.nan)
        st.countries = np.full(n, "", dtype=object)
        st.hashes = np.full(n, None, dtype=object)
        return st

    def report(self) -> ValidationReport:
        issues = self.found.frame()
        status = np.full(self.n, "ok", dtype=object)
        sev = issues.groupby("feature")["severity"].agg(set) if len(issues) else pd.Series()
        for sev_name in (WARNING, ERROR):
            hit = [f for f, s in sev.items() if sev_name in s and f >= 0]
            status[np.asarray(hit, dtype=np.int64)] = sev_name
        self.multi[status == ERROR] = None
        out = gpd.GeoDataFrame(
            {
                "name": self.names,
                "area_ha": self.area,
                "countries": self.countries,
                "geom_hash": self.hashes,
                "status": status,
            },
            geometry=gpd.GeoSeries(self.multi, crs=STORAGE_EPSG),
            crs=STORAGE_EPSG,
        )
        return ValidationReport(
            gdf=out, issues=issues, notes=self.notes, source_crs=self.src.to_string()
        )


def _presence_rule(st: _Sites, geometry_errors: Mapping[int, str] | None) -> None:
    """Geometries that are missing, empty, could not be parsed or hold non-finite numbers."""
    n, geoms, found = st.n, st.geoms, st.found
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    unparsed = np.zeros(n, dtype=bool)
    if geometry_errors:
        pos = np.fromiter(geometry_errors, dtype=np.int64)
        pos = pos[(pos >= 0) & (pos < n)]
        unparsed[pos] = True
        found.add(pos, "unreadable_geometry", ERROR, [geometry_errors[int(i)] for i in pos])
    found.add(
        np.flatnonzero(missing & ~unparsed),
        "empty_geometry",
        ERROR,
        en("the feature has no geometry"),
    )
    missing |= unparsed
    coords, owner = shapely.get_coordinates(geoms[~missing], return_index=True)
    nonfinite = np.zeros(n, dtype=bool)
    bad_rows = np.unique(owner[~np.isfinite(coords).all(axis=1)])
    nonfinite[np.flatnonzero(~missing)[bad_rows]] = True
    found.add(
        np.flatnonzero(nonfinite),
        "not_finite",
        ERROR,
        en("coordinates are not finite numbers (NaN or Infinity): check the export"),
    )
    st.missing = missing | nonfinite


def _type_rule(st: _Sites) -> None:
    """Z and M dropped; anything but polygons (and collections holding some) refused."""
    geoms, missing = st.geoms, st.missing
    zm = ~missing & (shapely.has_z(geoms) | shapely.has_m(geoms))
    if zm.any():
        geoms[zm] = shapely.force_2d(geoms[zm])
        st.found.add(
            np.flatnonzero(zm), "z_dropped", INFO, en("Z/M values dropped (sites are 2-D)")
        )
    type_id = shapely.get_type_id(geoms)
    wrong = ~missing & ~np.isin(type_id, [_POLYGON, _MULTIPOLYGON, _COLLECTION])
    if wrong.any():
        kinds = [_TYPE_NAMES[int(t)] for t in type_id[wrong]]
        st.found.add(
            np.flatnonzero(wrong),
            "not_polygon",
            ERROR,
            [en("a {kind} is not an area: field sites must be polygons", kind=k) for k in kinds],
        )
    st.usable = ~missing & ~wrong


def _axes_rule(st: _Sites, swap_xy: bool) -> None:
    """Swap the axes if asked; in a geographic CRS, refuse coordinates that are not degrees."""
    if swap_xy:
        st.geoms[st.usable] = shapely.transform(st.geoms[st.usable], lambda c: c[:, ::-1])
        st.notes.append(en("x and y were swapped as asked (latitude-first coordinates)"))
    if not st.src.is_geographic:
        return
    b = shapely.bounds(st.geoms)
    beyond = st.usable & (
        (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
    )
    st.found.add(
        np.flatnonzero(beyond),
        "out_of_range",
        ERROR,
        [
            en(
                "coordinates beyond ±180° longitude or ±90° latitude (x {west} to {east}, y "
                "{south} to {north}) are not degrees in {crs}: if they are projected (metres), "
                "name their EPSG code",
                west=w,
                east=e,
                south=s,
                north=n,
                crs=st.src.name,
            )
            for w, s, e, n in zip(
                *(_fmt(b[beyond, i], 3) for i in range(4)),
                strict=True,
            )
        ],
    )
    st.usable &= ~beyond


def _storage_crs_rule(st: _Sites) -> None:
    """Reproject (if need be) and round to about 1 cm in one pass over the coordinates."""
    src, usable = st.src, st.usable
    in_storage = src.equals(STORAGE_CRS) or src.to_epsg() == STORAGE_EPSG
    st.geoms[usable] = _transform(
        st.geoms[usable], STORAGE_CRS if in_storage else src, STORAGE_CRS, decimals=HASH_DECIMALS
    )
    if in_storage:
        return
    st.notes.append(
        en(
            "reprojected from {crs} (EPSG:{epsg}) to EPSG:4326",
            crs=src.name,
            epsg=src.to_epsg(),
        )
    )
    bad = usable & ~np.isfinite(shapely.bounds(st.geoms)).all(axis=1)
    st.found.add(
        np.flatnonzero(bad),
        "reprojection_failed",
        ERROR,
        en("the coordinates cannot be reprojected from {crs}: check the CRS", crs=src.name),
    )
    st.usable &= ~bad


def _region_rule(st: _Sites) -> None:
    """Sites outside the region refused; latitude-first coordinates recognised as such."""
    west, south, east, north = REGION_BOUNDS
    b = shapely.bounds(st.geoms)
    usable = st.usable
    inside = (
        usable & (b[:, 2] >= west) & (b[:, 0] <= east) & (b[:, 3] >= south) & (b[:, 1] <= north)
    )
    # latitude-first coordinates of a site in the region lie inside it once swapped
    swapped_inside = (b[:, 1] >= west) & (b[:, 3] <= east) & (b[:, 0] >= south) & (b[:, 2] <= north)
    swapped = usable & ~inside & swapped_inside
    if swapped.any():
        cx, cy = (b[swapped, 0] + b[swapped, 2]) / 2, (b[swapped, 1] + b[swapped, 3]) / 2
        st.found.add(
            np.flatnonzero(swapped),
            "swapped_axes",
            ERROR,
            [
                en(
                    "longitude and latitude look swapped: the site lies at lon {x}, lat {y}, "
                    "outside Central Asia, but at lon {y}, lat {x} once swapped. Export with "
                    "longitude first (x) or upload again with 'swap x/y'",
                    x=x,
                    y=y,
                )
                for x, y in zip(_fmt(cx, 3), _fmt(cy, 3), strict=True)
            ],
        )
        st.notes.append(
            en(
                "{count} feature(s) look like latitude/longitude given in the wrong order",
                count=int(swapped.sum()),
            )
        )
    st.found.add(
        np.flatnonzero(usable & ~inside & ~swapped),
        "outside_region",
        ERROR,
        en(
            "the site lies outside the region Irbis covers (lon 45–88 E, lat 35–56 N): "
            "check the coordinates and their CRS"
        ),
    )
    st.usable &= inside


def _repair(st: _Sites) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """Repair invalid geometries; returns which were broken, why, and their area as drawn."""
    idx = np.flatnonzero(st.usable)
    broken = idx[~shapely.is_valid(st.geoms[idx])]
    if not broken.size:
        return broken, pd.Series(dtype=object), np.zeros(0)
    reasons = pd.Series(shapely.is_valid_reason(st.geoms[broken])).str.replace(
        r"\[[^\]]*\]", "", regex=True
    )
    drawn = _drawn_area_ha(st.geoms[broken])
    st.geoms[broken] = shapely.make_valid(st.geoms[broken])
    return broken, reasons, drawn


def _polygonal_rule(st: _Sites, broken: np.ndarray) -> None:
    """Keep the polygonal part of each site as a MultiPolygon; refuse sites left with none."""
    usable, n = st.usable, st.n
    multi, dropped = polygonal_parts(st.geoms[usable])
    multi[shapely.is_empty(multi)] = None  # no polygonal part left
    st.multi[usable] = multi
    dropped_idx = np.flatnonzero(usable)[dropped]
    none_left = usable & shapely.is_missing(st.multi)
    degenerate = none_left & np.isin(np.arange(n), broken)
    st.found.add(
        np.flatnonzero(degenerate),
        "degenerate",
        ERROR,
        en(
            "degenerate polygon: it has no area (fewer than 3 distinct positions, or all of them "
            "on one line)"
        ),
    )
    st.found.add(
        np.flatnonzero(none_left & ~degenerate),
        "not_polygon",
        ERROR,
        en("nothing of the geometry is an area once repaired"),
    )
    st.found.add(
        np.setdiff1d(dropped_idx, np.flatnonzero(none_left)),
        "parts_dropped",
        WARNING,
        en("points or lines mixed with the polygons were dropped"),
    )
    st.usable &= ~none_left


def _area_rules(
    st: _Sites,
    broken: np.ndarray,
    drawn: np.ndarray,
    reasons: pd.Series,
    rules: SiteRules,
    confirm_repairs: bool,
) -> None:
    """Equal-area areas; repairs that change them too much refused; implausible sizes flagged."""
    usable, area = st.usable, st.area
    area[usable] = equal_area_ha(st.multi[usable])
    if broken.size:
        _repair_rule(broken, usable, drawn, area, reasons, rules, confirm_repairs, st.found)
        usable &= ~st.found.has(ERROR, "repair_changes_area", st.n)
    small = usable & (area < rules.min_area_ha)
    large = usable & (area > rules.max_area_ha)
    st.found.add(
        np.flatnonzero(small),
        "area_small",
        WARNING,
        [
            en(
                "{area} ha: implausibly small for a field site (< {least} ha); are the "
                "coordinates in the right units?",
                area=a,
                least=_g(rules.min_area_ha),
            )
            for a in _fmt(area[small], 3)
        ],
    )
    st.found.add(
        np.flatnonzero(large),
        "area_large",
        WARNING,
        [
            en(
                "{area} ha: implausibly large for a field site (> {most} ha)",
                area=a,
                most=number(round(rules.max_area_ha)),
            )
            for a in _fmt(area[large], 0)
        ],
    )


def _duplicate_rule(st: _Sites) -> None:
    """The same geometry twice in one file: the second is refused, naming the first."""
    usable = st.usable
    st.hashes[usable] = geom_hash(st.multi[usable], rounded=True)
    h = pd.Series(st.hashes)
    dup = usable & h.duplicated(keep="first").to_numpy()
    if dup.any():
        first = h[usable].reset_index().drop_duplicates(0).set_index(0)["index"]
        st.found.add(
            np.flatnonzero(dup),
            "duplicate",
            ERROR,
            [
                en("the same geometry as feature {first} of this file", first=int(i))
                for i in h[dup].map(first) + 1
            ],
        )


def _drawn_area_ha(geoms: np.ndarray) -> np.ndarray:
    """The area each geometry's rings enclose as drawn: every outer ring's area less its holes'
    (each ring measured on its own, so a figure-eight counts both loops), never below zero.
    A hole larger than its shell gives 0; overlapping parts count twice."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    out = np.zeros(len(geoms))
    if len(rings) == 0:
        return out
    sign = np.where(np.r_[True, ring_owner[1:] != ring_owner[:-1]], 1.0, -1.0)
    ring_area = equal_area_ha(shapely.make_valid(shapely.polygons(rings)))
    out += np.bincount(owner[ring_owner], weights=sign * ring_area, minlength=len(geoms))
    return np.maximum(out, 0.0)


def _repair_rule(
    broken: np.ndarray,
    usable: np.ndarray,
    drawn: np.ndarray,
    area: np.ndarray,
    reasons: pd.Series,
    rules: SiteRules,
    confirm: bool,
    found: _Findings,
) -> None:
    """Report each repair; refuse (or, when confirmed, warn about) those that change the area
    by more than ``rules.max_repair_change``."""
    keep = usable[broken]
    idx, before, after = broken[keep], drawn[keep], area[broken][keep]
    why = reasons[keep].reset_index(drop=True)
    change = np.abs(after - before) / np.maximum(np.maximum(before, after), 1e-12)
    big = change > rules.max_repair_change
    small = ~big
    found.add(
        idx[small],
        "repaired",
        WARNING,
        [en("invalid geometry repaired ({reason})", reason=w) for w in why[small]],
    )
    if not big.any():
        return
    most = str(round(rules.max_repair_change * 100))
    rows = list(zip(why[big], _fmt(before[big], 1), _fmt(after[big], 1), strict=True))
    changes = [
        en(
            "repairing the invalid geometry ({reason}) changes its area from {before} ha to "
            "{after} ha, more than {most}%",
            reason=w,
            before=b,
            after=a,
            most=most,
        )
        for w, b, a in rows
    ]
    if confirm:
        said = [en("{change}: repaired as confirmed", change=c) for c in changes]
        found.add(idx[big], "repaired", WARNING, said)
    else:
        said = [
            en(
                "{change}: fix the geometry in the source file, or upload again with "
                "confirm_repairs=true to accept the repaired shape",
                change=c,
            )
            for c in changes
        ]
        found.add(idx[big], "repair_changes_area", ERROR, said)


def _valid(geoms: np.ndarray) -> np.ndarray:
    """Reference geometries made valid (a broken one must not stop the checks)."""
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms


def _country_rule(
    multi: np.ndarray,
    usable: np.ndarray,
    area: np.ndarray,
    countries: gpd.GeoDataFrame,
    rules: SiteRules,
    found: _Findings,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(multi)
    if "programme" in countries.columns:
        countries = countries[countries["programme"].astype(bool)]
    c_geoms = _valid(np.asarray(countries.geometry.to_numpy(), dtype=object))
    codes = countries["iso_a3"].astype(str).to_numpy()
    idx = np.flatnonzero(usable)
    sub = multi[idx]
    shapely.prepare(c_geoms)
    site_tree = shapely.STRtree(sub)
    touches = np.zeros(len(idx), dtype=bool)
    inside_one_sub = np.zeros(len(idx), dtype=bool)
    codes_sub = pd.Series("", index=np.arange(len(idx)), dtype=object)
    # one pass per country (a handful), each a vectorised prepared-geometry test
    for c_geom, code in sorted(zip(c_geoms, codes, strict=True), key=lambda t: t[1]):
        cand = site_tree.query(c_geom)
        hit = cand[shapely.intersects(c_geom, sub[cand])]
        if hit.size == 0:
            continue
        touches[hit] = True
        inside_one_sub[hit[shapely.contains(c_geom, sub[hit])]] = True
        old = codes_sub.iloc[hit]
        codes_sub.iloc[hit] = np.where(old == "", code, old + "," + code)
    country_codes = np.full(n, "", dtype=object)
    country_codes[idx] = codes_sub.to_numpy()
    feat = idx[touches]
    outside = usable.copy()
    outside[feat] = False
    names = ", ".join(sorted(codes))
    found.add(
        np.flatnonzero(outside),
        "outside_countries",
        ERROR,
        en("the site lies outside the programme countries ({countries})", countries=names),
    )
    # partly outside: intersects a country but lies within none of them
    inside_one = np.zeros(n, dtype=bool)
    inside_one[idx[inside_one_sub]] = True
    partial = usable & ~outside & ~inside_one
    if partial.any():
        union = shapely.union_all(c_geoms)
        inside_ha = equal_area_ha(shapely.intersection(multi[partial], union))
        share = 1.0 - inside_ha / np.maximum(area[partial], 1e-12)
        flag = share > rules.max_outside_share
        found.add(
            np.flatnonzero(partial)[flag],
            "partly_outside",
            ERROR,
            [
                en(
                    "{share} % of the site lies outside the programme countries ({countries}); "
                    "at most {most} % may: check the boundary",
                    share=p,
                    countries=names,
                    most=_g(rules.max_outside_share * 100),
                )
                for p in _fmt(share[flag] * 100, 1)
            ],
        )
        outside[np.flatnonzero(partial)[flag]] = True
    return country_codes, outside


def _overlap_rule(
    multi: np.ndarray,
    usable: np.ndarray,
    other_sites: gpd.GeoDataFrame,
    rules: SiteRules,
    found: _Findings,
) -> None:
    o_geoms = _valid(np.asarray(other_sites.geometry.to_numpy(), dtype=object))
    idx = np.flatnonzero(usable)
    tree = shapely.STRtree(o_geoms)
    a, o = tree.query(multi[idx], predicate="intersects")
    if a.size == 0:
        return
    feat = idx[a]
    overlap = equal_area_ha(shapely.intersection(multi[feat], o_geoms[o]))
    keep = overlap >= rules.min_overlap_ha
    if not keep.any():
        return
    grant = other_sites["grant_code"].astype(str).to_numpy()[o[keep]]
    site = other_sites["name"].astype(str).to_numpy()[o[keep]]
    found.add(
        feat[keep],
        "overlaps_other_grant",
        WARNING,
        [
            en("overlaps site '{site}' of grant {grant} by {area} ha", site=s, grant=g, area=a)
            for s, g, a in zip(site, grant, _fmt(overlap[keep], 2), strict=True)
        ],
    )
