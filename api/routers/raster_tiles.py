"""PNG tiles of registered rasters: DEM relief for the basemap and analysis outputs.

Every row of the ``rasters`` table is tileable at ``/rasters/{name}/tiles/...``; ``relief``
is the mosaic of every registered DEM, coarse first and finest last.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Connection, bindparam, column, func, select, table

import morecantile

from api import ogc
from api import ogc_models as m
from api.deps import ReaderDep, SettingsDep
from api.ogc_models import documented
from api.templating import render
from geo.errors import InvalidInput, NotFound
from geo.lazy import lazy_module
from geo.messages import en
from layers import geojson, tilejson
from layers.tiles import check_tile, get_tms

if TYPE_CHECKING:
    from PIL import Image

    from layers import rastertiles as rt
    from layers.rastertiles import RasterSource
else:  # rasterio and Pillow: imported with the first raster tile, not at start (geo.lazy)
    Image = lazy_module("PIL.Image")
    rt = lazy_module("layers.rastertiles")

#: ``layers.rastertiles.PNG`` (named here too: the routes' documentation needs it at start).
PNG = "image/png"

router = APIRouter(tags=["Raster tiles"])

RELIEF = "relief"
_rasters = table(
    "rasters",
    column("name"),
    column("title"),
    column("kind"),
    column("path"),
    column("nodata"),
    column("properties"),
    column("resolution"),
    column("source"),
    column("licence"),
    column("method"),
    column("geom"),
)


@lru_cache(maxsize=1)
def transparent_png() -> bytes:
    """An empty tile (outside every raster): transparent, so maps draw no error."""
    buf = io.BytesIO()
    Image.new("RGBA", (256, 256), (0, 0, 0, 0)).save(buf, "PNG")
    return buf.getvalue()


def _rows(conn: Connection, name: str | None = None) -> list[Any]:
    stmt = select(
        _rasters.c.name,
        _rasters.c.title,
        _rasters.c.kind,
        _rasters.c.path,
        _rasters.c.nodata,
        _rasters.c.properties,
        _rasters.c.resolution,
        _rasters.c.source,
        _rasters.c.licence,
        _rasters.c.method,
        func.ST_XMin(_rasters.c.geom).label("xmin"),
        func.ST_YMin(_rasters.c.geom).label("ymin"),
        func.ST_XMax(_rasters.c.geom).label("xmax"),
        func.ST_YMax(_rasters.c.geom).label("ymax"),
    ).order_by(_rasters.c.name)
    if name == RELIEF:
        stmt = stmt.where(_rasters.c.kind == "dem")
    elif name is not None:
        stmt = stmt.where(_rasters.c.name == bindparam("name", name))
    return list(conn.execute(stmt).all())


#: Raster registry look-ups kept per (name, data version): a tile of a known raster reads
#: nothing from the database once the version is known from memory (:mod:`api.versions`).
_LOOKUPS_KEPT = 64


def _rasters_version(request: Request, engine: Any) -> str:
    """The version raster tiles are drawn at (:func:`api.ogc.rasters_version`)."""
    return ogc.rasters_version(request.app.state)


def _lookup_cached(
    request: Request, engine: Any, name: str, data_dir: FsPath, version: str
) -> tuple[list[Any], list[RasterSource], str]:
    """:func:`_lookup`, kept per data version on the app (a write changes the version, so an
    entry is never stale); unknown names are not kept."""
    state = request.app.state
    kept: dict[tuple[str, str], tuple[list[Any], list[RasterSource], str]] | None = getattr(
        state, "raster_lookups", None
    )
    if kept is None:
        kept = state.raster_lookups = {}
    hit = kept.get((name, version))
    if hit is not None:
        return hit
    with ogc.read_connection(engine) as conn:
        found = _lookup(conn, name, data_dir)
    if len(kept) >= _LOOKUPS_KEPT:
        kept.clear()
    kept[(name, version)] = found
    return found


def _source(row: Any, data_dir: FsPath) -> RasterSource:
    p = FsPath(row.path)
    return rt.RasterSource(
        name=row.name,
        path=p if p.is_absolute() else data_dir / p,
        kind=row.kind,
        nodata=row.nodata,
        properties=dict(row.properties or {}),
    )


def _lookup(
    conn: Connection, name: str, data_dir: FsPath
) -> tuple[list[Any], list[RasterSource], str]:
    rows = _rows(conn, name)
    if not rows:
        raise NotFound(en("There is no raster {name}; see /rasters for the list.", name=repr(name)))
    if name == RELIEF:
        # coarse first, finest last: finer data is painted over coarser
        rows.sort(key=lambda r: -(r.resolution[0] if r.resolution else 0))
        kind = "dem"
    else:
        kind = rows[0].kind
    return rows, [_source(r, data_dir) for r in rows], kind


@router.get("/rasters", summary="Registered rasters", responses=documented(m.Rasters))
def rasters(
    request: Request, engine: ReaderDep, f: Annotated[str | None, Query()] = None
) -> Response:
    base = ogc.base_url(request)
    with engine.connect() as conn:
        rows = _rows(conn)
    items = [
        {
            "id": r.name,
            "title": r.title,
            "kind": r.kind,
            "source": r.source,
            "licence": r.licence,
            "method": r.method,
            "bounds": [r.xmin, r.ymin, r.xmax, r.ymax],
            "styles": list(rt.styles_for(r.kind, dict(r.properties or {}))),
            "tiles": f"{base}/rasters/{r.name}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}.png",
        }
        for r in rows
    ]
    if any(r.kind == "dem" for r in rows):
        items.insert(
            0,
            {
                "id": RELIEF,
                "title": "Relief (every DEM, finest on top)",
                "kind": "dem",
                "styles": ["shaded", "elevation", "hillshade"],
                "tiles": f"{base}/rasters/{RELIEF}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}.png",
            },
        )
    if ogc.wants_html(request, f):
        return render(request, "rasters.html", rasters=items)
    return Response(geojson.dumps({"rasters": items}), media_type=ogc.JSON)


@router.get(
    "/rasters/{name}/tiles/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON of a raster",
    responses=documented(m.TileJSON, html=False),
)
def raster_tilejson(
    request: Request,
    engine: ReaderDep,
    settings: SettingsDep,
    name: str,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
    style: Annotated[str | None, Query()] = None,
) -> Response:
    get_tms(tms_id)
    with engine.connect() as conn:
        rows, _, _kind = _lookup(conn, name, settings.data_dir)
    base = ogc.base_url(request)
    q = f"?style={style}" if style else ""
    bounds = [
        min(r.xmin for r in rows),
        min(r.ymin for r in rows),
        max(r.xmax for r in rows),
        max(r.ymax for r in rows),
    ]
    doc = tilejson.raster_tilejson(
        name,
        rows[0].title if name != RELIEF else "Relief",
        f"{base}/rasters/{name}/tiles/{tms_id}/{{z}}/{{y}}/{{x}}.png{q}",
        bounds=bounds,
        attribution=" · ".join(sorted({r.source for r in rows})),
        max_zoom=13,
    )
    return Response(geojson.dumps(doc), media_type=ogc.JSON)


@router.get(
    "/rasters/{name}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}.png",
    summary="A PNG tile of a raster",
    response_class=Response,
    responses=documented(
        media_type=None, html=False, cached=True, content={PNG: {"schema": m.BINARY}}
    ),
)
async def raster_tile(
    request: Request,
    engine: ReaderDep,
    settings: SettingsDep,
    name: str,
    tms_id: Annotated[str, Path(alias="tileMatrixSetId")],
    z: Annotated[int, Path(alias="tileMatrix")],
    y: Annotated[int, Path(alias="tileRow")],
    x: Annotated[int, Path(alias="tileCol")],
    style: Annotated[
        str | None, Query(description="elevation, hillshade, shaded, values, classes")
    ] = None,
    v: Annotated[
        str | None,
        Query(
            description="The rasters' data version token; a tile asked with the current one "
            "is served immutable"
        ),
    ] = None,
) -> Response:
    t = check_tile(tms_id, z, x, y, min_zoom=0, max_zoom=14)

    def work() -> tuple[str, bytes | None, dict[str, str]]:
        version = ogc.version_asked(request.app.state, v, lambda: _rasters_version(request, engine))
        rows, sources, kind = _lookup_cached(request, engine, name, settings.data_dir, version)
        allowed = rt.styles_for(kind, sources[-1].properties)
        chosen = style or allowed[0]
        if chosen not in allowed:
            raise InvalidInput(
                en(
                    "style {style} does not apply to {name}; use {styles}",
                    style=repr(chosen),
                    name=repr(name),
                    styles=", ".join(allowed),
                )
            )
        etag = ogc.make_etag("png", name, version, chosen, t.tms_id, t.z, t.x, t.y)
        headers = ogc.tile_headers(etag, version, v, private=False)
        if ogc.not_modified(request, etag):
            return etag, None, headers
        cache = ogc.tile_cache(request)
        hit = cache.get(etag)
        if hit is not None:
            return etag, hit, headers
        bounds = get_tms(tms_id).bounds(morecantile.Tile(t.x, t.y, t.z))
        if not any(
            r.xmin < bounds.right
            and r.xmax > bounds.left
            and r.ymin < bounds.top
            and r.ymax > bounds.bottom
            for r in rows
        ):
            return etag, b"", headers
        png = rt.render_png(sources, t.tms_id, t.z, t.x, t.y, style=chosen)
        cache.put(etag, png)
        return etag, png, headers

    _etag, data, headers = await run_in_threadpool(work)
    if data is None:
        return Response(status_code=304, headers=headers)
    if not data:
        data = transparent_png()
    return Response(data, media_type=PNG, headers=headers)
