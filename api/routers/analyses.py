"""/analyses: stored analysis runs (ecosystems, habitat, overlaps, gaps, loss) and downloads.

Runs are records: parameters, inputs with their versions, results, times. Anyone may read
them: results hold modelled habitat, protected-area and field-site areas and published
threats, never a precise location of an animal or a reporter's identity.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.auth.principal import Principal, PrincipalDep, Role
from api.db import models as m
from api.deps import EngineDep, ReadSessionDep, SettingsDep
from api.ogc import wants_html
from api.respond_async import (
    PreferHeader,
    accepted,
    accepted_responses,
    background_runner,
    prefers_async,
)
from api.services import background as bg
from api.settings import Settings
from api.templating import map_tools, render, request_locale
from api.vocabulary import result_column, result_table, result_value
from geo.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from geo.lazy import lazy_module
from geo.messages import en
from layers.export import csv_safe

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from api.services import analyses as an
    from layers import maps
else:  # scipy, rasterio, geopandas and folium: not on the start path (geo.lazy)
    folium = lazy_module("folium")
    gpd = lazy_module("geopandas")
    an = lazy_module("api.services.analyses")
    maps = lazy_module("layers.maps")

router = APIRouter(prefix="/analyses", tags=["analyses"])

KINDS = ("ecosystems", "habitat", "overlap", "gaps", "loss")

#: Ecosystem classifications finer than this (minutes of arc) are computed in the background
#: even when the request does not ask for it: the default 1' takes about 8 s here, the finest
#: the API allows (0.13') about two minutes, past what a proxy waits for an answer.
ASYNC_FINER_THAN_ARCMIN = 0.5

#: The 202 answer as the OpenAPI document describes it.
ACCEPTED = accepted_responses(
    "Accepted: the run recorded as `running`, with `Location`; its record tells when it has "
    "ended (`succeeded` or `failed`), and while it runs the step it is at (`results.progress`)."
)
FeatureKind = Annotated[str | None, Query(pattern="^[a-z_]{1,32}$", description="Feature kind")]


def _is_staff(request: Request) -> bool:
    """Analysts and administrators see who ran an analysis and why one failed inside."""
    principal = getattr(request.state, "principal", None)
    return principal is not None and principal.has(Role.analyst, Role.admin)


def _settle(engine: EngineDep, runs: list[m.AnalysisRun]) -> bool:
    """Mark the runs whose server stopped while they worked in the background (their
    heartbeat is old) as failed, where a run about to be shown is still ``running``; True
    when one was marked (the runs are to be read again)."""
    if not any(r.status == m.RunStatus.running.value for r in runs):
        return False
    return bg.expire_stale_runs(engine) > 0


def _kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise InvalidInput(en("kind must be one of {kinds}", kinds=", ".join(KINDS)))
    return kind


@router.get("", summary="Analysis runs, newest first")
def list_analyses(
    request: Request,
    session: ReadSessionDep,
    engine: EngineDep,
    kind: Annotated[str | None, Query(description="Only runs of this kind")] = None,
    f: Annotated[str | None, Query(description="html or json")] = None,
) -> Response:
    runs = an.list_runs(session, _kind(kind))
    if _settle(engine, runs):
        session.expire_all()
        runs = an.list_runs(session, _kind(kind))
    staff = _is_staff(request)
    body = {"runs": [an.run_summary(r, staff=staff) for r in runs], "kinds": list(KINDS)}
    if wants_html(request, f):
        errors = {r.id: an.run_error(r) for r in runs}
        return render(
            request,
            "analyses_list.html",
            runs=runs,
            errors=errors,
            kind=kind,
            kinds=KINDS,
            staff=staff,
        )
    return JSONResponse(body)


def _downloads(run: m.AnalysisRun, has_raster: bool) -> list[dict[str, str]]:
    base = f"/analyses/{run.id}"
    if run.status == m.RunStatus.running.value:  # nothing to download yet but the record
        return [{"rel": "results", "href": f"{base}?f=json", "title": "Run record (JSON)"}]
    links = [
        {"rel": "results", "href": f"{base}?f=json", "title": "Run record (JSON)"},
        {"rel": "table", "href": f"{base}/table.csv", "title": "Result table (CSV)"},
    ]
    links.append({"rel": "features", "href": f"{base}/features", "title": "Result layer (GeoJSON)"})
    if has_raster:
        links.append({"rel": "raster", "href": f"{base}/raster.tif", "title": "Raster (GeoTIFF)"})
    return links


def _raster_row(session: ReadSessionDep, run: m.AnalysisRun) -> m.RasterDataset | None:
    if run.kind != "ecosystems" or run.status != "succeeded":
        return None
    return session.scalar(
        select(m.RasterDataset).where(m.RasterDataset.name == f"ecosystems_run_{run.id}")
    )


@router.get("/{run_id}", summary="One run: parameters, inputs with versions, results")
def get_analysis(
    run_id: int,
    request: Request,
    session: ReadSessionDep,
    engine: EngineDep,
    f: Annotated[str | None, Query(description="html or json")] = None,
) -> Response:
    run = an.get_run(session, run_id)
    if _settle(engine, [run]):
        session.expire_all()
        run = an.get_run(session, run_id)
    downloads = _downloads(run, _raster_row(session, run) is not None)
    staff = _is_staff(request)
    body = an.run_summary(run, full=True, staff=staff) | {"downloads": downloads}
    if wants_html(request, f):
        tables = _tables(run)
        return render(
            request,
            "analysis_detail.html",
            run=run,
            error=an.run_error(run),
            staff=staff,
            error_detail=an.error_detail(run) if staff else None,
            map=_map(session, run, map_tools(request)),
            downloads=downloads,
            tables=tables,
            parameters=an.parameter_rows(run.parameters, request_locale(request)),
            inputs=json.dumps(run.inputs, indent=1, ensure_ascii=False),
        )
    return JSONResponse(body)


#: Map colours of the result layer, by the first property found.
_COLOURS = {
    "Panthera uncia": "#8e24aa",
    "Gazella subgutturosa": "#ef6c00",
    "mountain": "#8d6e63",
    "arid_lowland": "#fdd835",
    "other": "#42a5f5",
}
_TOOLTIP = ("species", "ecosystem", "kind", "label", "iso3", "rank", "layer", "area_ha")


def _style(feature: dict[str, Any]) -> dict[str, Any]:
    p = feature["properties"]
    key = p.get("species") or p.get("kind")
    colour = _COLOURS.get(str(key), "#d84315")
    return {"color": colour, "fillColor": colour, "weight": 0.8, "fillOpacity": 0.45}


def _map(session: ReadSessionDep, run: m.AnalysisRun, tools: maps.MapTools) -> maps.MapParts | None:
    """The run's result layer on Irbis's own basemap (simplified for the page)."""
    if run.status != "succeeded":
        return None
    fc = an.run_features(session, run, simplify=0.005)
    if not fc["features"]:
        return None
    m = maps.base_map(tr=tools.tr, relief_version=tools.relief_version)
    props = fc["features"][0]["properties"]
    fields = [f for f in _TOOLTIP if f in props]
    folium.GeoJson(
        fc,
        name=f"{run.kind} results (run {run.id})",
        style_function=_style,
        tooltip=folium.GeoJsonTooltip(fields=fields) if fields else None,
    ).add_to(m)
    minx, miny, maxx, maxy = gpd.GeoDataFrame.from_features(fc["features"]).total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return maps.finish(m, [], title=f"Analysis {run.id}", tools=tools)


def _tables(
    run: m.AnalysisRun,
) -> list[tuple[str, list[tuple[str, str]], list[list[str]]]]:
    """The result tables of a run, formatted for the page in the reader's language: each
    table's title, its columns (name in the CSV, header) and its rows."""
    out = []
    for key, value in (run.results or {}).items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            cols = an.ordered_columns(list(value[0]))
            rows = [[result_value(c, _fmt(r.get(c))) for c in cols] for r in value[:200]]
            out.append((result_table(key), [(c, result_column(c)) for c in cols], rows))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return "" if v is None else str(v)


@router.get("/{run_id}/features", summary="The run's result layer as GeoJSON (download)")
def get_features(run_id: int, session: ReadSessionDep, kind: FeatureKind = None) -> Response:
    run = an.get_run(session, run_id)
    fc = an.run_features(session, run, kind)
    return Response(
        json.dumps(fc, ensure_ascii=False),
        media_type="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="analysis_{run_id}.geojson"'},
    )


@router.get("/{run_id}/table.csv", summary="The run's main result table (CSV)")
def get_table(run_id: int, session: ReadSessionDep) -> Response:
    run = an.get_run(session, run_id)
    buf = io.StringIO()
    csv_safe(an.run_table(run)).to_csv(buf, index=False)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="analysis_{run_id}.csv"'},
    )


@router.get("/{run_id}/raster.tif", summary="The run's raster output (ecosystems: GeoTIFF)")
def get_raster(run_id: int, session: ReadSessionDep) -> Response:
    run = an.get_run(session, run_id)
    row = _raster_row(session, run)
    if row is None or not Path(row.path).is_file():
        raise NotFound(en("analysis run {run} has no raster output", run=run_id))
    return FileResponse(row.path, media_type="image/tiff", filename=f"ecosystems_run_{run_id}.tif")


# ------------------------------------------------------------------------------------------
# Running an analysis through the API (analysts and administrators)
# ------------------------------------------------------------------------------------------


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EcosystemsParams(_Params):
    resolution_arcmin: float = Field(1.0, gt=0.12, le=15)
    fine: str | None = "dem_gebco_tianshan_pamir"
    coarse: str = "dem_coarse_region"


class HabitatParams(_Params):
    species: list[str] = ["Panthera uncia", "Gazella subgutturosa"]
    ecosystems_run: int | None = None
    overrides: dict[str, dict[str, Any]] = {}


class OverlapParams(_Params):
    layers: list[str] = Field(min_length=2, max_length=6)
    as_of: dt.date | None = None


class GapsParams(_Params):
    habitat_run: int | None = None
    min_gap_ha: float = Field(1.0, ge=0)
    as_of: dt.date | None = None


class LossParams(_Params):
    threat: str | None = None
    epochs: dict[str, str] = {}
    as_of: dt.date | None = None


PARAMS: dict[str, type[_Params]] = {
    "ecosystems": EcosystemsParams,
    "habitat": HabitatParams,
    "overlap": OverlapParams,
    "gaps": GapsParams,
    "loss": LossParams,
}


class AnalysisRequest(BaseModel):
    """A run to make: its kind, an optional title and the kind's parameters."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(ecosystems|habitat|overlap|gaps|loss)$")
    title: str | None = Field(None, max_length=200)
    parameters: dict[str, Any] = {}


def _require_analyst(principal: Principal) -> str:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in as an analyst or administrator to run an analysis"))
    if not principal.has(Role.analyst, Role.admin):
        raise Forbidden(en("only analysts and administrators may run analyses"))
    return principal.username or f"user:{principal.user_id}"


#: The kinds whose computation reports its steps (``progress``).
_SAYS_STEPS = (EcosystemsParams, HabitatParams, GapsParams)


def _compute(engine: Engine, settings: Settings, p: _Params, kw: dict[str, Any]) -> int:
    """Run the analysis ``p`` describes; returns its run's id."""
    if isinstance(p, EcosystemsParams):
        return an.run_ecosystems(
            engine,
            settings,
            resolution_deg=p.resolution_arcmin / 60,
            fine=p.fine,
            coarse=p.coarse,
            **kw,
        )
    if isinstance(p, HabitatParams):
        return an.run_habitat(
            engine,
            settings,
            p.species,
            ecosystems_run=p.ecosystems_run,
            overrides=p.overrides,
            **kw,
        )
    if isinstance(p, OverlapParams):
        return an.run_overlap(engine, settings, p.layers, as_of=p.as_of, **kw)
    if isinstance(p, GapsParams):
        return an.run_gaps(
            engine,
            settings,
            habitat_run=p.habitat_run,
            min_gap_ha=p.min_gap_ha,
            as_of=p.as_of,
            **kw,
        )
    assert isinstance(p, LossParams)
    return an.run_loss(engine, settings, threat=p.threat, epochs=p.epochs, as_of=p.as_of, **kw)


def _in_background(
    engine: Engine, settings: Settings, kind: str, p: _Params, kw: dict[str, Any]
) -> None:
    """The work of a run recorded at its start: how it ended is in its record. A failure is
    recorded (and, when unexpected, logged) by the recorder, or here where the analysis
    refused its parameters before computing; a run marked stopped keeps that."""
    try:
        _compute(engine, settings, p, kw)
    except bg.RunStopped:
        pass
    except Exception as exc:
        an.fail_started_run(engine, kw["record"], kind, exc, kw["actor"])


def _parameters(body: AnalysisRequest) -> _Params:
    try:
        return PARAMS[body.kind].model_validate(body.parameters)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "parameters"
        raise InvalidInput(
            en(
                "{kind} parameter {where}: {problem}",
                kind=body.kind,
                where=where,
                problem=first["msg"],
            )
        ) from None


@router.post(
    "", status_code=201, responses=ACCEPTED, summary="Run an analysis and store it (analysts)"
)
def create_analysis(
    body: AnalysisRequest,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    prefer: PreferHeader = None,
) -> JSONResponse:
    """Run an analysis now and store it as a record; 201 with its Location. Bad parameters
    answer 400 and store nothing; a run that fails is stored as failed and answered with
    the error.

    With ``Prefer: respond-async`` (and for an ecosystem classification finer than half a
    minute of arc, asked or not) the run is recorded as ``running`` and answered 202 at once;
    it is computed on the server's background thread, and its record
    (``GET /analyses/{id}?f=json``) tells how it ended."""
    actor = _require_analyst(principal)
    p = _parameters(body)
    kw: dict[str, Any] = {"actor": actor, "title": body.title}
    asked = prefers_async(prefer)
    fine = isinstance(p, EcosystemsParams) and p.resolution_arcmin < ASYNC_FINER_THAN_ARCMIN
    if asked or fine:
        runner = background_runner(request)
        run_id = an.start_run(
            engine, body.kind, p.model_dump(mode="json"), actor=actor, title=body.title
        )
        kw["record"] = run_id
        if isinstance(p, _SAYS_STEPS):
            kw["progress"] = an.progress_recorder(engine, run_id)
        runner.submit(
            "analysis", run_id, lambda: _in_background(engine, settings, body.kind, p, kw)
        )
        with Session(engine) as s:
            started = an.run_summary(an.get_run(s, run_id), full=True, staff=True)
        where = f"/analyses/{run_id}"
        return accepted(started, where, f"{where}?f=json", asked)
    run_id = _compute(engine, settings, p, kw)
    with Session(engine) as s:
        summary = an.run_summary(an.get_run(s, run_id), full=True, staff=True)
    return JSONResponse(summary, status_code=201, headers={"Location": f"/analyses/{run_id}"})
