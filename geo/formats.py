"""Column mappings of the authoritative formats onto Irbis layers (pure, no database).

Each ``from_*`` function takes what the file holds (a GeoDataFrame, or a DataFrame for GBIF's
Darwin Core tables), checks the columns the format must have, and returns a GeoDataFrame in
EPSG:4326 with the target layer's column names. Missing columns raise
:class:`~geo.errors.SchemaMismatch` naming them.

Formats
-------
- WDPA / WDPCA (Protected Planet): WDPAID, WDPA_PID, NAME, ORIG_NAME, DESIG_ENG, DESIG_TYPE,
  IUCN_CAT, STATUS, STATUS_YR, REP_AREA (km²), ISO3, PA_DEF; polygons and points.
- IUCN Red List spatial data: id_no, sci_name or binomial, presence, origin, seasonal,
  compiler, yrcompiled.
- GBIF occurrence downloads (Darwin Core, tab separated): gbifID, occurrenceID, species or
  scientificName, decimalLatitude, decimalLongitude, coordinateUncertaintyInMeters, eventDate,
  basisOfRecord, countryCode, recordedBy, datasetKey.
- OpenStreetMap protected-area extracts (GeoJSON from Overpass or osmium): id or @id,
  name, name:en, boundary, protect_class, protection_title, leisure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

import geopandas as gpd

from geo.crs import STORAGE_EPSG, to_storage
from geo.errors import InvalidInput, SchemaMismatch

WDPA_STATUSES = {"Designated", "Inscribed", "Adopted", "Established", "Proposed", "Not Reported"}


def _columns(df: pd.DataFrame) -> dict[str, str]:
    """Map lower-cased column names to the actual ones."""
    return {str(c).lower(): str(c) for c in df.columns}


def _require(
    df: pd.DataFrame, fmt: str, required: Iterable[str | tuple[str, ...]]
) -> dict[str, str]:
    cols = _columns(df)
    missing = []
    for req in required:
        options = (req,) if isinstance(req, str) else req
        if not any(o.lower() in cols for o in options):
            missing.append(" or ".join(options))
    if missing:
        have = ", ".join(sorted(map(str, df.columns)))[:400]
        raise SchemaMismatch(
            f"this is not a {fmt} file: it lacks the column(s) {', '.join(missing)} "
            f"(it has: {have})"
        )
    return cols


def _col(df: pd.DataFrame, cols: dict[str, str], *names: str) -> pd.Series:
    for n in names:
        if n.lower() in cols:
            return df[cols[n.lower()]]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _int_or_none(s: pd.Series) -> pd.Series:
    out = pd.to_numeric(s, errors="coerce")
    return out.astype("Int64").astype(object).where(out.notna(), None)


def _float_or_none(s: pd.Series) -> pd.Series:
    out = pd.to_numeric(s, errors="coerce")
    return out.astype(object).where(out.notna(), None)


def _text(s: pd.Series) -> pd.Series:
    out = s.astype(object).where(s.notna(), None)
    return out.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip())


def sniff(df: pd.DataFrame) -> str | None:
    """Guess the authoritative format from the columns (``wdpa``, ``iucn``, ``gbif``, ``osm``)."""
    cols = set(_columns(df))
    if {"wdpaid", "desig_eng"} <= cols or {"wdpa_pid", "name"} <= cols:
        return "wdpa"
    if ("sci_name" in cols or "binomial" in cols) and {"presence", "origin"} <= cols:
        return "iucn"
    if {"decimallatitude", "decimallongitude"} <= cols:
        return "gbif"
    if ("boundary" in cols or "leisure" in cols) and (
        "@id" in cols or "id" in cols or "osm_id" in cols
    ):
        return "osm"
    if {"osm_id", "designation"} <= cols and ("name" in cols or "name_en" in cols):
        return "osm"  # a Nominatim lookup of protected areas (one row per boundary)
    return None


def from_wdpa(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """WDPA / WDPCA records as ``protected_areas`` rows."""
    cols = _require(gdf, "WDPA", [("WDPAID",), ("NAME",), ("STATUS",)])
    gdf = to_storage(gdf, what="the WDPA file")
    status = _text(_col(gdf, cols, "STATUS"))
    bad = sorted({s for s in status.dropna() if s not in WDPA_STATUSES})
    if bad:
        raise SchemaMismatch(
            f"unknown WDPA STATUS value(s): {', '.join(bad)}; expected one of "
            f"{', '.join(sorted(WDPA_STATUSES))}"
        )
    pid = _text(_col(gdf, cols, "WDPA_PID"))
    wdpaid = _int_or_none(_col(gdf, cols, "WDPAID"))
    pid = pid.where(pid.notna(), wdpaid.map(lambda v: None if v is None else str(v)))
    pa_def = _col(gdf, cols, "PA_DEF").astype(str)
    out = gpd.GeoDataFrame(
        {
            "wdpa_id": wdpaid,
            "wdpa_pid": pid,
            "name": _text(_col(gdf, cols, "NAME")),
            "original_name": _text(_col(gdf, cols, "ORIG_NAME")),
            "designation": _text(_col(gdf, cols, "DESIG_ENG", "DESIG")),
            "designation_type": _text(_col(gdf, cols, "DESIG_TYPE")),
            "iucn_category": _text(_col(gdf, cols, "IUCN_CAT")),
            "status": status.fillna("Not Reported"),
            "status_year": _int_or_none(_col(gdf, cols, "STATUS_YR")).map(
                lambda v: None if v in (None, 0) else v
            ),
            "reported_area_km2": _float_or_none(_col(gdf, cols, "REP_AREA")),
            "iso3": _text(_col(gdf, cols, "ISO3", "PARENT_ISO", "PARENT_ISO3")),
            "is_oecm": (pa_def == "0").to_numpy(),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=STORAGE_EPSG,
    )
    if out["name"].isna().any():
        raise SchemaMismatch(f"{int(out['name'].isna().sum())} WDPA record(s) have no NAME")
    if out["wdpa_pid"].duplicated().any():
        dup = out.loc[out["wdpa_pid"].duplicated(), "wdpa_pid"].iloc[0]
        raise SchemaMismatch(f"WDPA_PID {dup} appears more than once in the file")
    return out


def from_iucn(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """IUCN Red List range polygons as ``species_ranges`` rows (with ``scientific_name``)."""
    cols = _require(
        gdf,
        "IUCN Red List range",
        [("sci_name", "binomial"), ("presence",), ("origin",), ("seasonal",)],
    )
    gdf = to_storage(gdf, what="the IUCN range file")
    codes = {}
    for name, lo, hi in (("presence", 1, 7), ("origin", 1, 6), ("seasonal", 1, 5)):
        v = pd.to_numeric(_col(gdf, cols, name), errors="coerce")
        if v.isna().any() or (v < lo).any() or (v > hi).any():
            raise SchemaMismatch(f"IUCN column {name} must hold codes {lo}-{hi} in every row")
        codes[name] = v.astype(int).to_numpy()
    return gpd.GeoDataFrame(
        {
            "scientific_name": _text(_col(gdf, cols, "sci_name", "binomial")),
            "iucn_taxon_id": _int_or_none(_col(gdf, cols, "id_no")),
            **codes,
            "compiler": _text(_col(gdf, cols, "compiler")),
            "year": _int_or_none(_col(gdf, cols, "yrcompiled", "year")),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=STORAGE_EPSG,
    )


def from_gbif(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """GBIF Darwin Core occurrences as ``occurrences`` rows (with ``scientific_name``).

    Rows with no coordinates are dropped (GBIF downloads hold many); coordinates out of range
    raise an error naming the first bad row.
    """
    cols = _require(
        df,
        "GBIF Darwin Core",
        [("decimalLatitude",), ("decimalLongitude",), ("species", "scientificName")],
    )
    lat = pd.to_numeric(_col(df, cols, "decimalLatitude").replace("", np.nan), errors="coerce")
    lon = pd.to_numeric(_col(df, cols, "decimalLongitude").replace("", np.nan), errors="coerce")
    keep = lat.notna() & lon.notna()
    bad = keep & ((lat.abs() > 90) | (lon.abs() > 180))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(
            f"row {i + 2}: decimalLatitude {lat.iloc[i]} / decimalLongitude {lon.iloc[i]} "
            "are outside the world; check whether the columns are swapped"
        )
    df, lat, lon = df[keep], lat[keep], lon[keep]
    if len(df) == 0:
        raise InvalidInput("no occurrence in the file has coordinates")
    species = _text(_col(df, cols, "species"))
    sci = _text(_col(df, cols, "scientificName")).map(
        lambda s: None if s is None else " ".join(s.split()[:2])
    )
    species = species.where(species.notna(), sci)
    dates = pd.to_datetime(
        _col(df, cols, "eventDate").astype(str).str.slice(0, 10), errors="coerce", format="%Y-%m-%d"
    )
    return gpd.GeoDataFrame(
        {
            "scientific_name": species,
            "gbif_id": _int_or_none(_col(df, cols, "gbifID")),
            "occurrence_id": _text(_col(df, cols, "occurrenceID")),
            "event_date": dates.dt.date.astype(object).where(dates.notna(), None),
            "basis_of_record": _text(_col(df, cols, "basisOfRecord")),
            "coordinate_uncertainty_m": _float_or_none(
                _col(df, cols, "coordinateUncertaintyInMeters")
            ),
            "country_code": _text(_col(df, cols, "countryCode")),
            "recorded_by": _text(_col(df, cols, "recordedBy")),
            "dataset_key": _text(_col(df, cols, "datasetKey")),
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=STORAGE_EPSG,
    )


_OSM_IUCN = {
    "1a": "Ia",
    "1b": "Ib",
    "1": "Ia",
    "2": "II",
    "3": "III",
    "4": "IV",
    "5": "V",
    "6": "VI",
}


def _from_osm_lookup(gdf: gpd.GeoDataFrame, cols: dict[str, str]) -> gpd.GeoDataFrame:
    """Protected areas looked up one by one (Nominatim): every row is a protected area, with
    ``osm_id`` (R/W/N + number), ``designation`` and names ``name_en``, ``name_kk``,
    ``name_ru`` (or ``name``)."""
    name = _text(_col(gdf, cols, "name"))
    name_en = _text(_col(gdf, cols, "name_en", "name:en"))
    native = _text(_col(gdf, cols, "name_kk", "name:kk"))
    native = native.where(native.notna(), _text(_col(gdf, cols, "name_ru", "name:ru")))
    native = native.where(native.notna(), name)
    return gpd.GeoDataFrame(
        {
            "osm_id": _text(_col(gdf, cols, "osm_id")),
            "name": name_en.where(name_en.notna(), name),
            "original_name": native,
            "name_ru": _text(_col(gdf, cols, "name_ru", "name:ru")),
            "name_kk": _text(_col(gdf, cols, "name_kk", "name:kk")),
            "designation": _text(_col(gdf, cols, "designation")),
            "iucn_category": None,
            "status": "Designated",
            "iso3": None,
        },
        geometry=gdf.geometry.to_numpy(),
        crs=STORAGE_EPSG,
    )


def from_osm(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """OpenStreetMap protected areas (boundary=protected_area / national_park,
    leisure=nature_reserve) as ``protected_areas`` rows.

    Also reads a Nominatim lookup of protected areas (columns ``osm_id`` such as
    ``R21255164``, ``designation``, ``name_en``, ``name_kk``, ``name_ru``), where every row
    is a protected area. Names in Russian and Kazakh (``name:ru``, ``name:kk``) are kept as
    ``name_ru`` and ``name_kk``. OSM ids are normalised to ``relation/…``, ``way/…``, ``node/…``.
    """
    cols = _require(gdf, "OpenStreetMap extract", [("@id", "id", "osm_id"), ("name", "name_en")])
    gdf = to_storage(gdf, what="the OpenStreetMap extract")
    if "boundary" not in cols and "leisure" not in cols and {"osm_id", "designation"} <= set(cols):
        return _osm_ids(_named_osm(_from_osm_lookup(gdf, cols)))
    if "name" not in cols:
        raise SchemaMismatch("this is not an OpenStreetMap extract: it lacks the column name")
    boundary = _text(_col(gdf, cols, "boundary"))
    leisure = _text(_col(gdf, cols, "leisure"))
    mask = boundary.isin(["protected_area", "national_park"]) | (leisure == "nature_reserve")
    if not mask.any():
        raise SchemaMismatch(
            "the OpenStreetMap extract holds no boundary=protected_area, boundary=national_park "
            "or leisure=nature_reserve feature"
        )
    gdf = gdf[mask.to_numpy()]
    ids = _text(_col(gdf, cols, "@id", "id", "osm_id"))
    name_en = _text(_col(gdf, cols, "name:en", "name_en"))
    name = _text(_col(gdf, cols, "name"))
    title = _text(_col(gdf, cols, "protection_title"))
    b = boundary[mask.to_numpy()]
    designation = title.where(
        title.notna(), b.map(lambda v: (v or "nature reserve").replace("_", " "))
    )
    pclass = _text(_col(gdf, cols, "protect_class")).map(
        lambda v: _OSM_IUCN.get(str(v).lower()) if v else None
    )
    out = gpd.GeoDataFrame(
        {
            "osm_id": ids,
            "name": name_en.where(name_en.notna(), name),
            "original_name": name,
            "name_ru": _text(_col(gdf, cols, "name:ru", "name_ru")),
            "name_kk": _text(_col(gdf, cols, "name:kk", "name_kk")),
            "designation": designation,
            "iucn_category": pclass,
            "status": "Designated",
            "iso3": None,
        },
        geometry=gdf.geometry.to_numpy(),
        crs=STORAGE_EPSG,
    )
    return _osm_ids(_named_osm(out))


def _named_osm(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = out[out["name"].notna()]
    if len(out) == 0:
        raise SchemaMismatch("no OpenStreetMap protected area in the extract has a name")
    if out["osm_id"].isna().any():
        raise SchemaMismatch("some OpenStreetMap features have no id")
    return out


_OSM_TYPE_LETTER = {"r": "relation", "w": "way", "n": "node"}


def _osm_ids(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``relation/123``, ``way/123``, ``node/123`` whatever the spelling (``R123``, ``r123``)."""

    def norm(v: str) -> str:
        m = re.fullmatch(r"([RWNrwn])(\d+)", v)
        if m:
            return f"{_OSM_TYPE_LETTER[m.group(1).lower()]}/{m.group(2)}"
        return re.sub(r"^(way|relation|node)/", r"\1/", v)

    out = out.copy()
    out["osm_id"] = out["osm_id"].map(norm)
    return out
