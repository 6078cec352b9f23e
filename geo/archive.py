"""Safe handling of uploaded archives (zipped Shapefiles, KMZ, zipped GeoPackages...).

A zip is checked twice: first from its central directory (number of members, names, declared
sizes and compression ratios), then while extracting, because the directory can lie: the bytes
actually written are counted and extraction stops as soon as a limit is passed.

Examples
--------
>>> import io, zipfile, tempfile, pathlib
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as z:
...     z.writestr("sites.geojson", '{"type": "FeatureCollection", "features": []}')
>>> with tempfile.TemporaryDirectory() as d:
...     [p.name for p in extract_zip(buf, pathlib.Path(d), ArchiveLimits())]
['sites.geojson']
"""

from __future__ import annotations

import re
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from geo.errors import InvalidInput, TooLarge, UnreadableFile
from geo.messages import en, number

CHUNK = 1 << 16
_ROOTS = "tmp|var|work|home|root|usr|etc|opt|srv|run|proc|dev|mnt|private|vsi[a-z]+"
_ABSOLUTE = re.compile(rf"(?<![\w.])/(?:{_ROOTS})(?:/[^\s'\",:;()\[\]]*)?")


def redact_paths(text: str, known: Mapping[str, str] | None = None) -> str:
    """``text`` without server paths: each of ``known`` (path -> what to say instead) is
    replaced, then any other absolute path (``/tmp/...``, ``/vsizip/...``) becomes ``(file)``.

    >>> redact_paths("'/tmp/irbis-upload-x/upload.gpkg' not recognized", {"/tmp/irbis-upload-x": "a.zip"})
    "'a.zip/upload.gpkg' not recognized"
    >>> redact_paths("cannot open /var/lib/irbis/x.shp: no such file")
    'cannot open (file): no such file'
    """
    known = dict(known or {})
    known.setdefault(tempfile.gettempdir(), "(file)")
    for path in sorted(known, key=len, reverse=True):
        if path:
            text = text.replace("/vsizip/" + path, known[path]).replace(path, known[path])
    return _ABSOLUTE.sub("(file)", text)


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits on what an archive may unpack to."""

    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_members: int = 1000
    #: Members smaller than this are not held to the ratio (tiny files compress oddly).
    ratio_floor_bytes: int = 1024 * 1024


def _safe_member_name(name: str) -> PurePosixPath:
    """The relative path of a member, or an error for names that escape the folder."""
    if "\x00" in name:
        raise InvalidInput(en("archive member name {name} contains a NUL byte", name=repr(name)))
    norm = name.replace("\\", "/")
    path = PurePosixPath(norm)
    if (
        norm.startswith("/")
        or (len(norm) > 1 and norm[1] == ":")
        or any(part == ".." for part in path.parts)
    ):
        raise InvalidInput(
            en(
                "archive member {name} points outside the archive (path traversal); "
                "nothing was extracted",
                name=repr(name),
            )
        )
    return path


def check_zip(zf: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Check a zip's directory against ``limits``; return the members to extract (files only).

    Raises
    ------
    InvalidInput
        A member name escapes the archive folder, or a member is a symbolic link.
    TooLarge
        Too many members, too many bytes declared, or a suspicious compression ratio.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise TooLarge(
            en(
                "the archive has {count} members; at most {most}",
                count=len(infos),
                most=limits.max_members,
            )
        )
    total = 0
    files = []
    for info in infos:
        _safe_member_name(info.filename)
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            raise InvalidInput(
                en("archive member {name} is a symbolic link", name=repr(info.filename))
            )
        if info.is_dir():
            continue
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise TooLarge(
                en(
                    "the archive unpacks to more than {most} bytes",
                    most=number(limits.max_uncompressed_bytes),
                )
            )
        if info.file_size > limits.ratio_floor_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                raise TooLarge(
                    en(
                        "archive member {name} is compressed {ratio}:1 (at most {most}:1): "
                        "refused as a zip bomb",
                        name=repr(info.filename),
                        ratio=number(round(ratio)),
                        most=number(round(limits.max_compression_ratio)),
                    )
                )
        files.append(info)
    return files


def extract_zip(source: str | Path | IO[bytes], dest: Path, limits: ArchiveLimits) -> list[Path]:
    """Extract a zip into ``dest`` safely; return the paths of the files written.

    Nested folders are kept (inside ``dest``); nested archives are not opened.
    """
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UnreadableFile(
            en("not a readable zip archive ({reason})", reason=redact_paths(str(exc))[:200])
        ) from exc
    written: list[Path] = []
    total = 0
    root = dest.resolve()
    with zf:
        for info in check_zip(zf, limits):
            rel = _safe_member_name(info.filename)
            target = (root / Path(*rel.parts)).resolve()
            if root not in target.parents:
                raise InvalidInput(
                    en(
                        "archive member {name} points outside the archive",
                        name=repr(info.filename),
                    )
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > info.file_size:
                            raise TooLarge(
                                en(
                                    "archive member {name} unpacks to more than the {size} "
                                    "bytes its directory declares",
                                    name=repr(info.filename),
                                    size=number(info.file_size),
                                )
                            )
                        if total > limits.max_uncompressed_bytes:
                            raise TooLarge(
                                en(
                                    "the archive unpacks to more than {most} bytes",
                                    most=number(limits.max_uncompressed_bytes),
                                )
                            )
                        if (
                            size > limits.ratio_floor_bytes
                            and size / max(info.compress_size, 1) > limits.max_compression_ratio
                        ):
                            raise TooLarge(
                                en(
                                    "archive member {name} expands more than {most}:1: "
                                    "refused as a zip bomb",
                                    name=repr(info.filename),
                                    most=number(round(limits.max_compression_ratio)),
                                )
                            )
                        out.write(chunk)
            except (
                zipfile.BadZipFile,
                EOFError,
                OSError,
                ValueError,
                RuntimeError,
                NotImplementedError,
            ) as exc:
                why = redact_paths(str(exc), {str(root): "the archive"})[:200]
                raise UnreadableFile(
                    en(
                        "archive member {name} is damaged or truncated ({reason})",
                        name=repr(info.filename),
                        reason=why,
                    )
                ) from exc
            written.append(target)
    return written
