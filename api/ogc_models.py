"""The documents of Irbis's OGC APIs as pydantic models, for the OpenAPI description.

Routes build their JSON with :mod:`layers` (one pass, orjson, geometries spliced in unparsed)
and declare these models as their documented responses, so ``/api`` describes every OGC
response and the tests validate served bodies against that description. The models follow
OGC API Common, Features (Parts 1 and 3) and Tiles; members the standards leave open are
allowed (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from morecantile.models import TileMatrixSet as TileMatrixSet  # the standard's own model

from layers.links import GEOJSON, HTML, SCHEMA_JSON, STYLE_JSON


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(_Open):
    """A web link (OGC API Common): where, what it is to this document, its media type."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None
    templated: bool | None = None


class LandingPage(_Open):
    title: str
    description: str | None = None
    links: list[Link]


class Conformance(_Open):
    conformsTo: list[str]


class SpatialExtent(_Open):
    bbox: list[list[float]] = Field(min_length=1)
    crs: str


class TemporalExtent(_Open):
    interval: list[list[str | None]]
    trs: str | None = None


class Extent(_Open):
    spatial: SpatialExtent | None = None
    temporal: TemporalExtent | None = None


class Collection(_Open):
    id: str
    title: str | None = None
    description: str | None = None
    keywords: list[str] = []
    itemType: str = "feature"
    crs: list[str] = []
    storageCrs: str | None = None
    extent: Extent | None = None
    links: list[Link]


class Collections(_Open):
    links: list[Link]
    collections: list[Collection]


class Queryables(_Open):
    """A JSON Schema of the properties a filter may use (OGC API Features Part 3)."""

    schema_: str = Field(alias="$schema")
    id_: str = Field(alias="$id")
    type: Literal["object"]
    title: str | None = None
    properties: dict[str, dict[str, Any]]
    additionalProperties: bool


class Feature(_Open):
    type: Literal["Feature"]
    id: int | str
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None
    links: list[Link] | None = None


class FeatureCollection(_Open):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int | None = Field(default=None, ge=0)
    numberReturned: int = Field(ge=0)
    timeStamp: str | None = None
    links: list[Link]


class TileMatrixSetRef(_Open):
    id: str
    title: str | None = None
    uri: str | None = None
    links: list[Link]


class TileMatrixSets(_Open):
    tileMatrixSets: list[TileMatrixSetRef]


class TileSetRef(_Open):
    title: str | None = None
    dataType: Literal["vector", "map", "coverage"]
    crs: str
    tileMatrixSetURI: str | None = None
    links: list[Link]


class TileSets(_Open):
    tilesets: list[TileSetRef]


class TileSet(TileSetRef):
    """Tileset metadata (OGC API Tiles, ``tileset.json``)."""


class TileJSON(_Open):
    tilejson: str
    tiles: list[str] = Field(min_length=1)
    name: str | None = None
    minzoom: int | None = None
    maxzoom: int | None = None
    bounds: list[float] | None = None


class Style(_Open):
    """A MapLibre style (spec version 8)."""

    version: Literal[8]
    name: str | None = None
    sources: dict[str, dict[str, Any]]
    layers: list[dict[str, Any]]


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


class SchemaJSONResponse(JSONResponse):
    media_type = SCHEMA_JSON


class StyleJSONResponse(JSONResponse):
    media_type = STYLE_JSON


def documented(model: type[BaseModel], *, html: bool = True) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose 200 is ``model`` (and an HTML page when asked)."""
    content: dict[str, Any] = {HTML: {"schema": {"type": "string"}}} if html else {}
    return {200: {"model": model, "content": content}}
