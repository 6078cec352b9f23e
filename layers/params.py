"""Parsing and checking of query parameters shared by features, tiles and downloads.

Pure functions: strings in, typed values out, :class:`~geo.errors.InvalidInput` on anything
that cannot be used, with a message a person can act on.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from geo.errors import InvalidInput

BBox = tuple[float, float, float, float]


def parse_bbox(value: str | None) -> BBox | None:
    """``minx,miny,maxx,maxy`` (or with heights, 6 numbers) in CRS84 degrees.

    Examples
    --------
    >>> parse_bbox("76.8,43.0,77.2,43.3")
    (76.8, 43.0, 77.2, 43.3)
    """
    if value is None or value == "":
        return None
    parts = value.split(",")
    if len(parts) not in (4, 6):
        raise InvalidInput(
            f"bbox must be 4 numbers minx,miny,maxx,maxy (or 6 with heights), got {value!r}"
        )
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"bbox must hold numbers only, got {value!r}") from None
    if not all(math.isfinite(n) for n in nums):
        raise InvalidInput("bbox numbers must be finite")
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    minx, miny, maxx, maxy = nums
    for x in (minx, maxx):
        if not -180 <= x <= 180:
            raise InvalidInput(f"bbox longitude {x} is outside -180..180")
    for y in (miny, maxy):
        if not -90 <= y <= 90:
            raise InvalidInput(f"bbox latitude {y} is outside -90..90")
    if miny > maxy:
        raise InvalidInput("bbox miny is greater than maxy")
    return minx, miny, maxx, maxy


def bbox_parts(bbox: BBox) -> list[BBox]:
    """A bbox split at the antimeridian when ``minx > maxx`` (as OGC API allows)."""
    minx, miny, maxx, maxy = bbox
    if minx <= maxx:
        return [bbox]
    return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]


@dataclass(frozen=True)
class Interval:
    """A closed-open time interval; ``None`` ends are open."""

    start: dt.datetime | None
    end: dt.datetime | None
    #: ``end`` is inclusive (an instant or an explicit interval end).
    end_inclusive: bool = True


def _instant(text: str) -> tuple[dt.datetime, bool]:
    """Parse an RFC 3339 date-time or a date; returns (value, is_date)."""
    t = text.strip()
    try:
        if len(t) == 10:
            d = dt.date.fromisoformat(t)
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC), True
        value = dt.datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"datetime {text!r} is not an RFC 3339 date-time (2020-01-31T12:00:00Z) or date"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value, False


def parse_datetime(value: str | None) -> Interval | None:
    """An OGC API ``datetime``: an instant, a date, or ``start/end`` with ``..`` open ends."""
    if value is None or value == "":
        return None
    if "/" in value:
        a, _, b = value.partition("/")
        if "/" in b:
            raise InvalidInput(f"datetime {value!r} has more than one '/'")
        start = None if a in ("", "..") else _instant(a)[0]
        end: dt.datetime | None = None
        inclusive = True
        if b not in ("", ".."):
            end, is_date = _instant(b)
            if is_date:  # a date end covers the whole day
                end = end + dt.timedelta(days=1)
                inclusive = False
        if start is None and end is None:
            raise InvalidInput("datetime '../..' has no bound at all")
        if start is not None and end is not None and start > end:
            raise InvalidInput(f"datetime interval {value!r} ends before it starts")
        return Interval(start, end, inclusive)
    instant, is_date = _instant(value)
    if is_date:
        return Interval(instant, instant + dt.timedelta(days=1), end_inclusive=False)
    return Interval(instant, instant, end_inclusive=True)


def parse_properties(value: str | None, allowed: list[str]) -> list[str] | None:
    """``properties=a,b``: a subset of the allowed property names, in the order given."""
    if value is None:
        return None
    names = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InvalidInput(
            f"unknown properties {', '.join(map(repr, unknown))}; "
            f"this collection has: {', '.join(allowed)}"
        )
    return names


#: At most this many ``sortby`` keys (each one is an ORDER BY term over the whole collection).
MAX_SORT_KEYS = 3


def parse_sortby(value: str | None) -> tuple[tuple[str, bool], ...]:
    """``sortby=name,-area,+status`` (OGC API Features Part 8, Records): property names,
    ``-`` for descending, ``+`` or nothing for ascending; names are checked by the layer.

    >>> parse_sortby("-area_ha,name")
    (('area_ha', True), ('name', False))
    """
    if value is None or not value.strip():
        return ()
    keys: list[tuple[str, bool]] = []
    for raw in value.split(","):
        part = raw.strip()
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if not name or name == "geometry":
            raise InvalidInput(
                f"sortby takes property names separated by commas, each optionally after + or -"
                f" (for example sortby=-area_ha,name), not {value!r}"
            )
        if any(n == name for n, _ in keys):
            raise InvalidInput(f"sortby names {name!r} twice")
        keys.append((name, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise InvalidInput(f"sortby takes at most {MAX_SORT_KEYS} properties")
    return tuple(keys)


def check_limit(limit: int, max_limit: int) -> int:
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    if limit > max_limit:
        raise InvalidInput(f"limit must be at most {max_limit}")
    return limit
