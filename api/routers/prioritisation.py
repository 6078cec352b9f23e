"""/prioritisation: planning grids and scenarios (minimum set or budgeted coverage plans).

Anyone may read grids, scenarios, their results and their units as GeoJSON (hexagons of
hundreds of km² with aggregated habitat areas: no precise location of any animal). Only
analysts and administrators may compute a grid or solve a scenario: with the JSON API or with
the forms (``/prioritisation/grids/new``,
``/prioritisation/scenarios/new``), whose work runs on a background thread while the page
polls the record's progress. A run whose server stopped before it ended (its heartbeat is old)
is marked failed when its page, the list or its JSON is read, saying to run it again.

The JSON API answers a small grid or a scenario when it is done (201). A request with
``Prefer: respond-async`` (RFC 7240), and a grid at resolution :data:`ASYNC_FROM_RESOLUTION`
or finer (tens of thousands of units: minutes of work, longer than a proxy keeps a request
open), is answered at once with 202: the record as it starts, its ``Location``, and the run on
the background thread, whose status ``GET /prioritisation/{grids|scenarios}/{id}`` (or
``/status``) tells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.auth.principal import Principal, PrincipalDep, Role
from api.deps import EngineDep, ReadSessionDep, SettingsDep
from api.i18n import _, _l, translate
from api.respond_async import (
    PreferHeader,
    accepted,
    accepted_responses,
    background_runner,
    prefers_async,
)
from api.services import background as bg
from api.services import prioritisation as prio
from api.templating import map_tools, render, request_locale
from geo.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    IrbisError,
    NotFound,
    Unauthenticated,
)
from geo.lazy import lazy_module
from geo.messages import Message, en
from layers.registry import get_layer, layer_ids

if TYPE_CHECKING:
    from pathlib import Path as FilePath

    from sqlalchemy import Engine

    from layers import prioritisation as lp
else:  # folium: not on the start path (geo.lazy)
    lp = lazy_module("layers.prioritisation")

router = APIRouter(prefix="/prioritisation", tags=["prioritisation"])

GridId = Annotated[int, Path(ge=1, le=prio.MAX_ID, description="Planning grid id.")]
ScenarioId = Annotated[int, Path(ge=1, le=prio.MAX_ID, description="Scenario id.")]

#: Grids this fine or finer are built on the background thread even when the request does
#: not ask for it: at resolution 5 the four countries make about 12,000 units (half a minute
#: of work or more), at 6 about 84,000 (minutes).
ASYNC_FROM_RESOLUTION = 5

#: The 202 answer as the OpenAPI document describes it.
ACCEPTED = accepted_responses(
    "Accepted: the record as it starts (a grid `building`, a scenario `pending`), with "
    "`Location`; its status tells when the work has ended."
)

#: Registry layers drawn under a plan's map, when published.
MAP_CONTEXT = ("countries", "protected_areas", "threats")

#: The steps of a run as the pages say them (the service reports them in English).
STEP_TEXT: dict[str | None, Any] = {
    None: _l("Waiting to start"),
    prio.GRID_STEPS[0]: _l("Reading the layers"),
    prio.GRID_STEPS[1]: _l("Reading the habitat"),
    prio.GRID_STEPS[2]: _l("Laying out the hexagons"),
    prio.GRID_STEPS[3]: _l("Measuring habitat, protection, threats and costs in each unit"),
    prio.GRID_STEPS[4]: _l("Storing the units and naming them by place"),
    prio.SCENARIO_STEPS[0]: _l("Reading the grid"),
    prio.SCENARIO_STEPS[1]: _l("Solving the plan exactly (HiGHS)"),
    prio.SCENARIO_STEPS[2]: _l("Greedy baseline"),
    prio.SCENARIO_STEPS[3]: _l("Perturbed plans (how often each unit is chosen)"),
    prio.SCENARIO_STEPS[4]: _l("Replacement cost of the top units"),
    prio.SCENARIO_STEPS[5]: _l("Storing the plan"),
}
#: Statuses of grids and scenarios as the pages say them.
STATUS_TEXT: dict[str, Any] = {
    "ready": _l("ready"),
    "building": _l("building"),
    "pending": _l("waiting"),
    "running": _l("running"),
    "solved": _l("solved"),
    "infeasible": _l("infeasible"),
    "failed": _l("failed"),
}
#: Why a run failed, as the pages say it, where the service gives a reason of its own.
ERROR_TEXT: dict[str, Any] = {
    bg.STOPPED: _l("The server stopped while this ran; run it again."),
    prio.UNEXPECTED: _l("An unexpected error stopped the run; it is in the server's log."),
}


def _require_analyst(principal: Principal) -> str:
    if principal.is_anonymous:
        raise Unauthenticated(en("log in as an analyst or administrator to run a prioritisation"))
    if not principal.has(Role.analyst, Role.admin):
        raise Forbidden(en("only analysts and administrators may run a prioritisation"))
    return principal.username or f"user:{principal.user_id}"


def _is_analyst(principal: Principal) -> bool:
    return not principal.is_anonymous and principal.has(Role.analyst, Role.admin)


def _accepted(started: dict[str, Any], kind: str, record_id: int, asked: bool) -> JSONResponse:
    """202 for a grid or scenario handed to the background thread."""
    where = f"/prioritisation/{kind}/{record_id}"
    return accepted(started, where, f"{where}/status", asked)


def _start_grid_run(
    request: Request, engine: Engine, data_dir: FilePath, params: prio.GridParams, actor: str
) -> int:
    """Record a grid as ``building`` and hand its build to the background thread; returns its
    id. What can be refused (a name taken, an unknown country, a server stopping) is refused
    before anything is stored."""
    runner = background_runner(request)
    grid_id = prio.start_grid(engine, params, actor=actor)
    runner.submit(
        "grid",
        grid_id,
        lambda: prio.finish_grid(engine, grid_id, params, actor=actor, data_dir=data_dir),
    )
    return grid_id


def _start_scenario_run(
    request: Request, engine: Engine, params: prio.ScenarioParams, actor: str
) -> int:
    """Record a scenario as ``pending`` and hand its solve to the background thread; returns
    its id. What can be refused is refused before anything is stored."""
    runner = background_runner(request)
    sid = prio.start_scenario(engine, params, actor=actor)
    runner.submit(
        "scenario", sid, lambda: prio.solve_in_background(engine, sid, params, actor=actor)
    )
    return sid


def error_text(error: dict[str, Any] | None) -> str | None:
    """A run's error message in the language of the request."""
    message = (error or {}).get("message")
    if message is None:
        return None
    if message in ERROR_TEXT:
        return str(ERROR_TEXT[message])
    # the stored English, in the reader's language where the catalogs know it
    return translate(message) if message else ""


def place_words() -> prio.PlaceWords:
    return prio.PlaceWords(
        near=_("near %(place)s"), district=_("%(name)s district"), region=_("%(name)s region")
    )


def cost_text(parameters: dict[str, Any]) -> tuple[str, str]:
    """The unit of a grid's costs, short (for a column) and said in full."""
    base, weighted = prio.cost_unit(parameters)
    if base == "uniform":
        short = _("cost units")
        said = _("Each unit costs 1 (uniform cost): a plan's cost is its number of units.")
    else:
        short = _("km²")
        said = _("A unit's cost is its land area in km².")
    if weighted:
        said += " " + _(
            "It is raised by the grid's weights for threat pressure and nearness to towns "
            "and roads, so it reads as weighted km²."
        )
    return short, said


# --------------------------------------------------------------------------------------------
# Forms: build a grid, solve a scenario (analysts and administrators)
# --------------------------------------------------------------------------------------------


def _login(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


#: Form fields entered in per cent (the API takes shares of 1).
PERCENT_FIELDS = {"target", "targets", "budget_share", "lock_in_protected"}


def _message(field: str, err: Any) -> str:
    """A complaint of pydantic's, said in the language of the page where it is a common one."""
    kind, ctx = err.get("type"), err.get("ctx") or {}
    if field in PERCENT_FIELDS and kind in {
        "less_than_equal",
        "greater_than_equal",
        "greater_than",
    }:
        return _("Enter a percentage between 0 and 100.")
    if kind in {"missing", "string_too_short"}:
        return _("Fill in this field.")
    if kind in {"int_parsing", "float_parsing", "int_from_float"}:
        return _("Enter a whole number.") if kind != "float_parsing" else _("Enter a number.")
    if kind == "less_than_equal":
        return _("At most %(limit)s.") % {"limit": ctx.get("le")}
    if kind in {"greater_than_equal", "greater_than"}:
        return _("At least %(limit)s.") % {"limit": ctx.get("ge", ctx.get("gt"))}
    said = ctx.get("error")
    if isinstance(said, ValueError) and said.args and isinstance(said.args[0], Message):
        return translate(said.args[0])  # a validator's own complaint (geo.messages.en)
    return str(err["msg"]).removeprefix("Value error, ")


def _errors(exc: ValidationError, fields: set[str]) -> dict[str, str]:
    """Pydantic's complaints by form field (the first part of each location)."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        field = loc[0] if loc and loc[0] in fields else "form"
        out.setdefault(field, _message(field, err))
    return out


def _field_of(exc: IrbisError) -> str:
    """The form field a refusal is about (``details.field``), else the whole form."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return str(details.get("field") or "form")


def _number(form: Any, name: str, scale: float = 1.0) -> float | None:
    raw = str(form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw) / scale
    except ValueError:
        raise InvalidInput(_("Enter a number."), details={"field": name}) from None


def _lines(form: Any, name: str) -> list[str]:
    raw = str(form.get(name) or "").replace(",", "\n").replace(";", "\n")
    return [x.strip() for x in raw.splitlines() if x.strip()]


GRID_FIELDS = {
    "name",
    "resolution",
    "countries",
    "habitat",
    "by_country",
    "threat_buffer_km",
    "cost",
    "min_feature_km2",
}


def _grid_values(form: Any) -> dict[str, Any]:
    cost: dict[str, Any] = {"base": str(form.get("cost_base") or "area")}
    for key in ("threat_weight", "town_weight", "road_weight"):
        value = _number(form, key)
        if value is not None:
            cost[key] = value
    values: dict[str, Any] = {
        "name": str(form.get("name") or "").strip() or None,
        "resolution": str(form.get("resolution") or "4"),
        "countries": [str(c) for c in form.getlist("countries")],
        "habitat": str(form.get("habitat") or "auto"),
        "by_country": form.get("by_country") == "on",
        "cost": cost,
    }
    for key in ("threat_buffer_km", "min_feature_km2"):
        value = _number(form, key)
        if value is not None:
            values[key] = value
    return values


def _grid_form(
    request: Request, session: Session, values: dict[str, Any], errors: dict[str, str]
) -> HTMLResponse:
    return render(
        request,
        "prioritisation_grid_form.html",
        status_code=400 if errors else 200,
        values=values,
        errors=errors,
        choices=prio.form_choices(session),
        resolutions=range(prio.MIN_RESOLUTION, prio.MAX_RESOLUTION + 1),
    )


@router.get("/grids/new", response_class=HTMLResponse, include_in_schema=False)
def new_grid_form(request: Request, principal: PrincipalDep, session: ReadSessionDep) -> Response:
    if principal.is_anonymous:
        return _login("/prioritisation/grids/new")
    _require_analyst(principal)
    defaults = {"resolution": "4", "countries": list(prio.PROGRAMME_COUNTRIES), "by_country": True}
    return _grid_form(request, session, defaults, {})


@router.post("/grids/new", response_class=HTMLResponse, include_in_schema=False)
async def new_grid_submit(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    session: ReadSessionDep,
) -> Response:
    actor = _require_analyst(principal)
    async with request.form(max_files=0, max_fields=40) as form:
        try:
            values = _grid_values(form)
        except InvalidInput as exc:
            values, errors = {}, {_field_of(exc): translate(exc.message)}
            return await run_in_threadpool(_grid_form, request, session, values, errors)
    try:
        params = prio.GridParams.model_validate(values)
        grid_id = await run_in_threadpool(
            _start_grid_run, request, engine, settings.data_dir, params, actor
        )
    except ValidationError as exc:
        errors = _errors(exc, GRID_FIELDS)
        return await run_in_threadpool(_grid_form, request, session, values, errors)
    except (InvalidInput, Conflict) as exc:
        field = _field_of(exc)
        errors = {field: translate(exc.message)}
        return await run_in_threadpool(_grid_form, request, session, values, errors)
    return RedirectResponse(f"/prioritisation/grids/{grid_id}/progress", status_code=303)


SCENARIO_FIELDS = {
    "name",
    "grid_id",
    "objective",
    "target",
    "targets",
    "features",
    "budget",
    "budget_share",
    "boundary_penalty",
    "lock_in_protected",
    "lock_out_threats",
    "lock_in_units",
    "lock_out_units",
    "portfolio_runs",
}


def _scenario_values(form: Any) -> dict[str, Any]:
    """The scenario form's fields in the API's shape (shares are entered in per cent)."""
    values: dict[str, Any] = {
        "name": str(form.get("name") or "").strip(),
        "grid_id": str(form.get("grid_id") or ""),
        "objective": str(form.get("objective") or "min_set"),
        "lock_out_threats": [str(t) for t in form.getlist("lock_out_threats")],
        "lock_in_units": _lines(form, "lock_in_units"),
        "lock_out_units": _lines(form, "lock_out_units"),
        "lock_in_protected": _number(form, "lock_in_protected", 100),
        "targets": {},
    }
    for key, scale in (("target", 100.0), ("budget_share", 100.0), ("budget", 1.0)):
        value = _number(form, key, scale)
        if value is not None:
            values[key] = value
    for key in ("boundary_penalty", "portfolio_runs"):
        value = _number(form, key)
        if value is not None:
            values[key] = int(value) if key == "portfolio_runs" else value
    for key in form:
        if str(key).startswith("target:"):
            value = _number(form, str(key), 100)
            if value is not None:
                values["targets"][str(key).removeprefix("target:")] = value
    return values


def _scenario_form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    grid_id: int | None = None,
) -> HTMLResponse:
    choices = prio.form_choices(session)
    wanted = grid_id or values.get("grid_id")
    grid = next((g for g in choices["grids"] if str(g["id"]) == str(wanted)), None)
    grid = grid or (choices["grids"][0] if choices["grids"] else None)
    return render(
        request,
        "prioritisation_scenario_form.html",
        status_code=400 if errors else 200,
        values=values,
        errors=errors,
        choices=choices,
        grid=grid,
        cost=cost_text(grid["parameters"]) if grid else None,
    )


@router.get("/scenarios/new", response_class=HTMLResponse, include_in_schema=False)
def new_scenario_form(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    grid: Annotated[int | None, Query(ge=1, le=prio.MAX_ID)] = None,
) -> Response:
    if principal.is_anonymous:
        return _login("/prioritisation/scenarios/new")
    _require_analyst(principal)
    defaults = {"objective": "min_set", "target": 0.3, "lock_in_protected": 0.5, "targets": {}}
    return _scenario_form(request, session, defaults, {}, grid)


@router.post("/scenarios/new", response_class=HTMLResponse, include_in_schema=False)
async def new_scenario_submit(
    request: Request, principal: PrincipalDep, engine: EngineDep, session: ReadSessionDep
) -> Response:
    actor = _require_analyst(principal)
    async with request.form(max_files=0, max_fields=200) as form:
        try:
            values = _scenario_values(form)
        except InvalidInput as exc:
            field = _field_of(exc)
            values = {k: form.get(k) for k in SCENARIO_FIELDS if k in form}
            return await run_in_threadpool(
                _scenario_form, request, session, values, {field: translate(exc.message)}
            )
    try:
        params = prio.ScenarioParams.model_validate(values)
        sid = await run_in_threadpool(_start_scenario_run, request, engine, params, actor)
    except ValidationError as exc:
        errors = _errors(exc, SCENARIO_FIELDS)
        return await run_in_threadpool(_scenario_form, request, session, values, errors)
    except (InvalidInput, NotFound) as exc:
        field = _field_of(exc)
        return await run_in_threadpool(
            _scenario_form, request, session, values, {field: translate(exc.message)}
        )
    return RedirectResponse(f"/prioritisation/scenarios/{sid}/progress", status_code=303)


# --------------------------------------------------------------------------------------------
# Progress: a page that polls the record's status
# --------------------------------------------------------------------------------------------


def _status_body(kind: str, record_id: int, state: dict[str, Any]) -> dict[str, Any]:
    """A run's status for the progress page, said in the language of the request."""
    progress = state.get("progress") or {}
    status = state["status"]
    finished = status in ("ready", "solved", "infeasible", "failed")
    step = progress.get("message")
    # a run that has ended without a step on record (a built grid keeps none) was not waiting
    message = "" if finished and not progress else str(STEP_TEXT.get(step, step or ""))
    done = {
        "grid": f"/prioritisation/scenarios/new?grid={record_id}",
        "scenario": f"/prioritisation/scenarios/{record_id}/map",
    }[kind]
    return {
        "status": status,
        "status_text": str(STATUS_TEXT.get(status, status)),
        "finished": finished,
        "succeeded": status in ("ready", "solved"),
        "step": progress.get("step", 0),
        "steps": progress.get("steps", 0),
        "message": message,
        "error": error_text(state.get("error")),
        "next": done,
    }


def _state(session: Session, kind: str, record_id: int) -> dict[str, Any]:
    """Where a run is (runs whose server stopped are marked so first: see
    :func:`_expire_stale`)."""
    if kind == "grid":
        return prio.run_progress(prio.get_grid(session, record_id))
    return prio.run_progress(prio.get_scenario(session, record_id))


def _expire_stale(engine: Any) -> None:
    """Mark the runs whose server stopped (their heartbeat is old) as failed, before a page
    or a JSON answer about runs is read."""
    bg.expire_stale_runs(engine)


@router.get("/grids/{grid_id}/status", summary="Where a grid's build is (for its page)")
def grid_status(grid_id: GridId, session: ReadSessionDep, engine: EngineDep) -> dict[str, Any]:
    _expire_stale(engine)
    return _status_body("grid", grid_id, _state(session, "grid", grid_id))


@router.get("/scenarios/{scenario_id}/status", summary="Where a scenario's solve is")
def scenario_status(
    scenario_id: ScenarioId, session: ReadSessionDep, engine: EngineDep
) -> dict[str, Any]:
    _expire_stale(engine)
    return _status_body("scenario", scenario_id, _state(session, "scenario", scenario_id))


def _progress_page(
    request: Request, session: Session, engine: Any, kind: str, record_id: int
) -> Response:
    _expire_stale(engine)
    if kind == "grid":
        record: Any = prio.get_grid(session, record_id)
    else:
        record = prio.get_scenario(session, record_id)
    body = _status_body(kind, record_id, _state(session, kind, record_id))
    return render(
        request,
        "prioritisation_progress.html",
        kind=kind,
        record=record,
        state=body,
        poll=f"/prioritisation/{kind}s/{record_id}/status",
    )


@router.get("/grids/{grid_id}/progress", response_class=HTMLResponse, include_in_schema=False)
def grid_progress(
    request: Request, grid_id: GridId, session: ReadSessionDep, engine: EngineDep
) -> Response:
    return _progress_page(request, session, engine, "grid", grid_id)


@router.get(
    "/scenarios/{scenario_id}/progress", response_class=HTMLResponse, include_in_schema=False
)
def scenario_progress(
    request: Request, scenario_id: ScenarioId, session: ReadSessionDep, engine: EngineDep
) -> Response:
    return _progress_page(request, session, engine, "scenario", scenario_id)


# --------------------------------------------------------------------------------------------
# The JSON API
# --------------------------------------------------------------------------------------------


@router.get("/grids", summary="Planning grids")
def list_grids(session: ReadSessionDep, engine: EngineDep) -> dict[str, Any]:
    _expire_stale(engine)
    return {"grids": prio.list_grids(session)}


@router.post(
    "/grids", status_code=201, responses=ACCEPTED, summary="Compute and store a planning grid"
)
def create_grid(
    params: prio.GridParams,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    prefer: PreferHeader = None,
) -> JSONResponse:
    """Build a planning grid: a small one before answering (201); with
    ``Prefer: respond-async``, or at resolution 5 or finer, in the background (202)."""
    actor = _require_analyst(principal)
    asked = prefers_async(prefer)
    if asked or params.resolution >= ASYNC_FROM_RESOLUTION:
        grid_id = _start_grid_run(request, engine, settings.data_dir, params, actor)
        with Session(engine) as s:
            started = prio.grid_summary(prio.get_grid(s, grid_id))
        return _accepted(started, "grids", grid_id, asked)
    grid_id = prio.build_grid(engine, params, actor=actor, data_dir=settings.data_dir)
    with Session(engine) as s:
        body = prio.grid_summary(prio.get_grid(s, grid_id))
    return JSONResponse(
        body, status_code=201, headers={"Location": f"/prioritisation/grids/{grid_id}"}
    )


@router.get("/grids/{grid_id}", summary="One planning grid")
def get_grid(grid_id: GridId, session: ReadSessionDep, engine: EngineDep) -> dict[str, Any]:
    _expire_stale(engine)
    return prio.grid_summary(prio.get_grid(session, grid_id))


@router.get("/scenarios", summary="Prioritisation scenarios")
def list_scenarios(session: ReadSessionDep, engine: EngineDep) -> dict[str, Any]:
    _expire_stale(engine)
    return {"scenarios": prio.list_scenarios(session)}


@router.post(
    "/scenarios", status_code=201, responses=ACCEPTED, summary="Solve and store a scenario"
)
def create_scenario(
    params: prio.ScenarioParams,
    request: Request,
    engine: EngineDep,
    principal: PrincipalDep,
    prefer: PreferHeader = None,
) -> JSONResponse:
    """Solve a scenario on a grid. An infeasible target set answers 422 with the features
    that cannot be met (the attempt is kept as ``infeasible``). With ``Prefer:
    respond-async`` the scenario is checked, recorded ``pending`` and answered 202 at once;
    the solve runs in the background and its status tells how it ended."""
    actor = _require_analyst(principal)
    if prefers_async(prefer):
        sid = _start_scenario_run(request, engine, params, actor)
        with Session(engine) as s:
            started = prio.scenario_summary(prio.get_scenario(s, sid), full=True)
        return _accepted(started, "scenarios", sid, True)
    scenario_id = prio.run_scenario(engine, params, actor=actor)
    with Session(engine) as s:
        body = prio.scenario_summary(prio.get_scenario(s, scenario_id), full=True)
    return JSONResponse(
        body, status_code=201, headers={"Location": f"/prioritisation/scenarios/{scenario_id}"}
    )


@router.get("/scenarios/{scenario_id}", summary="One scenario: parameters, inputs, solver")
def get_scenario(
    scenario_id: ScenarioId, session: ReadSessionDep, engine: EngineDep
) -> dict[str, Any]:
    _expire_stale(engine)
    return prio.scenario_summary(prio.get_scenario(session, scenario_id), full=True)


@router.get("/scenarios/{scenario_id}/results", summary="Targets, ecosystems, grant options")
def get_results(
    scenario_id: ScenarioId, session: ReadSessionDep, engine: EngineDep
) -> dict[str, Any]:
    _expire_stale(engine)
    sc = prio.get_scenario(session, scenario_id)
    return {"id": sc.id, "status": sc.status, "solver": sc.solver, **(sc.results or {})}


@router.get("/scenarios/{scenario_id}/units", summary="The plan's units as GeoJSON")
def get_units(
    scenario_id: ScenarioId,
    session: ReadSessionDep,
    selected: Annotated[
        bool, Query(description="Only the selected units (false: every unit, ranked).")
    ] = True,
) -> JSONResponse:
    body = prio.scenario_units_geojson(session, scenario_id, selected_only=selected)
    return JSONResponse(body, media_type="application/geo+json")


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def scenarios_page(
    request: Request, session: ReadSessionDep, principal: PrincipalDep, engine: EngineDep
) -> HTMLResponse:
    _expire_stale(engine)
    scenarios = prio.list_scenarios(session)
    for sc in scenarios:
        sc["error_text"] = error_text(sc["error"])
        greedy = prio.get_scenario(session, sc["id"]).results or {}
        sc["greedy_cost"] = (greedy.get("greedy") or {}).get("cost")
        sc["summary"] = sc["summary"] or {}
        sc["solver"] = sc["solver"] or {}
    grids = prio.list_grids(session)
    for g in grids:
        g["error_text"] = error_text((g["inputs"] or {}).get("error"))
    return render(
        request,
        "prioritisation_list.html",
        scenarios=scenarios,
        grids=grids,
        statuses=STATUS_TEXT,
        may_plan=_is_analyst(principal),
    )


def _unit_names(
    units: dict[str, Any], places: dict[str, dict[str, Any]], lang: str
) -> dict[str, str]:
    """Each unit's name in ``lang``, by H3 index; the names also go into the map's units."""
    words = place_words()
    names = {
        h3: prio.unit_label(place, lang, fallback=h3, words=words) for h3, place in places.items()
    }
    for f in units.get("features", []):
        f["properties"]["name"] = names.get(f["id"], f["id"])
    return names


def _lead(sc: Any, cost_short: str) -> str:
    s = (sc.results or {}).get("summary", {})
    solver = sc.solver or {}
    gap = solver.get("gap")
    text = _(
        "%(selected)s of %(units)s units selected (%(area)s km²), cost %(cost)s %(cost_unit)s, "
        "%(met)s of %(features)s targets met; %(method)s solver, %(status)s."
    ) % {
        "selected": s.get("n_selected"),
        "units": s.get("n_units"),
        "area": f"{s.get('selected_area_km2', 0):,.0f}",
        "cost": f"{solver.get('cost', 0):,.0f}",
        "cost_unit": cost_short,
        "met": s.get("targets_met"),
        "features": s.get("n_features"),
        "method": solver.get("method"),
        "status": solver.get("status"),
    }
    if gap is not None:
        text += " " + _("Proven gap %(gap)s.") % {"gap": f"{gap:.2%}"}
    return text


@router.get("/scenarios/{scenario_id}/map", response_class=HTMLResponse, include_in_schema=False)
async def scenario_map(
    request: Request,
    scenario_id: ScenarioId,
    session: ReadSessionDep,
    unit: Annotated[
        str | None, Query(pattern="^[0-9a-f]{15}$", description="Show this unit (H3 index).")
    ] = None,
) -> HTMLResponse:
    lang = request_locale(request)

    def read() -> tuple[Any, Any, Any, Any]:
        sc = prio.get_scenario(session, scenario_id)
        if sc.status != "solved":
            raise NotFound(
                en(
                    "scenario {id} is {status}: it has no plan to map",
                    id=scenario_id,
                    status=sc.status,
                )
            )
        units = prio.scenario_units_geojson(session, scenario_id, selected_only=False)
        places = prio.unit_places(session, scenario_id)
        return sc, units, places, prio.get_grid(session, sc.grid_id).parameters

    sc, units, places, grid_parameters = await run_in_threadpool(read)
    names = _unit_names(units, places, lang)
    focus = next((f for f in units["features"] if f["id"] == unit), None)
    if unit is not None and focus is None:
        raise NotFound(en("scenario {id} has no unit {unit}", id=scenario_id, unit=unit))
    bounds = await run_in_threadpool(prio.grid_bounds, session, sc.grid_id)
    known = set(layer_ids())
    context = [get_layer(i) for i in MAP_CONTEXT if i in known]
    parts = await run_in_threadpool(
        lp.plan_map,
        units,
        context,
        title=sc.name,
        bounds=bounds,
        focus=focus,
        labels=map_labels(),
        tools=map_tools(request),
    )
    cost_short, cost_said = cost_text(grid_parameters)
    links = [
        ("/prioritisation", _("all scenarios")),
        (f"/prioritisation/scenarios/{scenario_id}/results", _("results (JSON)")),
        (f"/prioritisation/scenarios/{scenario_id}/units", _("selected units (GeoJSON)")),
    ]
    return render(
        request,
        "prioritisation_scenario.html",
        scenario=sc,
        lead=_lead(sc, cost_short),
        cost_short=cost_short,
        cost_said=cost_said,
        links=links,
        map=parts,
        results=sc.results or {},
        solver=sc.solver or {},
        names=names,
        focus=focus,
    )


def map_labels() -> dict[str, str]:
    """The map's layer names and tooltip labels in the language of the request."""
    return {
        "selected": _("Plan: selected units"),
        "locked_out": _("Locked out"),
        "focus": _("This unit"),
        "name": _("Place"),
        "rank": _("rank"),
        "frequency": _("chosen in (share of perturbed plans)"),
        "cost": _("cost"),
        "h3": _("H3 cell"),
    }
