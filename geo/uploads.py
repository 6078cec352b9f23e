"""Read an uploaded vector file safely: size, format, archive, encoding and count checks.

Supported: GeoJSON, zipped Shapefile (``.cpg`` honoured; without one, UTF-8 or cp1251 is
detected), GeoPackage, KML and KMZ, CSV with a WKT column or longitude/latitude columns (read
as WGS 84 unless another EPSG code is named), FlatGeobuf, and a zip holding one of these. Text
files may be UTF-8 (with or without a byte order mark) or UTF-16 with a byte order mark. Every
refusal is a domain error with a message a person can act on (:class:`~geo.errors.UnreadableFile`,
:class:`~geo.errors.TooLarge`, ...), and no message names a server path.

Limits are inclusive: a limit of N accepts N and refuses N + 1. The feature count is checked
before the features are read, the vertex count right after the geometries are parsed (before
any validation), and a KML document type declaration (entities) is refused before parsing.

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
import csv
import re
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import shapely

from geo.archive import ArchiveLimits, extract_zip, redact_paths
from geo.errors import InvalidInput, SchemaMismatch, TooLarge, UnreadableFile
from geo.lazy import lazy_module
from geo.messages import en, number

if TYPE_CHECKING:
    import pandas as pd

    import geopandas as gpd
    import pyogrio
    import pyogrio.errors
else:  # imported when a file is first read, not when a server starts (geo.lazy)
    gpd = lazy_module("geopandas")
    pd = lazy_module("pandas")
    pyogrio = lazy_module("pyogrio")

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


def _read_errors() -> tuple[type[Exception], ...]:
    """What GDAL and the file may raise while a file is read."""
    e = pyogrio.errors
    return (
        e.DataSourceError,
        e.DataLayerError,
        e.FeatureError,
        e.FieldError,
        e.GeometryError,
        e.CRSError,
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
    max_vertices: int = 200_000
    #: Longest attribute value (characters) accepted.
    max_attribute_chars: int = 20_000
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
    #: Features whose geometry could not be parsed (row position -> why), e.g. an unclosed ring.
    geometry_errors: dict[int, str] = field(default_factory=dict)


def sniff(head: bytes) -> str:
    """The format a file's first bytes show (``ZIP``, ``GPKG``, ``FlatGeobuf``, ``JSON``,
    ``XML``, ``TEXT`` or ``BINARY``)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "ZIP"
    if head.startswith(b"SQLite format 3\x00"):
        return "GPKG"
    if head.startswith(b"fgb\x03"):
        return "FlatGeobuf"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head[: len(head) // 2 * 2].decode("utf-16", errors="ignore").encode("utf-8")
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
            en(
                "a Shapefile is several files: upload them zipped together "
                "(.shp, .shx, .dbf, .prj and .cpg if there is one)"
            )
        )
    if suffix not in SUFFIXES:
        kinds = ", ".join(sorted(SUFFIXES))
        raise UnreadableFile(
            en(
                "{name}: unsupported file type {suffix}; use {kinds}",
                name=name,
                suffix=suffix or "(none)",
                kinds=kinds,
            )
        )
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(en("{name}: the file is empty", name=name))
    if size > limits.max_bytes:
        raise TooLarge(
            en(
                "{name}: {size} bytes; uploads are limited to {most}",
                name=name,
                size=number(size),
                most=number(limits.max_bytes),
            )
        )
    fmt = SUFFIXES[suffix]
    with path.open("rb") as fh:
        head = fh.read(4096)
    found = sniff(head)
    if found not in _EXPECTED_SNIFF[fmt]:
        raise UnreadableFile(
            en(
                "{name}: the name says {format} but the content is {found}; "
                "check that the right file was chosen",
                name=name,
                format=fmt,
                found=found.lower(),
            )
        )
    return fmt


def _as_utf8(path: Path, folder: Path, name: str, notes: list[str]) -> Path:
    """The text file as UTF-8 without a byte order mark: UTF-16 (with its BOM) is converted and
    a UTF-8 BOM dropped (into ``folder``); anything else that is not UTF-8 is refused."""
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                en(
                    "{name}: the text starts as UTF-16 but is damaged at byte {at}; "
                    "save it as UTF-8 and try again",
                    name=name,
                    at=exc.start,
                )
            ) from exc
        notes.append(en("{name}: text converted from UTF-16 to UTF-8", name=name))
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                en(
                    "{name}: the text is not UTF-8 (byte {at}); save it as UTF-8 and try again",
                    name=name,
                    at=exc.start,
                )
            ) from exc
        if not text.startswith("\ufeff"):
            return path
    out = folder / ("utf8-" + path.name)
    out.write_text(text.removeprefix("\ufeff"), encoding="utf-8")
    return out


#: Bytes of a number as b"0", the rest as b" " (to find over-long numbers at C speed).
_NUMBER_CHARS = bytes(48 if chr(i) in "0123456789.eE+-" else 32 for i in range(256))
#: Formats that hold one layer.
SINGLE_LAYER = {"GeoJSON", "CSV", "FlatGeobuf", "ESRI Shapefile"}
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
#: GeoJSON coordinates written as strings: ``"coordinates": ["70.1", ...]``.
_TEXT_COORDINATES = re.compile(rb'"coordinates"\s*:\s*[\[\s]*"')


def _refuse_hostile_text(path: Path, fmt: str, name: str, limits: UploadLimits) -> None:
    """Checks on the raw text before GDAL parses it."""
    data = path.read_bytes()
    n = limits.max_attribute_chars
    # GeoJSON: one value longer than the attribute limit (GDAL's JSON parser fails on it with
    # an obscure message): a string (from its opening quote) or a run of digits
    if fmt == "GeoJSON":
        string = re.search(rb'[:\[,{]\s*"[^"]{%d,}' % (n + 1), data)
        at = string.start() if string else data.translate(_NUMBER_CHARS).find(b"0" * (n + 1))
        if at >= 0:
            raise TooLarge(
                en(
                    "{name}: a value in the file (at byte {at}) holds more than {most} "
                    "characters; at most {most} per attribute",
                    name=name,
                    at=number(at),
                    most=number(n),
                )
            )
    if fmt == "KML" and _DTD.search(data):
        raise UnreadableFile(
            en(
                "{name}: the KML declares a document type or entities (<!DOCTYPE, <!ENTITY); "
                "they are refused because they can read server files or expand without bound. "
                "Export the KML again without them.",
                name=name,
            )
        )
    if fmt == "GeoJSON" and _TEXT_COORDINATES.search(data):
        raise UnreadableFile(
            en(
                '{name}: coordinates are written as text ("70.5") instead of numbers (70.5); '
                "export the file again with numeric coordinates",
                name=name,
            )
        )


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
        raise UnreadableFile(
            en("the .cpg file names an unknown encoding {label}", label=repr(label.strip()))
        ) from None


def _dbf_text(dbf: Path) -> tuple[bytes, int]:
    data = dbf.read_bytes()
    if len(data) < 32:
        raise UnreadableFile(en("{name}: the attribute table is truncated", name=dbf.name))
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
        raise UnreadableFile(
            en("{name}: the .dbf file (attributes) is missing from the zip", name=shp.name)
        )
    body, ldid = _dbf_text(dbf)
    if cpg is not None:
        enc = _codec(cpg.read_text(encoding="ascii", errors="replace"))
        how: str = en("from {name}", name=cpg.name)
    else:
        try:
            body.decode("utf-8")
            enc, how = "utf-8", en("detected (no .cpg)")
        except UnicodeDecodeError:
            enc = _LDID.get(ldid) or "cp1251"
            how = en("detected (no .cpg): 8-bit text read as {encoding}", encoding=enc)
    try:
        body.decode(enc)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            en(
                "{name}: attributes cannot be decoded as {encoding} ({how}) at byte {at}",
                name=dbf.name,
                encoding=enc,
                how=how,
                at=exc.start,
            )
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
        nested = sorted(
            p.name for p in files if p.suffix.lower() in {".zip", ".kmz", ".7z", ".rar", ".gz"}
        )
        if nested:
            raise UnreadableFile(
                en(
                    "{name}: the zip holds another archive ({files}), which is not opened; "
                    "upload the inner archive itself, or zip the data set's files directly",
                    name=name,
                    files=", ".join(nested)[:200],
                )
            )
        shp_parts = sorted(p.name for p in files if p.suffix.lower() in {".dbf", ".shx", ".prj"})
        if shp_parts:
            raise UnreadableFile(
                en(
                    "{name}: the zip holds parts of a Shapefile ({files}) but no .shp (the "
                    "geometries); zip all its files",
                    name=name,
                    files=", ".join(shp_parts)[:200],
                )
            )
        raise UnreadableFile(
            en(
                "{name}: the zip holds no data set (a .shp with its .shx/.dbf/.prj, .gpkg, "
                ".geojson, .kml, .fgb or .csv)",
                name=name,
            )
        )
    if len(chosen) > 1:
        listed = ", ".join(sorted(p.name for p in chosen))
        raise SchemaMismatch(
            en(
                "{name}: the zip holds several data sets ({files}); upload one",
                name=name,
                files=listed,
            )
        )
    return chosen[0]


def _layers(source: str, name: str) -> list[str]:
    try:
        return [str(n) for n, _ in pyogrio.list_layers(source)]
    except _read_errors() as exc:
        raise UnreadableFile(
            en("{name}: cannot be opened ({reason})", name=name, reason=_short(exc))
        ) from exc


#: GDAL messages and what they mean for the person uploading.
_GDAL_MESSAGES = {
    "Too many characters in number": en("a value in the file is far too long"),
    "Unrecognized number": en("a number in the file is out of range or malformed"),
    "not recognized as being in a supported file format": en(
        "not a file in the format its name says"
    ),
    "not recognized as a supported file format": en("not a file in the format its name says"),
}


def _short(exc: BaseException) -> str:
    """The first line of an error, without server paths and with GDAL's jargon explained."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = redact_paths(text)
    for jargon, meaning in _GDAL_MESSAGES.items():
        if jargon in text:
            return meaning
    return text[:200]


def _geos_reason(exc: BaseException) -> str:
    text = str(exc)
    if "closed linestring" in text:
        return en("a ring is not closed: its last position must repeat the first")
    if "Invalid number of points in LinearRing" in text or "must be 0 or >=" in text:
        return en(
            "a ring has fewer than 4 positions (3 corners and the closing one): it has no area"
        )
    return en(
        "the geometry cannot be parsed ({reason})",
        reason=redact_paths(text.splitlines()[0])[:120],
    )


def _unparsed(source: str, **read: Any) -> dict[int, str]:
    """Row position -> why, for the features whose WKB shapely cannot parse."""
    _, _, wkb, _ = pyogrio.raw.read(source, columns=[], **read)
    out: dict[int, str] = {}
    for i, w in enumerate(wkb):
        if w is None:
            continue
        try:
            shapely.from_wkb(w)
        except shapely.errors.GEOSException as exc:
            out[i] = _geos_reason(exc)
    return out


def _read_layer(
    source: str,
    layer: str | None,
    name: str,
    limits: UploadLimits,
    *,
    encoding: str | None,
    **opts: str,
) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """Read one layer (the first when ``layer`` is None), never more than one feature over the
    limit: the file is parsed once, and a file with too many features is refused unread."""
    # a CSV may hold one boundary vertex per row: its sites are counted once grouped
    most = max(limits.max_features, limits.max_vertices) if opts else limits.max_features
    read = {"layer": layer, "encoding": encoding, "max_features": most + 1, **opts}
    broken: dict[int, str] = {}
    try:
        try:
            gdf = pyogrio.read_dataframe(source, **read)
        except shapely.errors.GEOSException:
            # some geometries cannot be parsed (an unclosed ring...): read the rest, say which
            broken = _unparsed(source, **read)
            gdf = pyogrio.read_dataframe(source, on_invalid="ignore", **read)
    except (IndexError, KeyError) as exc:  # pyogrio on a source without layers
        raise UnreadableFile(en("{name}: holds no vector layer", name=name)) from exc
    except _read_errors() as exc:
        raise UnreadableFile(
            en(
                "{name}: cannot be read, it may be truncated ({reason})",
                name=name,
                reason=_short(exc),
            )
        ) from exc
    if len(gdf) > most:
        raise TooLarge(
            en(
                "{name}: more than {most} features; at most {most} per upload",
                name=name,
                most=number(most),
            )
        )
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise SchemaMismatch(
            en("{name}: layer {layer} has no geometry", name=name, layer=repr(layer or 1))
        )
    return gdf, broken


CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,WKT,geometry,geom,the_geom,Geometry",
    "X_POSSIBLE_NAMES": "lon,longitude,Lon,Longitude,LON,LONGITUDE,x,X,lng,долгота",
    "Y_POSSIBLE_NAMES": "lat,latitude,Lat,Latitude,LAT,LATITUDE,y,Y,широта",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}
#: CSV has no way to name its CRS: coordinates are WGS 84 longitude/latitude unless an EPSG
#: code is named.
CSV_DEFAULT_EPSG = 4326


def _csv_without_geometry(path: Path, name: str) -> SchemaMismatch:
    """Why a CSV gave no geometry: no coordinate columns, or columns holding no numbers/WKT."""
    try:
        df = pd.read_csv(path, sep=None, engine="python", dtype=str, nrows=1000)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, csv.Error):
        df = pd.DataFrame()
    lower = {str(c).strip().lower(): c for c in df.columns}
    wkt = [
        lower[c.lower()]
        for c in CSV_OPTIONS["GEOM_POSSIBLE_NAMES"].split(",")
        if c.lower() in lower
    ]
    xy = [
        lower[c.lower()]
        for key in ("X_POSSIBLE_NAMES", "Y_POSSIBLE_NAMES")
        for c in CSV_OPTIONS[key].split(",")
        if c.lower() in lower
    ]
    for col in dict.fromkeys(xy):
        values = df[col].dropna().astype(str).str.strip()
        bad = values[pd.to_numeric(values, errors="coerce").isna()]
        if len(bad):
            return SchemaMismatch(
                en(
                    "{name}: column {column} holds values that are not numbers (first: "
                    "{value}); write decimal degrees with a dot, like 70.5",
                    name=name,
                    column=repr(col),
                    value=repr(bad.iloc[0][:40]),
                )
            )
    if wkt:
        return SchemaMismatch(
            en(
                "{name}: column {column} holds no readable WKT geometry; write it like "
                "POLYGON((70 48, 70.1 48, 70.1 48.1, 70 48))",
                name=name,
                column=repr(wkt[0]),
            )
        )
    return SchemaMismatch(
        en(
            "{name}: no geometry found; a CSV needs a WKT column (wkt, geometry) or "
            "longitude/latitude columns (lon, lat)",
            name=name,
        )
    )


def read_upload(
    path: str | Path,
    limits: UploadLimits,
    *,
    filename: str | None = None,
    layer: str | None = None,
    name_field: str | None = None,
    epsg: int | None = None,
) -> Upload:
    """Read an uploaded file into an :class:`Upload` (features not yet validated).

    Parameters
    ----------
    path : where the upload was saved.
    limits : size, feature, vertex and archive limits.
    filename : the name the uploader gave the file (its suffix decides the format).
    layer : the layer to read from a multi-layer GeoPackage.
    name_field : the attribute holding site names (default: the first of :data:`NAME_COLUMNS`).
    epsg : the EPSG code of a CSV's coordinates (default :data:`CSV_DEFAULT_EPSG`, WGS 84).

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
        try:
            gdf, fmt, encoding, broken = _read_all(
                path, Path(tmp), fmt, name, limits, layer=layer, notes=notes
            )
        except (UnreadableFile, TooLarge, SchemaMismatch, InvalidInput) as exc:
            exc.message = redact_paths(exc.message, {tmp: name, str(path): name})
            exc.args = (exc.message,)
            raise
    if fmt == "CSV" and gdf.geometry.isna().all() and not broken:
        raise _csv_without_geometry(path, name)
    if fmt == "CSV":
        if gdf.crs is None:
            gdf = gdf.set_crs(epsg or CSV_DEFAULT_EPSG)
            if epsg is None:
                notes.append(
                    en(
                        "CSV coordinates read as WGS 84 longitude/latitude (EPSG:4326), the "
                        "convention for CSV; name the EPSG code if they are in another system"
                    )
                )
        gdf, note = vertices_to_polygons(gdf, name_field)
        if note:
            notes.append(note)
        _check_features(gdf, name, limits)
    _check_attributes(gdf, name, limits)
    names = site_names(gdf, Path(name).stem, name_field)
    descriptions = _pick(gdf, DESCRIPTION_COLUMNS)
    return Upload(
        gdf=gdf,
        format=fmt,
        names=names,
        descriptions=descriptions,
        encoding=encoding,
        notes=notes,
        geometry_errors=broken,
    )


def _read_all(
    path: Path,
    tmp: Path,
    fmt: str,
    name: str,
    limits: UploadLimits,
    *,
    layer: str | None,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, str, str | None, dict[int, str]]:
    """Unpack, read every layer asked for and check the counts: the features, the format
    read, the attribute encoding and the features whose geometry could not be parsed."""
    encoding: str | None = None
    data = path
    if fmt in {"ZIP", "KMZ"}:
        data, fmt, encoding = _unpack(path, tmp, name, limits, notes)
    if fmt in {"GeoJSON", "KML", "CSV"}:
        data = _as_utf8(data, tmp, name, notes)
        _refuse_hostile_text(data, fmt, name, limits)
    source = str(data)
    opts = CSV_OPTIONS if fmt == "CSV" else {}
    layers = _layers_to_read(source, fmt, name, layer)
    frames: list[gpd.GeoDataFrame] = []
    broken: dict[int, str] = {}
    offset = 0
    for lyr in layers:
        frame, bad = _read_layer(source, lyr, name, limits, encoding=encoding, **opts)
        if not len(frame):
            continue
        broken.update({offset + i: why for i, why in bad.items()})
        offset += len(frame)
        frames.append(frame)
    if not frames:
        raise UnreadableFile(en("{name}: the file holds no features", name=name))
    crs = frames[0].crs
    if any(f.crs != crs for f in frames[1:]):
        raise SchemaMismatch(en("{name}: its layers use different coordinate systems", name=name))
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
    if fmt != "CSV":
        _check_features(gdf, name, limits)
    vertices = int(shapely.get_num_coordinates(gdf.geometry.to_numpy()).sum())
    if vertices > limits.max_vertices:
        raise TooLarge(
            en(
                "{name}: {count} vertices; at most {most} per upload",
                name=name,
                count=number(vertices),
                most=number(limits.max_vertices),
            )
        )
    return gdf, fmt, encoding, broken


def _unpack(
    path: Path, tmp: Path, name: str, limits: UploadLimits, notes: list[str]
) -> tuple[Path, str, str | None]:
    """The dataset inside a ZIP or KMZ: its path, format and (Shapefile) attribute encoding."""
    encoding = None
    files = extract_zip(path, tmp, limits.archive)
    data = _dataset_in(tmp, files, name)
    fmt = SUFFIXES.get(data.suffix.lower(), "ESRI Shapefile")
    if data.suffix.lower() == ".shp":
        fmt = "ESRI Shapefile"
        missing = [
            s
            for s in (".shx", ".dbf")
            if not any(p.stem == data.stem and p.suffix.lower() == s for p in data.parent.iterdir())
        ]
        if missing:
            raise UnreadableFile(
                en(
                    "{name}: the Shapefile lacks {files}; zip all its files",
                    name=name,
                    files=", ".join(missing),
                )
            )
        encoding, how = dbf_encoding(data)
        notes.append(en("attribute encoding {encoding} ({how})", encoding=encoding, how=how))
    elif fmt not in {"GPKG", "FlatGeobuf"}:
        with data.open("rb") as fh:
            found = sniff(fh.read(4096))
        if found not in _EXPECTED_SNIFF[fmt]:
            raise UnreadableFile(
                en(
                    "{file} in {name}: not {format} ({found})",
                    file=data.name,
                    name=name,
                    format=fmt,
                    found=found.lower(),
                )
            )
    notes.append(en("read {file} from the archive", file=data.name))
    return data, fmt, encoding


def _layers_to_read(source: str, fmt: str, name: str, layer: str | None) -> list[str | None]:
    """The layers to read: the one named, or the only one (several only from KML)."""
    if layer is None and fmt in SINGLE_LAYER:
        layers: list[str | None] = [None]  # no need to open the file once more to list them
    else:
        layers = list(_layers(source, name))
    if not layers:
        raise UnreadableFile(en("{name}: holds no vector layer", name=name))
    if layer is not None:
        if layer not in layers:
            raise SchemaMismatch(
                en(
                    "{name}: no layer {layer}; it has {layers}",
                    name=name,
                    layer=repr(layer),
                    layers=", ".join(map(str, layers)),
                )
            )
        layers = [layer]
    if len(layers) > 1 and fmt != "KML":
        raise SchemaMismatch(
            en(
                "{name} holds several layers ({layers}); name the one to read",
                name=name,
                layers=", ".join(map(str, layers)),
            )
        )
    return layers


def _check_features(gdf: gpd.GeoDataFrame, name: str, limits: UploadLimits) -> None:
    if len(gdf) > limits.max_features:
        raise TooLarge(
            en(
                "{name}: {count} features; at most {most} per upload",
                name=name,
                count=number(len(gdf)),
                most=number(limits.max_features),
            )
        )


def _check_attributes(gdf: gpd.GeoDataFrame, name: str, limits: UploadLimits) -> None:
    for col in gdf.columns:
        if col == gdf.geometry.name or gdf[col].dtype != object:
            continue
        lengths = gdf[col].map(lambda v: len(v) if isinstance(v, str | bytes) else 0)
        if len(lengths) and int(lengths.max()) > limits.max_attribute_chars:
            row = int(np.argmax(lengths.to_numpy()))
            raise TooLarge(
                en(
                    "{name}: attribute {attribute} of feature {feature} holds {count} "
                    "characters; at most {most}",
                    name=name,
                    attribute=repr(str(col)[:60]),
                    feature=row + 1,
                    count=number(int(lengths.max())),
                    most=number(limits.max_attribute_chars),
                )
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
    note = en(
        "built {polygons} polygon(s) from {points} boundary points grouped by name",
        polygons=int((counts >= 3).sum()),
        points=int(counts[counts >= 3].sum()),
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
            raise SchemaMismatch(
                en("no attribute {field}; the file has: {have}", field=repr(name_field), have=have)
            )
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
