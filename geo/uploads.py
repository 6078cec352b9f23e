"""Read an uploaded vector file safely: size, format, archive, encoding and count checks.

Supported: GeoJSON, zipped Shapefile (``.cpg`` honoured; without one, UTF-8 or cp1251 is
detected), GeoPackage, KML and KMZ, CSV with a WKT column or longitude/latitude columns,
FlatGeobuf, and a zip holding one of these. Every refusal is a domain error with a message a
person can act on (:class:`~geo.errors.UnreadableFile`, :class:`~geo.errors.TooLarge`, ...).

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = d / "sites.geojson"
>>> _ = p.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
...     '"properties": {"name": "A"}, "geometry": {"type": "Point", "coordinates": [76.9, 43.1]}}]}')
>>> up = read_upload(p, UploadLimits())
>>> up.format, len(up.gdf), list(up.names)
('GeoJSON', 1, ['A'])
"""

from __future__ import annotations

import codecs
import re
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
import pyogrio
import shapely
from pyogrio.errors import (
    CRSError,
    DataLayerError,
    DataSourceError,
    FeatureError,
    FieldError,
    GeometryError,
)

from geo.archive import ArchiveLimits, extract_zip
from geo.errors import InvalidInput, SchemaMismatch, TooLarge, UnreadableFile

#: Upload suffixes and the format each must really be.
SUFFIXES = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": "ZIP",
    ".gpkg": "GPKG",
    ".kml": "KML",
    ".kmz": "KMZ",
    ".csv": "CSV",
    ".fgb": "FlatGeobuf",
}
#: Inside a zip, the files that are data sets (the rest are side-car files).
DATASET_SUFFIXES = {".shp", ".geojson", ".json", ".gpkg", ".kml", ".fgb", ".csv"}
NAME_COLUMNS = (
    "name",
    "site_name",
    "sitename",
    "site",
    "title",
    "label",
    "название",
    "наименование",
    "имя",
    "атауы",
    "аталышы",
    "nom",
)
DESCRIPTION_COLUMNS = ("description", "descr", "desc", "comment", "notes", "описание")
_READ_ERRORS = (
    DataSourceError,
    DataLayerError,
    FeatureError,
    FieldError,
    GeometryError,
    CRSError,
    OSError,
    ValueError,
    RuntimeError,
    UnicodeError,
    struct.error,
)
#: DBF language driver ids (byte 29) that name an encoding.
_LDID = {0x26: "cp866", 0x65: "cp866", 0xC9: "cp1251", 0x64: "cp852", 0x57: None, 0x00: None}


@dataclass(frozen=True)
class UploadLimits:
    """Limits on an upload (see ``api.settings.UploadSettings``)."""

    max_bytes: int = 50 * 1024 * 1024
    max_features: int = 10_000
    max_vertices: int = 2_000_000
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass
class Upload:
    """What was read: the features, their names, and notes on how the file was read."""

    gdf: gpd.GeoDataFrame
    format: str
    names: pd.Series
    descriptions: pd.Series
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)


def sniff(head: bytes) -> str:
    """The format a file's first bytes show (``ZIP``, ``GPKG``, ``FlatGeobuf``, ``JSON``,
    ``XML``, ``TEXT`` or ``BINARY``)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "ZIP"
    if head.startswith(b"SQLite format 3\x00"):
        return "GPKG"
    if head.startswith(b"fgb\x03"):
        return "FlatGeobuf"
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text.startswith((b"{", b"[")):
        return "JSON"
    if text.startswith(b"<"):
        return "XML"
    if b"\x00" in head:
        return "BINARY"
    return "TEXT"


_EXPECTED_SNIFF = {
    "GeoJSON": {"JSON"},
    "ZIP": {"ZIP"},
    "KMZ": {"ZIP"},
    "GPKG": {"GPKG"},
    "KML": {"XML"},
    "CSV": {"TEXT"},
    "FlatGeobuf": {"FlatGeobuf"},
}


def check_file(path: Path, limits: UploadLimits, *, filename: str | None = None) -> str:
    """Check size, suffix and content of an uploaded file; return its format."""
    name = filename or path.name
    suffix = Path(name).suffix.lower()
    if suffix == ".shp":
        raise UnreadableFile(
            "a Shapefile is several files: upload them zipped together "
            "(.shp, .shx, .dbf, .prj and .cpg if there is one)"
        )
    if suffix not in SUFFIXES:
        kinds = ", ".join(sorted(SUFFIXES))
        raise UnreadableFile(f"{name}: unsupported file type {suffix or '(none)'}; use {kinds}")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(f"{name}: the file is empty")
    if size > limits.max_bytes:
        raise TooLarge(f"{name}: {size:,} bytes; uploads are limited to {limits.max_bytes:,}")
    fmt = SUFFIXES[suffix]
    with path.open("rb") as fh:
        head = fh.read(4096)
    found = sniff(head)
    if found not in _EXPECTED_SNIFF[fmt]:
        raise UnreadableFile(
            f"{name}: the name says {fmt} but the content is {found.lower()}; "
            "check that the right file was chosen"
        )
    return fmt


def _require_utf8(path: Path, name: str) -> None:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{name}: the text is not UTF-8 (byte {exc.start}); save it as UTF-8 and try again"
        ) from exc


def _codec(label: str) -> str:
    """A Python codec for a .cpg label ('UTF-8', '1251', 'ANSI 1251', 'windows-1251'...)."""
    raw = label.strip().strip("\ufeff").upper().replace("ANSI", "").strip()
    if raw in {"65001", "UTF8"}:
        raw = "UTF-8"
    elif re.fullmatch(r"\d{3,5}", raw):
        raw = f"cp{raw}"
    elif re.fullmatch(r"(WINDOWS|WIN)-?\d{3,4}", raw):
        raw = "cp" + re.sub(r"\D", "", raw)
    try:
        return codecs.lookup(raw).name
    except LookupError:
        raise UnreadableFile(f"the .cpg file names an unknown encoding {label.strip()!r}") from None


def _dbf_text(dbf: Path) -> tuple[bytes, int]:
    data = dbf.read_bytes()
    if len(data) < 32:
        raise UnreadableFile(f"{dbf.name}: the attribute table is truncated")
    header_len = struct.unpack("<H", data[8:10])[0]
    return data[header_len:].rstrip(b"\x1a"), data[29]


def dbf_encoding(shp: Path) -> tuple[str, str]:
    """The encoding of a Shapefile's attributes and how it was found.

    A ``.cpg`` file wins; otherwise the attribute bytes decide: ASCII or valid UTF-8 is read as
    UTF-8, the DBF language driver byte is honoured when it names a code page, and other
    8-bit text is read as cp1251 (Cyrillic), which is what Central Asian data mostly uses.
    """
    cpg = next(
        (p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == ".cpg"), None
    )
    dbf = next(
        (p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == ".dbf"), None
    )
    if dbf is None:
        raise UnreadableFile(f"{shp.name}: the .dbf file (attributes) is missing from the zip")
    body, ldid = _dbf_text(dbf)
    if cpg is not None:
        enc = _codec(cpg.read_text(encoding="ascii", errors="replace"))
        how = f"from {cpg.name}"
    else:
        try:
            body.decode("utf-8")
            enc, how = "utf-8", "detected (no .cpg)"
        except UnicodeDecodeError:
            enc = _LDID.get(ldid) or "cp1251"
            how = "detected (no .cpg): 8-bit text read as " + enc
    try:
        body.decode(enc)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{dbf.name}: attributes cannot be decoded as {enc} ({how}) at byte {exc.start}"
        ) from exc
    return enc, how


def _dataset_in(folder: Path, files: list[Path], name: str) -> Path:
    candidates = [
        p
        for p in files
        if p.suffix.lower() in DATASET_SUFFIXES
        and "__MACOSX" not in p.parts
        and not p.name.startswith(".")
    ]
    shps = [p for p in candidates if p.suffix.lower() == ".shp"]
    chosen = shps if shps else candidates
    if not chosen:
        raise UnreadableFile(
            f"{name}: the zip holds no data set (a .shp with its .shx/.dbf/.prj, .gpkg, "
            ".geojson, .kml, .fgb or .csv)"
        )
    if len(chosen) > 1:
        listed = ", ".join(sorted(p.name for p in chosen))
        raise SchemaMismatch(f"{name}: the zip holds several data sets ({listed}); upload one")
    return chosen[0]


def _layers(source: str, name: str) -> list[str]:
    try:
        return [str(n) for n, _ in pyogrio.list_layers(source)]
    except _READ_ERRORS as exc:
        raise UnreadableFile(f"{name}: cannot be opened ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _read_layer(
    source: str, layer: str, name: str, limits: UploadLimits, *, encoding: str | None, **opts: str
) -> gpd.GeoDataFrame:
    try:
        info = pyogrio.read_info(
            source, layer=layer, encoding=encoding, force_feature_count=True, **opts
        )
    except _READ_ERRORS as exc:
        raise UnreadableFile(f"{name}: cannot be read ({_short(exc)})") from exc
    if info.get("features", 0) > limits.max_features:
        raise TooLarge(
            f"{name}: {info['features']:,} features; at most {limits.max_features:,} per upload"
        )
    try:
        gdf = pyogrio.read_dataframe(source, layer=layer, encoding=encoding, **opts)
    except _READ_ERRORS as exc:
        raise UnreadableFile(
            f"{name}: cannot be read, it may be truncated ({_short(exc)})"
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise SchemaMismatch(f"{name}: layer {layer!r} has no geometry")
    return gdf


CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,WKT,geometry,geom,the_geom,Geometry",
    "X_POSSIBLE_NAMES": "lon,longitude,Lon,Longitude,LON,LONGITUDE,x,X,lng,долгота",
    "Y_POSSIBLE_NAMES": "lat,latitude,Lat,Latitude,LAT,LATITUDE,y,Y,широта",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}


def read_upload(
    path: str | Path,
    limits: UploadLimits,
    *,
    filename: str | None = None,
    layer: str | None = None,
    name_field: str | None = None,
) -> Upload:
    """Read an uploaded file into an :class:`Upload` (features not yet validated).

    Parameters
    ----------
    path : where the upload was saved.
    limits : size, feature, vertex and archive limits.
    filename : the name the uploader gave the file (its suffix decides the format).
    layer : the layer to read from a multi-layer GeoPackage.
    name_field : the attribute holding site names (default: the first of :data:`NAME_COLUMNS`).

    Raises
    ------
    UnreadableFile, TooLarge, SchemaMismatch, InvalidInput
    """
    path = Path(path)
    name = filename or path.name
    fmt = check_file(path, limits, filename=name)
    notes: list[str] = []
    encoding: str | None = None
    with tempfile.TemporaryDirectory(prefix="irbis-upload-") as tmp:
        data = path
        if fmt in {"ZIP", "KMZ"}:
            files = extract_zip(path, Path(tmp), limits.archive)
            data = _dataset_in(Path(tmp), files, name)
            fmt = SUFFIXES.get(data.suffix.lower(), "ESRI Shapefile")
            if data.suffix.lower() == ".shp":
                fmt = "ESRI Shapefile"
                missing = [
                    s
                    for s in (".shx", ".dbf")
                    if not any(
                        p.stem == data.stem and p.suffix.lower() == s for p in data.parent.iterdir()
                    )
                ]
                if missing:
                    raise UnreadableFile(
                        f"{name}: the Shapefile lacks {' and '.join(missing)}; zip all its files"
                    )
                encoding, how = dbf_encoding(data)
                notes.append(f"attribute encoding {encoding} ({how})")
            elif fmt != "GPKG" and fmt != "FlatGeobuf":
                with data.open("rb") as fh:
                    found = sniff(fh.read(4096))
                if found not in _EXPECTED_SNIFF[fmt]:
                    raise UnreadableFile(f"{data.name} in {name}: not {fmt} ({found.lower()})")
            notes.append(f"read {data.name} from the archive")
        if fmt in {"GeoJSON", "KML", "CSV"}:
            _require_utf8(data, name)
        source = str(data)
        opts = CSV_OPTIONS if fmt == "CSV" else {}
        layers = _layers(source, name)
        if not layers:
            raise UnreadableFile(f"{name}: holds no vector layer")
        if layer is not None:
            if layer not in layers:
                raise SchemaMismatch(f"{name}: no layer {layer!r}; it has {', '.join(layers)}")
            layers = [layer]
        if len(layers) > 1 and fmt != "KML":
            raise SchemaMismatch(
                f"{name} holds several layers ({', '.join(layers)}); name the one to read"
            )
        frames = [
            _read_layer(source, lyr, name, limits, encoding=encoding, **opts) for lyr in layers
        ]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise UnreadableFile(f"{name}: the file holds no features")
    crs = frames[0].crs
    if any(f.crs != crs for f in frames[1:]):
        raise SchemaMismatch(f"{name}: its layers use different coordinate systems")
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
    if len(gdf) > limits.max_features:
        raise TooLarge(f"{name}: {len(gdf):,} features; at most {limits.max_features:,} per upload")
    if fmt == "CSV" and gdf.geometry.isna().all():
        raise SchemaMismatch(
            f"{name}: no geometry found; a CSV needs a WKT column (wkt, geometry) or "
            "longitude/latitude columns (lon, lat)"
        )
    if fmt == "CSV":
        gdf, note = vertices_to_polygons(gdf, name_field)
        if note:
            notes.append(note)
    vertices = int(shapely.get_num_coordinates(gdf.geometry.to_numpy()).sum())
    if vertices > limits.max_vertices:
        raise TooLarge(f"{name}: {vertices:,} vertices; at most {limits.max_vertices:,} per upload")
    names = site_names(gdf, Path(name).stem, name_field)
    descriptions = _pick(gdf, DESCRIPTION_COLUMNS)
    return Upload(
        gdf=gdf, format=fmt, names=names, descriptions=descriptions, encoding=encoding, notes=notes
    )


ORDER_COLUMNS = ("vertex", "seq", "sequence", "order", "point", "n", "№")


def vertices_to_polygons(
    gdf: gpd.GeoDataFrame, name_field: str | None = None
) -> tuple[gpd.GeoDataFrame, str | None]:
    """Turn a table of boundary vertices (one point per row, a name per site) into polygons.

    A CSV with longitude/latitude columns holds points. When rows share site names, each
    site's points, in file order (or by a ``vertex``/``seq``/``order`` column), are its
    boundary: a polygon is built per name. Sites with fewer than three points stay points
    (and are refused as such). Other tables are returned unchanged.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoDataFrame({"name": ["A"] * 4},
    ...     geometry=[Point(70, 48), Point(70.1, 48), Point(70.1, 48.1), Point(70, 48.1)], crs=4326)
    >>> polys, note = vertices_to_polygons(pts)
    >>> polys.geometry.iloc[0].geom_type, note
    ('Polygon', 'built 1 polygon(s) from 4 boundary points grouped by name')
    """
    geoms = gdf.geometry.to_numpy()
    if len(gdf) == 0 or not (shapely.get_type_id(geoms) == 0).all():
        return gdf, None
    names = site_names(gdf, "site", name_field) if name_field else _pick(gdf, NAME_COLUMNS)
    if names.isna().all() or not names.duplicated().any():
        return gdf, None
    order = _pick(gdf, ORDER_COLUMNS)
    frame = pd.DataFrame(
        {"name": names.fillna("").to_numpy(), "order": pd.to_numeric(order, errors="coerce")}
    )
    frame["row"] = np.arange(len(frame))
    frame = frame.sort_values(["name", "order", "row"], kind="stable", na_position="last")
    codes, uniques = pd.factorize(frame["name"], sort=False)
    counts = np.bincount(codes)
    coords = shapely.get_coordinates(geoms[frame["row"].to_numpy()])
    big = counts[codes] >= 3
    out = np.empty(len(uniques), dtype=object)
    if big.any():
        ring_ids, ring_idx = np.unique(codes[big], return_inverse=True)
        rings = shapely.linearrings(coords[big], indices=ring_idx)
        out[ring_ids] = shapely.polygons(rings)
    small = np.flatnonzero(counts < 3)
    if small.size:
        first = frame.groupby(codes)["row"].first().to_numpy()
        out[small] = geoms[first[small]]
    first_rows = frame.groupby(codes)["row"].first().to_numpy()
    attrs = gdf.drop(columns=gdf.geometry.name).iloc[first_rows].reset_index(drop=True)
    polys = gpd.GeoDataFrame(attrs, geometry=list(out), crs=gdf.crs)
    note = (
        f"built {int((counts >= 3).sum())} polygon(s) from {int(counts[counts >= 3].sum())} "
        "boundary points grouped by name"
    )
    return polys, note


def _text(values: pd.Series) -> pd.Series:
    """Attribute values as trimmed text without control characters (NUL included)."""
    return (
        values.astype("string")
        .str.replace(r"[\x00-\x08\x0b-\x1f\x7f]", "", regex=True)
        .str.strip()
        .replace("", pd.NA)
    )


def _pick(gdf: gpd.GeoDataFrame, candidates: tuple[str, ...]) -> pd.Series:
    lower = {str(c).lower(): c for c in gdf.columns if c != gdf.geometry.name}
    for c in candidates:
        if c in lower:
            return _text(gdf[lower[c]])
    return pd.Series(pd.NA, index=gdf.index, dtype="string")


def site_names(gdf: gpd.GeoDataFrame, stem: str, name_field: str | None = None) -> pd.Series:
    """Each feature's site name: ``name_field``, a usual name column, or ``"<file> <n>"``."""
    if name_field is not None:
        if name_field not in gdf.columns:
            have = ", ".join(str(c) for c in gdf.columns if c != gdf.geometry.name)
            raise SchemaMismatch(f"no attribute {name_field!r}; the file has: {have}")
        names = _text(gdf[name_field])
    else:
        names = _pick(gdf, NAME_COLUMNS)
    fallback = pd.Series([f"{stem} {i + 1}" for i in range(len(gdf))], index=gdf.index)
    out = names.fillna(fallback).astype(str).str.replace(r"\s+", " ", regex=True).str.slice(0, 200)
    if out.duplicated().any():
        dup = out[out.duplicated(keep=False)]
        out = out.where(~out.duplicated(keep=False), dup + " (" + (dup.index + 1).astype(str) + ")")
    return out


def limits_from(
    max_bytes: int,
    max_features: int,
    max_vertices: int,
    max_uncompressed_bytes: int,
    max_compression_ratio: float,
) -> UploadLimits:
    """Build :class:`UploadLimits` from plain numbers (e.g. the API's upload settings)."""
    if min(max_bytes, max_features, max_vertices, max_uncompressed_bytes) <= 0:
        raise InvalidInput("upload limits must be positive")
    return UploadLimits(
        max_bytes=max_bytes,
        max_features=max_features,
        max_vertices=max_vertices,
        archive=ArchiveLimits(
            max_uncompressed_bytes=max_uncompressed_bytes,
            max_compression_ratio=max_compression_ratio,
        ),
    )


__all__ = [
    "Upload",
    "UploadLimits",
    "check_file",
    "dbf_encoding",
    "np",
    "read_upload",
    "site_names",
    "sniff",
]
