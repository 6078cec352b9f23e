"""OGC API – Tiles: MVT for every published layer, TileJSON, MapLibre styles, tile matrix sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api import ogc
from api import ogc_models as m
from api.auth.principal import get_principal
from api.deps import SettingsDep, get_reader_engine
from api.ogc import LayerDep, ViewDep
from api.ogc_models import documented
from geo.crs import REGION_BOUNDS
from layers import dataset_tiles, geojson, styles, tilejson
from layers.links import JSON, OGC_REL, STYLE_JSON, link
from layers.registry import layers
from layers.spec import LayerSpec
from layers.sql import LayerSQL
from layers.tiles import (
    MVT_MEDIA_TYPE,
    TMS_IDS,
    TileRequest,
    check_format,
    check_tile,
    fetch_tile,
    get_tms,
    tile_params,
    tile_statement,
)

_DIMENSION = {"point": 0, "line": 1, "area": 2}

router = APIRouter(tags=["OGC API Tiles"])

REGION = REGION_BOUNDS

#: The link relation from a tileset to its tile matrix set (OGC API Tiles).
TILING_SCHEME = OGC_REL + "tiling-scheme"
#: A tile's body as the OpenAPI description gives it.
MVT_CONTENT = {MVT_MEDIA_TYPE: {"schema": m.BINARY}}

#: The attribution of every tileset (collections and the dataset).
ATTRIBUTION = "Irbis · Natural Earth (public domain) · sources on /sources"


@router.get(
    "/tileMatrixSets",
    summary="Tile matrix sets",
    responses=documented(m.TileMatrixSets, html=False),
)
def tile_matrix_sets(request: Request) -> Response:
    base = ogc.base_url(request)
    body = {
        "tileMatrixSets": [
            {
                "id": t,
                "title": get_tms(t).title,
                "uri": get_tms(t).uri,
                "links": [link(f"{base}/tileMatrixSets/{t}", "self", JSON, f"{t} definition")],
            }
            for t in TMS_IDS
        ]
    }
    return Response(geojson.dumps(body), media_type=ogc.JSON)


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}",
    summary="One tile matrix set",
    responses=documented(m.TileMatrixSet, html=False),
)
def tile_matrix_set(tms_id: Annotated[str, Path(alias="tileMatrixSetId")]) -> Response:
    tms = get_tms(tms_id)
    return Response(tms.model_dump_json(exclude_none=True), media_type=ogc.JSON)


def _tileset_ref(title: str, tms_id: str, href: str, tiles_href: str, base: str) -> dict[str, Any]:
    """One entry of a list of vector tilesets (OGC API Tiles): the tileset at ``href``, its
    tiles at the URL template ``tiles_href``, its tile matrix set."""
    tms = get_tms(tms_id)
    return {
        "title": title,
        "dataType": "vector",
        "crs": tms.crs.root,
        "tileMatrixSetURI": tms.uri,
        "links": [
            link(href, "self", JSON, title),
            {**link(tiles_href, "item", MVT_MEDIA_TYPE, "Tiles"), "templated": True},
            link(f"{base}/tileMatrixSets/{tms_id}", TILING_SCHEME, JSON, f"{tms_id} definition"),
        ],
    }


def _fields(view: Any) -> dict[str, str]:
    return {"id": "Number", **{c.name: c.label for c in view.columns() if c.in_tiles}}


@router.get(
    "/collections/{collectionId}/tiles",
    summary="Vector tilesets of a collection",
    responses=documented(m.TileSets, html=False),
)
def tilesets(request: Request, view: ViewDep) -> Response:
    base = ogc.base_url(request)
    spec = view.spec
    version = ogc.layer_version(request, spec)
    sets = [
        _tileset_ref(
            f"{spec.title} ({t})",
            t,
            f"{base}/collections/{spec.id}/tiles/{t}",
            ogc.tile_template(base, spec.id, t, version, ogc_names=True),
            base,
        )
        for t in TMS_IDS
    ]
    return Response(geojson.dumps({"tilesets": sets}), media_type=ogc.JSON)


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    summary="Tileset metadata",
    responses=documented(m.TileSet, html=False),
)
def tileset(
    request: Request, view: ViewDep, tms_id: Annotated[str, Path(alias="tileMatrixSetId")]
) -> Response:
    get_tms(tms_id)
    base = ogc.base_url(request)
    spec = view.spec
    version = ogc.layer_version(request, spec)
    href = ogc.tile_template(base, spec.id, tms_id, version, ogc_names=True)
    doc = tilejson.tileset(
        title=spec.title,
        tms_id=tms_id,
        base=base,
        tiles_href=href,
        data_type="vector",
        media_type=MVT_MEDIA_TYPE,
        bounds=REGION,
        layers=[
            {
                "id": spec.id,
                "dataType": "vector",
                "geometryDimension": {
                    "Point": 0,
                    "MultiPoint": 0,
                    "LineString": 1,
                    "MultiLineString": 1,
                }.get(spec.geometry_type, 2),
                "minTileMatrix": str(spec.min_zoom),
                "maxTileMatrix": str(spec.max_zoom),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {
                        c.name: {"title": c.label} for c in view.columns() if c.in_tiles
                    },
                },
            }
        ],
    )
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON 3.0",
    responses=documented(m.TileJSON, html=False),
)
def tile_json(
    request: Request,
    view: ViewDep,
    settings: SettingsDep,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
    v: Annotated[
        str | None, Query(description="The layer's data version, as its style gives it")
    ] = None,
) -> Response:
    get_tms(tms_id)
    base = ogc.base_url(request)
    spec = view.spec
    # a style made by a process that has answered a write this one has not heard of yet
    version = ogc.version_asked(request.app.state, v, lambda: ogc.layer_version(request, spec))
    doc = tilejson.vector_tilejson(
        spec,
        ogc.tile_template(base, spec.id, tms_id, version),
        bounds=REGION,
        attribution=ATTRIBUTION,
        fields=_fields(view),
        min_zoom=spec.min_zoom,
        max_zoom=min(spec.max_zoom, settings.tiles.max_zoom),
    )
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


@router.get(
    "/collections/{collectionId}/styles/default",
    summary="MapLibre style JSON",
    response_class=m.StyleJSONResponse,
    responses=documented(m.Style, media_type=STYLE_JSON, html=False),
)
def style(request: Request, spec: LayerDep) -> Response:
    base = ogc.base_url(request)
    doc = styles.maplibre_style(
        spec,
        f"{base}/collections/{spec.id}/tiles/WebMercatorQuad/tilejson.json"
        f"?v={ogc.version_token(ogc.layer_version(request, spec))}",
        attribution=ATTRIBUTION,
    )
    return Response(geojson.dumps(doc), media_type="application/vnd.mapbox.style+json")


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A vector tile (MVT)",
    response_class=Response,
    responses=documented(media_type=None, html=False, cached=True, content=MVT_CONTENT),
)
async def tile(
    request: Request,
    spec: LayerDep,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
    z: Annotated[int, Path(alias="tileMatrix")],
    x: Annotated[int, Path(alias="tileCol")],
    y: Annotated[int, Path(alias="tileRow")],
    f: Annotated[str | None, Query(description="mvt")] = None,
    v: Annotated[
        str | None,
        Query(description="The layer's data version, as TileJSON and styles give it"),
    ] = None,
) -> Response:
    """A vector tile. Path order follows OGC API Tiles: ``{z}/{row}/{col}`` = ``{z}/{y}/{x}``.

    At the layer's current version (``?v=`` from TileJSON, styles or maps) a public tile is
    immutable; at an older one it is today's tile, kept briefly; without ``v`` it revalidates
    with its ETag. A cached tile is answered with no database round trip.

    The route's only dependency is the layer (404 first); the tile and the view are made here:
    every uncached tile comes this way, and each dependency FastAPI solves costs it more than
    the work the dependency does."""
    tile = check_tile(tms_id, z, x, y, min_zoom=spec.min_zoom, max_zoom=spec.max_zoom)
    check_format(f)
    view = ogc.view_of(request, spec)
    private = view.privileged
    version = await ogc.layer_version_async(request, spec)
    if ogc.catching_up(request.app.state, v, version):  # a URL made after a write not yet heard of
        version = await run_in_threadpool(
            ogc.version_asked, request.app.state, v, lambda: ogc.layer_version(request, spec)
        )
    etag = ogc.make_etag("mvt", spec.id, version, private, tile.tms_id, tile.z, tile.x, tile.y)
    headers = ogc.tile_headers(etag, version, v, private=private)
    if ogc.not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    data = ogc.tile_cache(request).get(etag)
    if data is not None:
        return ogc.tile_response(request, etag, data, headers)
    state = request.app.state
    return await run_in_threadpool(
        _tile_response,
        request,
        view,
        get_reader_engine(request),
        state.settings,
        tile,
        etag,
        headers,
    )


def _tile_response(
    request: Request,
    view: Any,
    engine: Any,
    settings: Any,
    tile: TileRequest,
    etag: str,
    headers: dict[str, str],
) -> Response:
    engine = ogc.reader_for(request, engine, view.spec)
    with ogc.query_errors(), ogc.read_connection(engine) as conn:
        cache = ogc.tile_cache(request)
        data = cache.get(etag)
        if data is None:
            t = settings.tiles
            stmt = tile_statement(
                view,
                tile.tms_id,
                extent=t.extent,
                buffer=t.buffer,
                max_features=t.max_features_per_tile,
            )
            params = tile_params(tile, extent=t.extent, buffer=t.buffer)
            data = fetch_tile(conn, stmt, params)
            cache.put(etag, data)
    return ogc.tile_response(request, etag, data, headers)


# -- the dataset tileset: every collection in one tile --------------------------------------

CollectionsQuery = Annotated[
    str | None,
    Query(
        description="Comma-separated collection ids to include (default: every collection)",
        examples=["countries,rivers,places"],
    ),
]


def _layer_entry(spec: LayerSpec, view: LayerSQL) -> dict[str, Any]:
    return {
        "id": spec.id,
        "title": spec.title,
        "dataType": "vector",
        "geometryDimension": _DIMENSION[dataset_tiles.kind(spec)],
        "minTileMatrix": str(spec.min_zoom),
        "maxTileMatrix": str(spec.max_zoom),
        "propertiesSchema": {
            "type": "object",
            "properties": {c.name: {"title": c.label} for c in view.columns() if c.in_tiles},
        },
    }


def _views(request: Request, specs: list[LayerSpec]) -> list[LayerSQL]:
    """The layers as the current principal may see them (as :func:`api.ogc.view_dep`)."""
    privileged = get_principal(request).sees_sensitive
    cell = request.app.state.settings.features.sensitive_cell_deg
    return [LayerSQL(s, privileged=privileged, cell_deg=cell) for s in specs]


def _dataset_href(base: str, tms_id: str, z: str, y: str, x: str) -> str:
    return f"{base}/tiles/{tms_id}/{z}/{y}/{x}"


@router.get(
    "/tiles",
    summary="Dataset vector tilesets (every collection in one tile)",
    responses=documented(m.TileSets, html=False),
)
def dataset_tilesets(request: Request) -> Response:
    base = ogc.base_url(request)
    sets = [
        _tileset_ref(
            f"Irbis: every collection ({t})",
            t,
            f"{base}/tiles/{t}",
            _dataset_href(base, t, "{tileMatrix}", "{tileRow}", "{tileCol}"),
            base,
        )
        for t in TMS_IDS
    ]
    return Response(geojson.dumps({"tilesets": sets}), media_type=ogc.JSON)


@router.get(
    "/tiles/{tileMatrixSetId}",
    summary="Dataset tileset metadata",
    responses=documented(m.TileSet, html=False),
)
def dataset_tileset(
    request: Request, tms_id: Annotated[str, Path(alias="tileMatrixSetId")]
) -> Response:
    get_tms(tms_id)
    base = ogc.base_url(request)
    specs = dataset_tiles.drawing_order(layers())
    doc = tilejson.tileset(
        title="Irbis: every collection",
        tms_id=tms_id,
        base=base,
        tiles_href=_dataset_href(base, tms_id, "{tileMatrix}", "{tileRow}", "{tileCol}"),
        data_type="vector",
        media_type=MVT_MEDIA_TYPE,
        bounds=REGION,
        layers=[_layer_entry(s, v) for s, v in zip(specs, _views(request, specs), strict=True)],
    )
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


@router.get(
    "/tiles/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON 3.0 of every collection",
    responses=documented(m.TileJSON, html=False),
)
def dataset_tile_json(
    request: Request,
    settings: SettingsDep,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
) -> Response:
    get_tms(tms_id)
    base = ogc.base_url(request)
    specs = dataset_tiles.drawing_order(layers())
    doc = tilejson.dataset_tilejson(
        "Irbis: every collection",
        _dataset_href(base, tms_id, "{z}", "{y}", "{x}"),
        [
            (s, {"id": "Number", **{c.name: c.label for c in v.columns() if c.in_tiles}})
            for s, v in zip(specs, _views(request, specs), strict=True)
        ],
        bounds=REGION,
        attribution=ATTRIBUTION,
        max_zoom=settings.tiles.max_zoom,
    )
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


@router.get(
    "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A dataset vector tile (MVT): one layer per collection",
    response_class=Response,
    responses=documented(media_type=None, html=False, cached=True, content=MVT_CONTENT),
)
async def dataset_tile(
    request: Request,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
    z: Annotated[int, Path(alias="tileMatrix")],
    x: Annotated[int, Path(alias="tileCol")],
    y: Annotated[int, Path(alias="tileRow")],
    collections: CollectionsQuery = None,
    f: Annotated[str | None, Query(description="mvt")] = None,
    v: Annotated[
        str | None,
        Query(description="The data version of every collection, as the atlas gives it"),
    ] = None,
) -> Response:
    """Every collection (or those in ``collections``) in one tile, each as its own MVT layer
    named by the collection id, with the same privacy rules as the collection's own tiles.
    At the current ``v`` a public tile is immutable (as a collection's own tiles)."""
    check_format(f)
    specs = dataset_tiles.members(layers(), collections)
    tile = check_tile(
        tms_id,
        z,
        x,
        y,
        min_zoom=min(s.min_zoom for s in specs),
        max_zoom=max(s.max_zoom for s in specs),
    )
    views = _views(request, [s for s in specs if s.min_zoom <= z <= s.max_zoom])
    state = request.app.state
    return await run_in_threadpool(
        _dataset_tile_response, request, views, get_reader_engine(request), state.settings, tile, v
    )


def dataset_versions(request: Request) -> str:
    """The data version of the dataset tileset (every collection's), from memory."""
    specs = layers()
    return dataset_tiles.joined_versions(
        {s.id: ogc.layer_version(request, s) for s in specs}, specs
    )


def _dataset_tile_response(
    request: Request,
    views: list[LayerSQL],
    engine: Any,
    settings: Any,
    tile: TileRequest,
    asked: str | None,
) -> Response:
    # a URL made after a write this process has not heard of: the versions are read first
    ogc.version_asked(request.app.state, asked, lambda: dataset_versions(request))
    private = any(v.privileged for v in views)
    where = (tile.tms_id, tile.z, tile.x, tile.y)
    t = settings.tiles
    keys = [
        ogc.make_etag("mvt", v.spec.id, ogc.layer_version(request, v.spec), v.privileged, *where)
        for v in views
    ]
    etag = ogc.make_etag("dataset-mvt", *keys)
    headers = ogc.tile_headers(etag, dataset_versions(request), asked, private=private)
    if ogc.not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    cache = ogc.tile_cache(request)
    parts = [cache.get(k) for k in keys]
    missing = [i for i, p in enumerate(parts) if p is None]
    if missing:
        for view in views:  # a replica behind any layer's version: read the primary
            engine = ogc.reader_for(request, engine, view.spec)
        stmt = dataset_tiles.parts_statement(
            [views[i] for i in missing],
            tile.tms_id,
            extent=t.extent,
            buffer=t.buffer,
            max_features=t.max_features_per_tile,
        )
        params = tile_params(tile, extent=t.extent, buffer=t.buffer)
        with ogc.query_errors(), ogc.read_connection(engine) as conn:
            row = conn.execute(stmt, params).one()
        for i, data in zip(missing, row, strict=True):
            part = bytes(data or b"")
            cache.put(keys[i], part)
            parts[i] = part
    data = dataset_tiles.compose(p or b"" for p in parts)
    return ogc.tile_response(request, etag, data, headers)
