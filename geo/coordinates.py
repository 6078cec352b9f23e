"""Coordinates as people type or paste them: decimal degrees, degrees-minutes-seconds, UTM.

>>> parse_coordinates("43.2567, 76.9286")
(76.9286, 43.2567)
>>> parse_coordinates("43°15'24\\"N 76°55'43\\"E")
(76.92861111111111, 43.25666666666667)

Latitude comes first unless the hemispheres say otherwise (``76.9E 43.2N``). UTM is a zone
with its latitude band or hemisphere letter, then easting and northing in metres
(``43T 581234 4789012``, ``UTM 43N 581234 4789012``); bands N to X are north of the equator.
The UTM projection is pyproj's (WGS 84 / UTM, EPSG:326xx and 327xx).
"""

from __future__ import annotations

import math
import re

from pyproj import Transformer

from geo.errors import InvalidInput

EXAMPLES = "43.2567, 76.9286 · 43°15'24\"N 76°55'43\"E · 43T 581234 4789012"

_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_UTM = re.compile(
    rf"^(?P<utm>utm\s*)?(?:zone\s*)?(?P<zone>\d{{1,2}})\s*(?P<band>[c-hj-np-x])?\s+"
    rf"(?P<e>{_NUMBER})\s*(?:m\b)?\s*(?:e\b)?\s*[,;\s]\s*(?P<n>{_NUMBER})\s*(?:m\b)?\s*(?:n\b)?$",
    re.IGNORECASE,
)
# one coordinate: degrees, optional minutes and seconds, optional hemisphere before or after
_PART = re.compile(
    rf"(?P<pre>[NSEW])?\s*(?P<d>{_NUMBER})\s*(?:°|º|deg|d\b)?\s*"
    rf"(?:(?P<m>{_NUMBER})\s*(?:'|′|’|min|m\b)\s*)?"
    rf"(?:(?P<s>{_NUMBER})\s*(?:\"|″|”|''|sec|s\b)\s*)?"
    rf"(?P<post>[NSEW](?![a-z]))?",
    re.IGNORECASE,
)


def _float(text: str) -> float:
    return float(text.replace(",", "."))


def _utm(zone: int, band: str | None, easting: float, northing: float) -> tuple[float, float]:
    if not 1 <= zone <= 60:
        raise InvalidInput(f"UTM zone {zone} does not exist: zones run from 1 to 60")
    if not 100_000 <= easting <= 900_000:
        raise InvalidInput(f"the easting {easting:.0f} m is not in a UTM zone (100000 to 900000 m)")
    if not 0 <= northing <= 10_000_000:
        raise InvalidInput(f"the northing {northing:.0f} m is not in a UTM zone (0 to 10000000 m)")
    south = band is not None and band.upper() < "N"
    epsg = (32700 if south else 32600) + zone
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(easting, northing)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInput("these UTM coordinates are not a place on Earth")
    return lon, lat


def _parts(text: str) -> list[tuple[float, str | None]]:
    """The coordinates in ``text`` as (signed degrees, hemisphere letter or None)."""
    parts: list[tuple[float, str | None]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        while pos < len(text) and text[pos] in " ,;\t/":
            pos += 1
        if pos >= len(text):
            break
        m = _PART.match(text, pos)
        if not m or m.end() == pos or m.group("d") is None:
            raise InvalidInput(f"cannot read {text[pos:]!r} as a coordinate")
        end = m.end()
        post = m.group("post")
        if m.group("pre") and post:  # "N43 E76": the E begins the next coordinate
            end, post = m.start("post"), None
        degrees = _float(m.group("d"))
        minutes = _float(m.group("m")) if m.group("m") else 0.0
        seconds = _float(m.group("s")) if m.group("s") else 0.0
        if minutes >= 60 or seconds >= 60 or minutes < 0 or seconds < 0:
            raise InvalidInput(f"{m.group(0).strip()!r}: minutes and seconds must be under 60")
        if (m.group("m") or m.group("s")) and not degrees.is_integer():
            raise InvalidInput(f"{m.group(0).strip()!r}: degrees with minutes must be whole")
        value = abs(degrees) + minutes / 60 + seconds / 3600
        sign = -1.0 if degrees < 0 or str(m.group("d")).startswith("-") else 1.0
        hemi = (m.group("pre") or post or "").upper() or None
        if hemi in ("S", "W"):
            sign = -1.0
        parts.append((sign * value, hemi))
        pos = end
    return parts


def parse_coordinates(text: str) -> tuple[float, float]:
    """``text`` as (longitude, latitude) in WGS 84, or :class:`InvalidInput` saying why not."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("no coordinates given")
    if len(text) > 200:
        raise InvalidInput("coordinates are at most 200 characters")
    utm = _UTM.match(text)
    if utm and (utm.group("utm") or utm.group("band")):
        return _utm(
            int(utm.group("zone")),
            utm.group("band"),
            _float(utm.group("e")),
            _float(utm.group("n")),
        )
    try:
        parts = _parts(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message}; write for example {EXAMPLES}") from None
    if len(parts) != 2:
        raise InvalidInput(f"give a latitude and a longitude; for example {EXAMPLES}")
    (a, ha), (b, hb) = parts
    if ha in ("E", "W") or hb in ("N", "S"):
        if ha in ("N", "S") or hb in ("E", "W"):
            raise InvalidInput("both coordinates name the same axis (N/S or E/W)")
        a, b = b, a  # written longitude first
    lat, lon = a, b
    if not -90 <= lat <= 90:
        raise InvalidInput(f"the latitude {lat:g} is not between -90 and 90")
    if not -180 <= lon <= 180:
        raise InvalidInput(f"the longitude {lon:g} is not between -180 and 180")
    return lon, lat
