"""OGC API – Features (Part 1 core, GeoJSON, HTML, OpenAPI 3.0; Part 3 filtering).

JSON for machines, HTML for people (``f=`` or the Accept header). The landing page itself
is ``/`` (see :mod:`api.routers.pages`), which answers JSON to ``f=json`` or
``Accept: application/json``, so a GIS client needs only the one URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Connection

from api import ogc
from api import ogc_models as m
from api.deps import ReaderDep, get_reader_engine
from api.ogc import (
    BBoxDep,
    DatetimeDep,
    FilterDep,
    PaginationDep,
    ViewDep,
    wants_html,
)
from api.ogc_models import documented
from api.templating import render
from geo.crs import REGION_BOUNDS
from geo.errors import NotFound
from layers import geojson, params
from layers.links import (
    GEOJSON,
    HTML,
    JSON,
    OPENAPI,
    QUERYABLES,
    SCHEMA_JSON,
    STYLE_JSON,
    TILESETS_VECTOR,
    TILING_SCHEMES,
    link,
    self_and_alternate,
)
from layers.registry import layers
from layers.spec import JSON_SCHEMA
from layers.sql import LayerSQL, parse_feature_id
from layers.sql import Query as ItemsQuery

router = APIRouter(tags=["OGC API Features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: The CRS of the coordinates in a GeoJSON answer, as OGC API Features Part 2 states it
#: (GDAL reads it rather than assume).
CONTENT_CRS = {"Content-Crs": f"<{CRS84}>"}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]

FMT = Annotated[str | None, Query(description="json / geojson or html")]


def landing_document(request: Request) -> dict[str, Any]:
    """The OGC API landing page as JSON (served at ``/`` by content negotiation)."""
    base = ogc.base_url(request)
    settings = request.app.state.settings
    return {
        "title": settings.api.title,
        "description": (
            "Irbis: conservation monitoring for Central Asia (snow leopard, goitered gazelle, "
            "protected areas, threats, grants). OGC API Features and Tiles."
        ),
        "links": [
            link(f"{base}/?f=json", "self", JSON, "This document"),
            link(f"{base}/", "alternate", HTML, "Home page"),
            link(f"{base}/api", "service-desc", OPENAPI, "OpenAPI"),
            link(f"{base}/api.html", "service-doc", HTML, "API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{base}/collections", "data", JSON, "Collections"),
            link(f"{base}/tileMatrixSets", TILING_SCHEMES, JSON, "Tile matrix sets"),
            link(f"{base}/tiles", TILESETS_VECTOR, JSON, "Vector tiles: every collection in one"),
        ],
    }


@router.get("/conformance", summary="Conformance classes", responses=documented(m.Conformance))
def conformance(request: Request, f: FMT = None) -> Response:
    if wants_html(request, f):
        return render(request, "ogc_conformance.html", classes=CONFORMANCE)
    return Response(geojson.dumps({"conformsTo": CONFORMANCE}), media_type=ogc.JSON)


def _extent(conn: Connection, view: LayerSQL) -> dict[str, Any]:
    row = conn.execute(view.extent()).first()
    out: dict[str, Any] = {}
    if row is not None and row.xmin is not None:
        out["spatial"] = {
            "bbox": [
                [round(row.xmin, 6), round(row.ymin, 6), round(row.xmax, 6), round(row.ymax, 6)]
            ],
            "crs": CRS84,
        }
    else:
        out["spatial"] = {"bbox": [list(REGION_BOUNDS)], "crs": CRS84}
    if view.spec.datetime_column:
        m = row._mapping if row is not None else {}
        tmin, tmax = m.get("tmin"), m.get("tmax")
        out["temporal"] = {
            "interval": [[tmin.isoformat() if tmin else None, tmax.isoformat() if tmax else None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return out


def collection_document(
    request: Request, conn: Connection, view: LayerSQL, *, with_extent: bool = True
) -> dict[str, Any]:
    spec = view.spec
    base = ogc.base_url(request)
    href = f"{base}/collections/{spec.id}"
    doc: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "keywords": list(spec.keywords),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            *self_and_alternate(href, spec.title),
            link(f"{href}/items?f=geojson", "items", GEOJSON, "Features"),
            link(f"{href}/items?f=html", "items", HTML, "Features as HTML"),
            link(f"{href}/queryables", QUERYABLES, SCHEMA_JSON, "Queryables"),
            link(f"{href}/tiles", TILESETS_VECTOR, JSON, "Vector tiles"),
            link(f"{href}/map", "describedby", HTML, "Map"),
            link(f"{href}/styles/default", "stylesheet", STYLE_JSON, "MapLibre style"),
            *[
                link(f"{href}/download?format={fmt}", "enclosure", media, f"Download as {label}")
                for fmt, label, media in (
                    ("geojson", "GeoJSON", GEOJSON),
                    ("gpkg", "GeoPackage", "application/geopackage+sqlite3"),
                    ("csv", "CSV (WKT geometry)", "text/csv"),
                )
            ],
        ],
    }
    if with_extent:
        doc["extent"] = _extent(conn, view)
    return doc


def _views(request: Request) -> list[LayerSQL]:
    from api.auth.principal import get_principal

    principal = get_principal(request)
    cell = request.app.state.settings.features.sensitive_cell_deg
    return [LayerSQL(s, privileged=principal.sees_sensitive, cell_deg=cell) for s in layers()]


@router.get(
    "/collections", summary="The published collections", responses=documented(m.Collections)
)
def collections(request: Request, engine: ReaderDep, f: FMT = None) -> Response:
    html = wants_html(request, f)
    with ogc.read_connection(engine) as conn:
        docs = [collection_document(request, conn, v) for v in _views(request)]
    if html:
        return render(request, "ogc_collections.html", collections=docs, specs=layers())
    base = ogc.base_url(request)
    body = {
        "links": self_and_alternate(f"{base}/collections", "Collections"),
        "collections": docs,
    }
    return Response(geojson.dumps(body), media_type=ogc.JSON)


@router.get(
    "/collections/{collectionId}", summary="One collection", responses=documented(m.Collection)
)
def collection(request: Request, view: ViewDep, engine: ReaderDep, f: FMT = None) -> Response:
    html = wants_html(request, f)
    with ogc.read_connection(engine) as conn:
        doc = collection_document(request, conn, view)
    if html:
        return render(request, "ogc_collection.html", c=doc, spec=view.spec, columns=view.columns())
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


def queryables_document(request: Request, view: LayerSQL) -> dict[str, Any]:
    spec = view.spec
    props: dict[str, Any] = {
        "geometry": {
            "title": "Geometry",
            "description": f"{spec.geometry_type} in CRS84",
            "format": f"geometry-{spec.geometry_type.lower()}"
            if spec.geometry_type != "Geometry"
            else "geometry-any",
            "x-ogc-role": "primary-geometry",
        }
    }
    for c in view.columns():
        props[c.name] = {"title": c.label, **JSON_SCHEMA[c.type]}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{ogc.base_url(request)}/collections/{spec.id}/queryables",
        "type": "object",
        "title": spec.title,
        "properties": props,
        "additionalProperties": False,
    }


@router.get(
    "/collections/{collectionId}/queryables",
    summary="Queryable properties",
    response_class=m.SchemaJSONResponse,
    responses=documented(m.Queryables, media_type=SCHEMA_JSON),
)
def queryables(request: Request, view: ViewDep, f: FMT = None) -> Response:
    doc = queryables_document(request, view)
    if wants_html(request, f):
        return render(request, "ogc_queryables.html", q=doc, spec=view.spec)
    return Response(geojson.dumps(doc), media_type="application/schema+json")


ITEM_PARAMS = {
    "sortby",
    "bbox",
    "datetime",
    "limit",
    "offset",
    "properties",
    "filter",
    "filter-lang",
    "filter-crs",
    "f",
    "crs",
    "bbox-crs",
}


def _check_item_params(
    request: Request,
    view: LayerSQL,
    properties: str | None,
    crs: str | None,
    bbox_crs: str | None,
) -> list[str] | None:
    """Refuse CRSs other than CRS84 and unknown parameters; the properties asked for."""
    for name, value in (("crs", crs), ("bbox-crs", bbox_crs)):
        if value not in (None, CRS84):
            raise params.InvalidInput(f"{name} must be {CRS84}")
    unknown = [k for k in request.query_params if k not in ITEM_PARAMS]
    if unknown:
        # Part 1 lets properties be used as equality filters; unknown names are errors
        raise params.InvalidInput(f"unknown query parameter(s): {', '.join(unknown)}")
    return params.parse_properties(properties, [c.name for c in view.columns()])


SortbyParam = Annotated[
    str | None,
    Query(
        description="Sort by properties, comma-separated, each optionally after + "
        "(ascending, the default) or - (descending): sortby=-area_ha,name"
    ),
]


def _sort_links(
    request: Request, cols: Sequence[Any], sortby: tuple[tuple[str, bool], ...]
) -> dict[str, str]:
    """For each column of an HTML table, the link that sorts by it: ascending first, then
    descending when it is already the first key ascending; other parameters kept, first page."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("sortby", "offset")]
    first = sortby[0] if sortby else None
    links = {}
    for c in cols:
        key = f"-{c.name}" if first == (c.name, False) else c.name
        links[c.name] = "?" + urlencode([*kept, ("sortby", key)])
    return links


@router.get(
    "/collections/{collectionId}/items",
    summary="Features, filtered and paged",
    response_class=m.GeoJSONResponse,
    responses=documented(m.FeatureCollection, media_type=GEOJSON, cached=True),
)
async def items(
    request: Request,
    view: ViewDep,
    bbox: BBoxDep,
    datetime: DatetimeDep,
    page: PaginationDep,
    cql_filter: FilterDep,
    properties: Annotated[str | None, Query(description="Comma-separated property names")] = None,
    sortby: SortbyParam = None,
    crs: Annotated[str | None, Query()] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    f: FMT = None,
) -> Response:
    html = wants_html(request, f)
    selected = _check_item_params(request, view, properties, crs, bbox_crs)
    q = ItemsQuery(
        bbox=bbox, datetime=datetime, filter=cql_filter, properties=selected,
        limit=page.limit, offset=page.offset, sortby=params.parse_sortby(sortby),
    )  # fmt: skip
    view.order(q.sortby)  # unknown or hidden names: a 400 before any work
    private = view.privileged
    engine = get_reader_engine(request)
    # the version from memory: a 304 costs no database round trip
    version = await ogc.layer_version_async(request, view.spec)

    def read() -> tuple[str, Sequence[Any] | None, int]:
        etag = ogc.make_etag(view.spec.id, version, private, ogc.request_key(request))
        if ogc.not_modified(request, etag):
            return etag, None, 0
        reader = ogc.reader_for(request, engine, view.spec)
        with ogc.filtered_read(request, reader, q.filter) as conn:
            rows = conn.execute(view.items(q)).all()
            if q.offset == 0 and len(rows) < q.limit:
                return etag, rows, len(rows)
            return etag, rows, int(conn.execute(view.count(q)).scalar_one())

    etag, rows, matched = await run_in_threadpool(read)
    if rows is None:
        return ogc.not_modified_response(etag, 0, private=private)
    cols = view.selected(selected)
    base = ogc.base_url(request)
    url = f"{base}/collections/{view.spec.id}/items"
    links = geojson.page_links(
        url,
        request.query_params.multi_items(),
        offset=q.offset,
        limit=q.limit,
        returned=len(rows),
        matched=matched,
    )
    links.append(link(f"{base}/collections/{view.spec.id}", "collection", JSON, view.spec.title))
    # building and encoding up to max_limit features is CPU work: off the event loop
    doc = await run_in_threadpool(
        geojson.feature_collection, rows, cols, matched=matched, links=links
    )
    headers = ogc.cache_headers(etag, 0, private=private)
    if html:
        resp = render(
            request,
            "ogc_items.html",
            spec=view.spec,
            columns=cols,
            features=doc["features"],
            matched=matched,
            links=links,
            offset=q.offset,
            limit=q.limit,
            sortby=dict(q.sortby),
            sort_links=_sort_links(request, cols, q.sortby),
        )
        resp.headers.update(headers)
        return resp
    body = await run_in_threadpool(geojson.dumps, doc)
    return Response(body, media_type=ogc.GEOJSON, headers={**headers, **CONTENT_CRS})


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=m.GeoJSONResponse,
    responses=documented(m.Feature, media_type=GEOJSON, cached=True),
)
def item_by_id(
    request: Request, view: ViewDep, engine: ReaderDep, featureId: str, f: FMT = None
) -> Response:
    html = wants_html(request, f)
    fid = parse_feature_id(featureId)
    private = view.privileged
    with ogc.query_errors(), ogc.read_connection(engine) as conn:
        etag = ogc.make_etag(
            view.spec.id, ogc.data_version(conn, view.spec), private, ogc.request_key(request)
        )
        if ogc.not_modified(request, etag):
            return ogc.not_modified_response(etag, 0, private=private)
        row = conn.execute(view.item(fid)).first()  # public rows only, as for items
    if row is None:
        raise NotFound(f"There is no feature {featureId!r} in the collection {view.spec.id!r}.")
    base = ogc.base_url(request)
    href = f"{base}/collections/{view.spec.id}/items/{fid}"
    links = [
        *self_and_alternate(
            href, "This feature", media_type=GEOJSON, f="geojson", html_title="This feature as HTML"
        ),
        link(f"{base}/collections/{view.spec.id}", "collection", JSON, view.spec.title),
    ]
    cols = view.columns()
    doc = geojson.feature(row, cols, links)
    headers = ogc.cache_headers(etag, 0, private=private)
    if html:
        resp = render(
            request,
            "ogc_item.html",
            spec=view.spec,
            columns=cols,
            feature=doc,
            geometry=row._mapping["geojson"],
        )
        resp.headers.update(headers)
        return resp
    return Response(geojson.dumps(doc), media_type=ogc.GEOJSON, headers={**headers, **CONTENT_CRS})


__all__ = ["landing_document", "router"]
