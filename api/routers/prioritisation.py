"""/prioritisation: planning grids and scenarios (minimum set or budgeted coverage plans).

Anyone may read grids, scenarios, their results and their units as GeoJSON (hexagons of
hundreds of km² with aggregated habitat areas: no precise location of any animal). Only
analysts and administrators may compute a grid or solve a scenario.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session

from api.auth.principal import Principal, PrincipalDep, Role
from api.deps import EngineDep, ReadSessionDep, SettingsDep
from api.services import prioritisation as prio
from api.templating import render
from geo.errors import Forbidden, NotFound, Unauthenticated

router = APIRouter(prefix="/prioritisation", tags=["prioritisation"])

GridId = Annotated[int, Path(ge=1, le=prio.MAX_ID, description="Planning grid id.")]
ScenarioId = Annotated[int, Path(ge=1, le=prio.MAX_ID, description="Scenario id.")]

#: Registry layers drawn under a plan's map, when published.
MAP_CONTEXT = ("countries", "protected_areas", "threats")


def _require_analyst(principal: Principal) -> str:
    if principal.is_anonymous:
        raise Unauthenticated("log in as an analyst or administrator to run a prioritisation")
    if not principal.has(Role.analyst, Role.admin):
        raise Forbidden("only analysts and administrators may run a prioritisation")
    return principal.username or f"user:{principal.user_id}"


@router.get("/grids", summary="Planning grids")
def list_grids(session: ReadSessionDep) -> dict[str, Any]:
    return {"grids": prio.list_grids(session)}


@router.post("/grids", status_code=201, summary="Compute and store a planning grid")
def create_grid(
    params: prio.GridParams, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> JSONResponse:
    actor = _require_analyst(principal)
    grid_id = prio.build_grid(engine, params, actor=actor, data_dir=settings.data_dir)
    with Session(engine) as s:
        body = prio.grid_summary(prio.get_grid(s, grid_id))
    return JSONResponse(
        body, status_code=201, headers={"Location": f"/prioritisation/grids/{grid_id}"}
    )


@router.get("/grids/{grid_id}", summary="One planning grid")
def get_grid(grid_id: GridId, session: ReadSessionDep) -> dict[str, Any]:
    return prio.grid_summary(prio.get_grid(session, grid_id))


@router.get("/scenarios", summary="Prioritisation scenarios")
def list_scenarios(session: ReadSessionDep) -> dict[str, Any]:
    return {"scenarios": prio.list_scenarios(session)}


@router.post("/scenarios", status_code=201, summary="Solve and store a scenario")
def create_scenario(
    params: prio.ScenarioParams, engine: EngineDep, principal: PrincipalDep
) -> JSONResponse:
    """Solve a scenario on a grid. An infeasible target set answers 422 with the features
    that cannot be met, and nothing is stored."""
    actor = _require_analyst(principal)
    scenario_id = prio.run_scenario(engine, params, actor=actor)
    with Session(engine) as s:
        body = prio.scenario_summary(prio.get_scenario(s, scenario_id), full=True)
    return JSONResponse(
        body, status_code=201, headers={"Location": f"/prioritisation/scenarios/{scenario_id}"}
    )


@router.get("/scenarios/{scenario_id}", summary="One scenario: parameters, inputs, solver")
def get_scenario(scenario_id: ScenarioId, session: ReadSessionDep) -> dict[str, Any]:
    return prio.scenario_summary(prio.get_scenario(session, scenario_id), full=True)


@router.get("/scenarios/{scenario_id}/results", summary="Targets, ecosystems, grant options")
def get_results(scenario_id: ScenarioId, session: ReadSessionDep) -> dict[str, Any]:
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
def scenarios_page(request: Request, session: ReadSessionDep) -> HTMLResponse:
    scenarios = prio.list_scenarios(session)
    for sc in scenarios:
        greedy = prio.get_scenario(session, sc["id"]).results or {}
        sc["greedy_cost"] = (greedy.get("greedy") or {}).get("cost")
        sc["summary"] = sc["summary"] or {}
        sc["solver"] = sc["solver"] or {}
    return render(request, "prioritisation_list.html", scenarios=scenarios)


@router.get("/scenarios/{scenario_id}/map", response_class=HTMLResponse, include_in_schema=False)
async def scenario_map(
    request: Request, scenario_id: ScenarioId, session: ReadSessionDep
) -> HTMLResponse:
    from layers.prioritisation import plan_map
    from layers.registry import get_layer, layer_ids

    def read() -> tuple[Any, Any, Any]:
        sc = prio.get_scenario(session, scenario_id)
        if sc.status != "solved":
            raise NotFound(f"scenario {scenario_id} is {sc.status}: it has no plan to map")
        units = prio.scenario_units_geojson(session, scenario_id, selected_only=False)
        return sc, units, prio.grid_bounds(session, sc.grid_id)

    sc, units, bounds = await run_in_threadpool(read)  # the database, off the event loop
    known = set(layer_ids())
    context = [get_layer(i) for i in MAP_CONTEXT if i in known]
    parts = await run_in_threadpool(plan_map, units, context, title=sc.name, bounds=bounds)
    s = (sc.results or {}).get("summary", {})
    solver = sc.solver or {}
    gap = solver.get("gap")
    lead = (
        f"{s.get('n_selected')} of {s.get('n_units')} units selected "
        f"({s.get('selected_area_km2', 0):,.0f} km²), cost {solver.get('cost', 0):,.0f}, "
        f"{s.get('targets_met')} of {s.get('n_features')} targets met; "
        f"{solver.get('method')} solver, {solver.get('status')}"
        + (f", gap {gap:.2%}" if gap is not None else "")
        + ". Purple units are the plan, darker where more of the perturbed plans chose them; "
        "red outlines are locked out. Protected areas, grants and the resort footprint in the "
        "demo are examples."
    )
    links = [
        ("/prioritisation", "all scenarios"),
        (f"/prioritisation/scenarios/{scenario_id}/results", "results (JSON)"),
        (f"/prioritisation/scenarios/{scenario_id}/units", "selected units (GeoJSON)"),
    ]
    return render(
        request,
        "prioritisation_scenario.html",
        scenario=sc,
        lead=lead,
        links=links,
        map=parts,
        results=sc.results or {},
        solver=solver,
    )
