"""Map pages for people: the atlas, a map per layer, the Kok-Jailau case page."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi import Query as Param
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Connection, Engine

from api import i18n, ogc
from api.deps import ReaderDep
from api.i18n import gettext as _
from api.i18n import lazy_gettext as _l
from api.ogc import FilterDep, ViewDep
from api.routers.ogc_tiles import dataset_versions
from api.templating import map_tools, render
from geo.errors import InvalidInput
from geo.lazy import lazy_module
from layers import labels
from layers.registry import get_layer, layer_ids, layers
from layers.spec import LayerSpec
from layers.sql import Query

if TYPE_CHECKING:
    from layers import cases, maps
else:  # pandas and folium: not on the start path (geo.lazy)
    cases = lazy_module("layers.cases")
    maps = lazy_module("layers.maps")

router = APIRouter(tags=["maps"], include_in_schema=False)

CONTEXT = ("countries", "lakes", "rivers", "places")
#: How long a browser may keep the labels of a view before asking again (seconds).
LABELS_MAX_AGE = 300


def _examples(conn: Connection, specs: Sequence[LayerSpec]) -> set[str]:
    return cases.layers_with_examples(
        conn, {s.id: s.table for s in specs if "method" in s.column_names}
    )


def _read_examples(engine: Engine, specs: Sequence[LayerSpec]) -> set[str]:
    with engine.connect() as conn:
        return _examples(conn, specs)


def _read_empty(engine: Engine, specs: Sequence[LayerSpec]) -> set[str]:
    """The layers with nothing to show (no legend entry for them)."""
    with engine.connect() as conn:
        return maps.empty_layers(conn, specs)


@router.get("/atlas", response_class=HTMLResponse)
async def atlas(request: Request, engine: ReaderDep) -> HTMLResponse:
    specs = layers()
    examples = await run_in_threadpool(_read_examples, engine, specs)
    empty = await run_in_threadpool(_read_empty, engine, specs)
    parts = await run_in_threadpool(
        maps.atlas,
        specs,
        examples=examples,
        dataset_version=ogc.version_token(dataset_versions(request)),
        empty=empty,
        tools=map_tools(request, search=True),
    )
    return render(
        request,
        "map_page.html",
        title=_("Atlas"),
        lead=_(
            "Every public layer on one map, drawn from Irbis's own data. Click a feature for "
            "its attributes, source and licence; records marked example are illustrative."
        ),
        links=[
            ("/collections", _("all layers and downloads")),
            ("/cases/kok-jailau", _("Kok-Jailau case")),
        ],
        map=parts,
    )


@router.get("/collections/{collectionId}/map", response_class=HTMLResponse)
async def layer_map(
    request: Request, view: ViewDep, engine: ReaderDep, cql_filter: FilterDep
) -> HTMLResponse:
    """The layer on a map; with ``?filter=`` (CQL2, checked here: 400 when wrong) only the
    features that match it, as in the feature table the link came from."""
    spec = view.spec
    if cql_filter is not None:  # a property the layer does not have is a 400 here too
        view.where(Query(filter=cql_filter))

    def read() -> tuple[Any, set[str]]:
        with engine.connect() as conn:
            return conn.execute(view.extent()).first(), _examples(conn, [spec])

    ext, examples = await run_in_threadpool(read)
    bounds = (
        (ext.xmin, ext.ymin, ext.xmax, ext.ymax)
        if ext is not None and ext.xmin is not None
        else None
    )
    context = [get_layer(i) for i in CONTEXT]
    empty = await run_in_threadpool(_read_empty, engine, [spec, *context])
    parts = await run_in_threadpool(
        maps.layer_map,
        spec,
        context,
        bounds=bounds,
        examples=examples,
        versions=ogc.version_tokens(request, [spec, *context]),
        empty=empty,
        cql=request.query_params.get("filter") if cql_filter is not None else None,
        cql_lang=request.query_params.get("filter-lang"),
        tools=map_tools(request),
    )
    links = [
        (f"/collections/{spec.id}?f=html", _("about this layer")),
        (f"/collections/{spec.id}/items?f=html", _("features")),
        (f"/collections/{spec.id}/download?format=gpkg", _("download")),
    ]
    return render(
        request,
        "map_page.html",
        title=_(spec.title),
        lead=_(spec.description),
        links=links,
        map=parts,
    )


@router.get("/cases/kok-jailau", response_class=HTMLResponse)
async def kok_jailau(request: Request, engine: ReaderDep) -> HTMLResponse:
    ids = set(layer_ids())
    shown = [get_layer(i) for i in ("protected_areas", "field_sites", "threats") if i in ids]
    for extra in ("habitat", "species_habitat"):  # shown when the habitat model is published
        if extra in ids:
            shown.insert(0, get_layer(extra))

    def read() -> tuple[Any, set[str]]:
        with engine.connect() as conn:
            return cases.kok_jailau(conn), _examples(conn, shown)

    case, examples = await run_in_threadpool(read)
    if case is not None:
        pad = 0.12
        bounds = (
            case["xmin"] - pad,
            case["ymin"] - pad * 0.7,
            case["xmax"] + pad,
            case["ymax"] + pad * 0.7,
        )
        highlight = {
            "name": "Kok-Jailau footprint (schematic)",
            "geojson": json.loads(case["geojson"]),
        }
    else:
        bounds = (76.7, 43.0, 77.3, 43.3)
        highlight = None
    parts = await run_in_threadpool(
        maps.case_map,
        shown,
        bounds=bounds,
        highlight=highlight,
        examples=examples,
        versions=ogc.version_tokens(request, shown),
        tools=map_tools(request),
    )
    return render(request, "case_kok_jailau.html", case=case, map=parts)


def _bbox(value: str) -> tuple[float, float, float, float]:
    """``west,south,east,north`` in degrees (WGS 84), or InvalidInput saying what is wrong."""
    parts = value.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(
            _l("bbox must be four numbers: west,south,east,north in degrees (WGS 84)")
        )
    west, south, east, north = numbers
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(
            _l("bbox must have west < east within -180..180 and south < north within -90..90")
        )
    return west, south, east, north


def _labels(engine: Engine, bbox: tuple[float, float, float, float], zoom: int, lang: str) -> Any:
    with ogc.read_connection(engine) as conn:
        return conn.execute(labels.label_query(bbox, zoom, lang)).all()


@router.get("/labels")
async def map_labels(
    request: Request,
    engine: ReaderDep,
    bbox: str = Param(..., description="west,south,east,north (WGS 84)"),
    zoom: int = Param(..., ge=0, le=labels.MAX_ZOOM),
) -> Response:
    """The place labels of a map view in the request's language (``?lang=``, the cookie or
    Accept-Language), most important first; the maps draw them (``Irbis.labels``)."""
    box = _bbox(bbox)
    lang = i18n.current_locale()
    ids = set(layer_ids())
    versions = [
        ogc.layer_version(request, get_layer(s.layer)) for s in labels.SOURCES if s.layer in ids
    ]
    etag = ogc.make_etag("labels", lang, box, zoom, *versions)
    if ogc.not_modified(request, etag):
        return ogc.not_modified_response(etag, LABELS_MAX_AGE, private=False)
    rows = await run_in_threadpool(_labels, engine, box, zoom, lang)
    body = {
        "lang": lang,
        "zoom": zoom,
        "labels": [
            {"name": r.name, "kind": r.kind, "lon": float(r.lon), "lat": float(r.lat)}
            | ({} if r.angle is None else {"angle": float(r.angle)})
            for r in rows
        ],
    }
    headers = ogc.cache_headers(etag, LABELS_MAX_AGE, private=False)
    headers["Vary"] += ", Accept-Language"  # the names are in the request's language
    return JSONResponse(body, headers=headers)
