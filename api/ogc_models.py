"""The documents of Irbis's OGC APIs as pydantic models, for the OpenAPI description.

Routes build their JSON with :mod:`layers` (one pass, orjson, geometries spliced in unparsed)
and declare these models as their documented responses, so ``/api`` describes every OGC
response and the tests validate served bodies against that description. The models follow
OGC API Common, Features (Parts 1 and 3) and Tiles; members the standards leave open are
allowed (``extra="allow"``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from morecantile.models import TileMatrixSet as TileMatrixSet  # the standard's own model

from layers.links import GEOJSON, HTML, JSON, SCHEMA_JSON, STYLE_JSON


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(_Open):
    """A web link (OGC API Common): where, what it is to this document, its media type and
    title (every link Irbis serves has them: :mod:`layers.links`)."""

    href: str
    rel: str
    type: str
    title: str
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


#: A position: longitude, latitude (CRS84) and perhaps a height.
Position = Annotated[list[float], Field(min_length=2, max_length=3)]


class Point(_Open):
    type: Literal["Point"]
    coordinates: Position


class MultiPoint(_Open):
    type: Literal["MultiPoint"]
    coordinates: list[Position]


class LineString(_Open):
    type: Literal["LineString"]
    coordinates: list[Position] = Field(min_length=2)


class MultiLineString(_Open):
    type: Literal["MultiLineString"]
    coordinates: list[Annotated[list[Position], Field(min_length=2)]]


class Polygon(_Open):
    type: Literal["Polygon"]
    coordinates: list[Annotated[list[Position], Field(min_length=4)]]


class MultiPolygon(_Open):
    type: Literal["MultiPolygon"]
    coordinates: list[list[Annotated[list[Position], Field(min_length=4)]]]


class GeometryCollection(_Open):
    type: Literal["GeometryCollection"]
    geometries: list[Geometry]


#: A GeoJSON geometry (RFC 7946), told apart by its ``type``.
Geometry = Annotated[
    Point | MultiPoint | LineString | MultiLineString | Polygon | MultiPolygon | GeometryCollection,
    Field(discriminator="type"),
]


class Feature(_Open):
    type: Literal["Feature"]
    id: int | str
    geometry: Geometry | None
    properties: dict[str, Any] | None
    links: list[Link] | None = None


class FeatureFile(_Open):
    """A downloaded GeoJSON file: the features, without paging."""

    type: Literal["FeatureCollection"]
    features: list[Feature]


class FeatureCollection(FeatureFile):
    """A page of features (OGC API Features)."""

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


class BoundingBox(_Open):
    lowerLeft: list[float] = Field(min_length=2, max_length=2)
    upperRight: list[float] = Field(min_length=2, max_length=2)
    crs: str | None = None


class PropertiesSchema(_Open):
    """The JSON Schema of the properties a tile's features carry."""

    type: Literal["object"]
    properties: dict[str, dict[str, Any]]


class GeoDataLayer(_Open):
    """One layer of a vector tileset: a collection, its geometry and its zoom levels."""

    id: str
    title: str | None = None
    dataType: Literal["vector", "map", "coverage"]
    geometryDimension: int | None = Field(default=None, ge=0, le=3)
    minTileMatrix: str | None = None
    maxTileMatrix: str | None = None
    propertiesSchema: PropertiesSchema | None = None


class TileSet(TileSetRef):
    """Tileset metadata (OGC API Tiles, ``tileset.json``)."""

    boundingBox: BoundingBox | None = None
    layers: list[GeoDataLayer] | None = None


class VectorLayer(_Open):
    """A layer of a vector tile (TileJSON 3.0): its id, its fields and their labels."""

    id: str
    fields: dict[str, str]
    description: str | None = None
    minzoom: int | None = Field(default=None, ge=0, le=30)
    maxzoom: int | None = Field(default=None, ge=0, le=30)


class TileJSON(_Open):
    """TileJSON 3.0: where a tileset's tiles are; ``vector_layers`` for vector tiles."""

    tilejson: str
    tiles: list[str] = Field(min_length=1)
    name: str | None = None
    description: str | None = None
    attribution: str | None = None
    scheme: Literal["xyz", "tms"] | None = None
    minzoom: int | None = Field(default=None, ge=0, le=30)
    maxzoom: int | None = Field(default=None, ge=0, le=30)
    bounds: list[float] | None = Field(default=None, min_length=4, max_length=4)
    center: list[float] | None = Field(default=None, min_length=3, max_length=3)
    vector_layers: list[VectorLayer] | None = None


class Raster(_Open):
    """A registered raster (or the relief of every DEM) and its tile URL template."""

    id: str
    title: str
    kind: str
    styles: list[str]
    tiles: str
    source: str | None = None
    licence: str | None = None
    method: str | None = None
    bounds: list[float] | None = Field(default=None, min_length=4, max_length=4)


class Rasters(_Open):
    rasters: list[Raster]


class StyleSource(_Open):
    """A source of a MapLibre style: Irbis's vector tiles, through their TileJSON."""

    type: Literal["vector", "raster", "raster-dem", "geojson", "image", "video"]
    url: str | None = None


class StyleLayer(_Open):
    """A layer of a MapLibre style: what it draws, from which source, and how (``paint``,
    ``layout`` and ``filter`` as the style specification has them)."""

    id: str
    type: Literal[
        "background", "fill", "line", "symbol", "circle", "heatmap", "fill-extrusion",
        "raster", "hillshade",
    ]  # fmt: skip
    source: str | None = None
    minzoom: float | None = Field(default=None, ge=0, le=24)
    maxzoom: float | None = Field(default=None, ge=0, le=24)
    paint: dict[str, Any] | None = None
    layout: dict[str, Any] | None = None


class Style(_Open):
    """A MapLibre style (spec version 8)."""

    version: Literal[8]
    name: str | None = None
    sources: dict[str, StyleSource]
    layers: list[StyleLayer]


class OGCException(_Open):
    """An error (OGC API Common's exception schema): a code, what to do about it in English,
    and for some errors structured details (which field, which units)."""

    code: str
    description: str
    details: dict[str, Any] | None = None


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


class SchemaJSONResponse(JSONResponse):
    media_type = SCHEMA_JSON


class StyleJSONResponse(JSONResponse):
    media_type = STYLE_JSON


#: A body that is not text (a tile, a GeoPackage).
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
#: An HTML page (the ``f=html`` alternate of a document, or an error page for a browser).
_PAGE = {HTML: {"schema": {"type": "string"}}}
_STATUSES: dict[int | str, str] = {
    400: "A parameter cannot be used: the description says which and why",
    404: "No such collection, feature, tile matrix set or raster",
    "default": "Another error: 401 (a bad token), 413 (too many features to download), 429 "
    "(too many requests, with Retry-After), 503 (the database is unavailable, with "
    "Retry-After) or 500",
}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Not modified: the ETag given in If-None-Match is current",
        "headers": {"ETag": {"schema": {"type": "string"}}},
    }
}


def errors(media_type: str | None = JSON) -> dict[int | str, dict[str, Any]]:
    """The error answers of an OGC route: an :class:`OGCException` as JSON, or a page when a
    browser asks. FastAPI documents a response's ``model`` in the route's media type
    (``media_type``; JSON when the route names none), so a route serving another type (GeoJSON,
    a style) refers to the component instead, which the JSON routes register."""
    if media_type in (None, JSON):
        error: dict[str, Any] = {"model": OGCException, "content": _PAGE}
    else:
        ref = {"$ref": "#/components/schemas/OGCException"}
        error = {"content": {JSON: {"schema": ref}, **_PAGE}}
    return {status: {**error, "description": text} for status, text in _STATUSES.items()}


def documented(
    model: type[BaseModel] | None = None,
    *,
    media_type: str | None = JSON,
    html: bool = True,
    cached: bool = False,
    content: dict[str, Any] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an OGC route whose response class serves ``media_type``: its 200 is
    ``model`` (and an HTML page when ``html``), or ``content`` for a body that is not JSON
    (tiles, files); a 304 when it answers conditional requests (``cached``); its errors."""
    ok: dict[str, Any] = {"content": {**(_PAGE if html else {}), **(content or {})}}
    if model is not None:
        ok["model"] = model
    return {200: ok, **(NOT_MODIFIED if cached else {}), **errors(media_type)}
