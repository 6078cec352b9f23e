"""Map pages for people: the atlas, a map per layer, the Kok-Jailau case page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine

from api import ogc
from api.deps import ReaderDep
from api.ogc import FilterDep, ViewDep
from api.routers.ogc_tiles import dataset_versions
from api.templating import render
from layers import cases, maps
from layers.registry import get_layer, layer_ids, layers
from layers.spec import LayerSpec
from layers.sql import Query

router = APIRouter(tags=["maps"], include_in_schema=False)

CONTEXT = ("countries", "lakes", "rivers", "places")


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
    )
    return render(
        request,
        "map_page.html",
        title="Atlas",
        lead=(
            "Every public layer on one map, drawn from Irbis's own data. Click a feature for "
            "its attributes, source and licence; records marked example are illustrative."
        ),
        links=[
            ("/collections", "all layers and downloads"),
            ("/cases/kok-jailau", "Kok-Jailau case"),
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
    )
    links = [
        (f"/collections/{spec.id}?f=html", "about this layer"),
        (f"/collections/{spec.id}/items?f=html", "features"),
        (f"/collections/{spec.id}/download?format=gpkg", "download"),
    ]
    return render(
        request, "map_page.html", title=spec.title, lead=spec.description, links=links, map=parts
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
    )
    return render(request, "case_kok_jailau.html", case=case, map=parts)
