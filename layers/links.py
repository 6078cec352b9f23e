"""Links of the OGC API documents (RFC 8288 web links as OGC API Common writes them).

Every ``links`` member Irbis serves is built here, so a link always has ``rel``, ``type``,
``title`` and an absolute ``href``.

>>> link("https://irbis.example/collections", "data", JSON, "Collections")["rel"]
'data'
>>> [l["rel"] for l in self_and_alternate("https://irbis.example/conformance", "Conformance")]
['self', 'alternate']
"""

from __future__ import annotations

from typing import TypedDict

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
STYLE_JSON = "application/vnd.mapbox.style+json"
MVT = "application/vnd.mapbox-vector-tile"

#: OGC link relations used by Irbis (http://www.opengis.net/def/rel/ogc/1.0/...).
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
QUERYABLES = OGC_REL + "queryables"
TILESETS_VECTOR = OGC_REL + "tilesets-vector"
TILING_SCHEMES = OGC_REL + "tiling-schemes"


class Link(TypedDict):
    rel: str
    type: str
    title: str
    href: str


def link(href: str, rel: str, media_type: str, title: str) -> Link:
    """One link."""
    return {"rel": rel, "type": media_type, "title": title, "href": href}


def self_and_alternate(
    href: str, title: str, *, media_type: str = JSON, f: str = "json", html_title: str = ""
) -> list[Link]:
    """The document itself (``?f=<f>``) and its HTML page (``?f=html``)."""
    sep = "&" if "?" in href else "?"
    return [
        link(f"{href}{sep}f={f}", "self", media_type, title),
        link(f"{href}{sep}f=html", "alternate", HTML, html_title or title),
    ]
