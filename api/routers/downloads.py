"""Downloads of a collection (GeoJSON, GeoPackage, CSV with WKT), honouring bbox and filter."""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from api import ogc_models as m
from api.deps import ReaderDep, SettingsDep
from api.ogc import BBoxDep, DatetimeDep, FilterDep, ViewDep, filtered_read
from api.ogc_models import documented
from geo.errors import InvalidInput, TooLarge
from geo.messages import en
from layers import export
from layers.links import GEOJSON
from layers.sql import Query as ItemsQuery

router = APIRouter(tags=["Downloads"])

MAX_DOWNLOAD = 200_000
#: The files other than GeoJSON, as the OpenAPI description gives them.
FILES = {
    export.FORMATS["gpkg"][0]: {"schema": m.BINARY},
    "text/csv": {"schema": {"type": "string"}},
}


@router.get(
    "/collections/{collectionId}/download",
    summary="Download a collection",
    response_class=m.GeoJSONResponse,
    responses=documented(m.FeatureFile, media_type=GEOJSON, html=False, content=FILES),
)
async def download(
    request: Request,
    view: ViewDep,
    engine: ReaderDep,
    settings: SettingsDep,
    bbox: BBoxDep,
    datetime: DatetimeDep,
    cql_filter: FilterDep,
    background: BackgroundTasks,
    format: Annotated[str, Query(description="geojson, gpkg or csv")] = "geojson",
) -> Response:
    if format not in export.FORMATS:
        raise InvalidInput(
            en(
                "format must be one of {formats}, not {format}",
                formats=", ".join(export.FORMATS),
                format=repr(format),
            )
        )
    q = ItemsQuery(bbox=bbox, datetime=datetime, filter=cql_filter, limit=MAX_DOWNLOAD + 1)

    def rows() -> list:
        with filtered_read(request, engine, q.filter) as conn:
            return list(conn.execute(view.items(q)).all())

    result = await run_in_threadpool(rows)
    if len(result) > MAX_DOWNLOAD:
        raise TooLarge(
            en("more than {most} features match; narrow the bbox or filter", most=MAX_DOWNLOAD)
        )
    cols = view.columns()
    media, ext = export.FORMATS[format]
    name = f"irbis-{view.spec.id}.{ext}"
    disposition = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
    }
    if format == "gpkg":
        path = await run_in_threadpool(
            export.gpkg_file, result, cols, view.spec.id, view.spec.geometry_type
        )
        background.add_task(shutil.rmtree, path.parent, ignore_errors=True)
        return FileResponse(path, media_type=media, headers=disposition, background=background)
    if format == "csv":
        body = await run_in_threadpool(export.csv_bytes, result, cols)
    else:
        body = await run_in_threadpool(export.geojson_bytes, result, cols)
    return Response(body, media_type=media, headers=disposition)
