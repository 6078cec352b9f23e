"""OGC API – Tiles: MVT for every published layer, TileJSON, MapLibre styles, tile matrix sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api import ogc
from api.deps import SettingsDep, get_reader_engine
from api.ogc import LayerDep, ViewDep
from layers import geojson, styles, tilejson
from layers.tiles import (
    MVT_MEDIA_TYPE,
    TMS_IDS,
    TileRequest,
    check_format,
    check_tile,
    get_tms,
    tile_params,
    tile_statement,
)

router = APIRouter(tags=["OGC API Tiles"])

REGION = (45.0, 35.0, 88.0, 56.0)


async def tile_dep(
    spec: LayerDep,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
    z: Annotated[int, Path(alias="tileMatrix")],
    x: Annotated[int, Path(alias="tileCol")],
    y: Annotated[int, Path(alias="tileRow")],
) -> TileRequest:
    return check_tile(tms_id, z, x, y, min_zoom=spec.min_zoom, max_zoom=spec.max_zoom)


TileDep = Annotated[TileRequest, Depends(tile_dep)]


def _attribution(spec_id: str) -> str:
    return "Irbis · Natural Earth (public domain) · sources on /sources"


@router.get("/tileMatrixSets", summary="Tile matrix sets")
def tile_matrix_sets(request: Request) -> Response:
    base = ogc.base_url(request)
    body = {
        "tileMatrixSets": [
            {
                "id": t,
                "title": get_tms(t).title,
                "uri": get_tms(t).uri,
                "links": [{"rel": "self", "type": ogc.JSON, "href": f"{base}/tileMatrixSets/{t}"}],
            }
            for t in TMS_IDS
        ]
    }
    return Response(geojson.dumps(body), media_type=ogc.JSON)


@router.get("/tileMatrixSets/{tileMatrixSetId}", summary="One tile matrix set")
def tile_matrix_set(tms_id: Annotated[str, Path(alias="tileMatrixSetId")]) -> Response:
    tms = get_tms(tms_id)
    return Response(tms.model_dump_json(exclude_none=True), media_type=ogc.JSON)


def _fields(view: Any) -> dict[str, str]:
    return {"id": "Number", **{c.name: c.label for c in view.columns() if c.in_tiles}}


@router.get("/collections/{collectionId}/tiles", summary="Vector tilesets of a collection")
def tilesets(request: Request, view: ViewDep) -> Response:
    base = ogc.base_url(request)
    spec = view.spec
    version = ogc.layer_version(request, spec)
    sets = []
    for t in TMS_IDS:
        sets.append(
            {
                "title": f"{spec.title} ({t})",
                "dataType": "vector",
                "crs": get_tms(t).crs.root,
                "tileMatrixSetURI": get_tms(t).uri,
                "links": [
                    {
                        "rel": "self",
                        "type": ogc.JSON,
                        "href": f"{base}/collections/{spec.id}/tiles/{t}",
                    },
                    {
                        "rel": "item",
                        "type": MVT_MEDIA_TYPE,
                        "templated": True,
                        "href": ogc.tile_template(base, spec.id, t, version, ogc_names=True),
                    },
                    {
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                        "type": ogc.JSON,
                        "href": f"{base}/tileMatrixSets/{t}",
                    },
                ],
            }
        )
    return Response(geojson.dumps({"tilesets": sets}), media_type=ogc.JSON)


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}", summary="Tileset metadata")
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
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json", summary="TileJSON 3.0"
)
def tile_json(
    request: Request,
    view: ViewDep,
    settings: SettingsDep,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
) -> Response:
    get_tms(tms_id)
    base = ogc.base_url(request)
    spec = view.spec
    doc = tilejson.vector_tilejson(
        spec,
        ogc.tile_template(base, spec.id, tms_id, ogc.layer_version(request, spec)),
        bounds=REGION,
        attribution=_attribution(spec.id),
        fields=_fields(view),
        min_zoom=spec.min_zoom,
        max_zoom=min(spec.max_zoom, settings.tiles.max_zoom),
    )
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


@router.get("/collections/{collectionId}/styles/default", summary="MapLibre style JSON")
def style(request: Request, spec: LayerDep) -> Response:
    base = ogc.base_url(request)
    doc = styles.maplibre_style(
        spec,
        f"{base}/collections/{spec.id}/tiles/WebMercatorQuad/tilejson.json"
        f"?v={ogc.version_token(ogc.layer_version(request, spec))}",
        attribution=_attribution(spec.id),
    )
    return Response(geojson.dumps(doc), media_type="application/vnd.mapbox.style+json")


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A vector tile (MVT)",
    response_class=Response,
    responses={200: {"content": {MVT_MEDIA_TYPE: {}}}},
)
async def tile(
    request: Request,
    view: ViewDep,
    tile: TileDep,
    f: Annotated[str | None, Query(description="mvt")] = None,
    v: Annotated[
        str | None,
        Query(description="The layer's data version, as TileJSON and styles give it"),
    ] = None,
) -> Response:
    """A vector tile. Path order follows OGC API Tiles: ``{z}/{row}/{col}`` = ``{z}/{y}/{x}``.

    At the layer's current version (``?v=`` from TileJSON, styles or maps) a public tile is
    immutable; at an older one it is today's tile, kept briefly; without ``v`` it revalidates
    with its ETag. A cached tile is answered with no database round trip."""
    check_format(f)
    private = view.privileged
    version = await ogc.layer_version_async(request, view.spec)
    etag = ogc.make_etag("mvt", view.spec.id, version, private, tile.tms_id, tile.z, tile.x, tile.y)
    headers = ogc.tile_headers(etag, version, v, private=private)
    if ogc.not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    data = ogc.tile_cache(request).get(etag)
    if data is not None:
        return Response(data, media_type=MVT_MEDIA_TYPE, headers=headers)
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
            data = bytes(conn.execute(stmt, params).scalar_one() or b"")
            cache.put(etag, data)
    return Response(data, media_type=MVT_MEDIA_TYPE, headers=headers)
