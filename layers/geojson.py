"""GeoJSON documents for OGC API Features: features, feature collections, paging links.

Geometries arrive from PostGIS as GeoJSON text and are spliced in unparsed
(``orjson.Fragment``), so a page of features is serialised once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

from layers.links import GEOJSON, HTML, Link, link
from layers.spec import Column
from layers.sql import row_properties


def feature(row: Any, cols: tuple[Column, ...], links: list[Link] | None = None) -> dict[str, Any]:
    """One feature from a row of :meth:`layers.sql.LayerSQL.items`."""
    geom = row._mapping["geojson"]
    f: dict[str, Any] = {
        "type": "Feature",
        "id": row._mapping["fid"],
        "geometry": orjson.Fragment(geom) if geom is not None else None,
        "properties": row_properties(row, cols),
    }
    if links:
        f["links"] = links
    return f


def page_links(
    url: str,
    query: Sequence[tuple[str, str]],
    *,
    offset: int,
    limit: int,
    returned: int,
    matched: int | None,
) -> list[Link]:
    """self, next and prev links of a page of items (``query`` without limit/offset)."""

    def href(off: int, f: str | None = None) -> str:
        q = [(k, v) for k, v in query if k not in ("offset", "limit", "f")]
        q += [("limit", str(limit)), ("offset", str(off))]
        if f:
            q.append(("f", f))
        return f"{url}?{urlencode(q)}"

    links: list[Link] = [
        link(href(offset, "geojson"), "self", GEOJSON, "This page"),
        link(href(offset, "html"), "alternate", HTML, "This page as HTML"),
    ]
    more = offset + returned < matched if matched is not None else returned == limit
    if more and returned > 0:
        links.append(link(href(offset + limit, "geojson"), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(
            link(href(max(0, offset - limit), "geojson"), "prev", GEOJSON, "Previous page")
        )
    return links


def feature_collection(
    rows: Iterable[Any],
    cols: tuple[Column, ...],
    *,
    matched: int | None,
    links: list[Link],
) -> dict[str, Any]:
    feats = [feature(r, cols) for r in rows]
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
    if matched is not None:
        doc["numberMatched"] = matched
    doc["numberReturned"] = len(feats)
    doc["timeStamp"] = (
        dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )
    doc["links"] = links
    return doc


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)
