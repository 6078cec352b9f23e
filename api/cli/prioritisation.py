"""``irbis prioritise ...``: planning grids and prioritisation scenarios from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from api.db.engine import make_engine
from api.settings import Settings
from geo.errors import Infeasible, IrbisError

prioritise_app = typer.Typer(
    help="Prioritise intervention areas: planning grids, scenarios, optimal plans.",
    no_args_is_help=True,
)

ACTOR = "cli:" + (os.environ.get("USER") or "unknown")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"irbis: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'parameters'}: {e['msg']}" for e in exc.errors()
    )


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _with_progress(quiet: bool, fn: Any) -> Any:
    """Run ``fn(say)`` with a rich spinner showing each step; domain errors end the command."""

    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            disable=quiet,
            transient=True,
        ) as bar:
            task = bar.add_task("starting", total=None)
            return fn(engine, lambda msg: bar.update(task, description=msg))
    except Infeasible as exc:
        details = exc.details or {}
        rows = details.get("features", []) if isinstance(details, dict) else []
        for r in rows:
            typer.secho(
                f"  {r['feature']}: target {r['target']:.6g}, at most {r['max_achievable']:.6g}",
                err=True,
            )
        raise _fail(f"infeasible: {exc.message}") from exc
    except IrbisError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()


@prioritise_app.command("grid")
def grid(
    resolution: Annotated[
        int, typer.Option(help="H3 resolution (3: ~12,400 km², 4: ~1,770 km², 5: ~250 km²).")
    ] = 4,
    country: Annotated[
        list[str] | None, typer.Option("--country", "-c", help="ISO3 codes (default: the four).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the grid.")] = None,
    habitat: Annotated[
        Path | None,
        typer.Option(help="Habitat polygons (species, ecosystem columns) instead of the stored."),
    ] = None,
    by_country: Annotated[bool, typer.Option(help="Targets per country.")] = True,
    cost_base: Annotated[str, typer.Option(help="'area' or 'uniform'.")] = "area",
    threat_weight: Annotated[float, typer.Option(help="Cost factor for threat pressure.")] = 0.0,
    town_weight: Annotated[float, typer.Option(help="Cost factor for nearness to towns.")] = 0.0,
    habitat_source: Annotated[
        str, typer.Option(help="auto, stored, modelled or regions (when no --habitat file).")
    ] = "auto",
    fine_dem: Annotated[bool, typer.Option(help='Model habitat with the 15" DEM too.')] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="Grant share counts the field sites of grants under way on this date "
            "(default: today); stored with the grid.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Compute a planning grid over the countries from the stored layers, and store it."""
    from api.services import prioritisation as prio

    try:
        params = prio.GridParams(
            as_of=as_of,
            name=name,
            resolution=resolution,
            countries=_split(country) or list(prio.PROGRAMME_COUNTRIES),
            by_country=by_country,
            habitat=habitat_source,
            fine_dem=fine_dem,
            cost=prio.CostParams(
                base=cost_base, threat_weight=threat_weight, town_weight=town_weight
            ),
        )
    except ValidationError as exc:
        bad_day = next((e for e in exc.errors() if e["loc"][:1] == ("as_of",)), None)
        if bad_day is not None:
            why = str(bad_day["msg"]).removeprefix("Input should be a valid date or datetime, ")
            raise _fail(f"--as-of wants a date as YYYY-MM-DD, got {as_of!r} ({why})") from exc
        raise _fail(_validation(exc)) from exc
    hab = None
    if habitat is not None:
        from geo.io import read_vector

        try:
            hab = read_vector(habitat)
        except IrbisError as exc:
            raise _fail(exc.message) from exc

    def run(engine: Any, say: Any) -> int:
        return prio.build_grid(
            engine,
            params,
            actor=ACTOR,
            habitat=hab,
            habitat_source=str(habitat) if habitat else None,
            data_dir=Settings().data_dir,
            progress=say,
        )

    grid_id = _with_progress(quiet, run)
    typer.echo(f"planning grid {grid_id} stored")


@prioritise_app.command("solve")
def solve(
    grid_id: Annotated[int, typer.Option("--grid", help="Planning grid id.")],
    name: Annotated[str, typer.Option(help="Name of the scenario.")] = "scenario",
    objective: Annotated[str, typer.Option(help="min_set or max_coverage.")] = "min_set",
    target: Annotated[float, typer.Option(help="Share of each feature to reach (0-1).")] = 0.3,
    feature_target: Annotated[
        list[str] | None,
        typer.Option("--feature-target", help="FEATURE=SHARE for some features (repeatable)."),
    ] = None,
    budget: Annotated[float | None, typer.Option(help="Total cost allowed.")] = None,
    budget_share: Annotated[
        float | None, typer.Option(help="Budget as a share of all cost.")
    ] = None,
    boundary_penalty: Annotated[
        float, typer.Option("--blm", help="Boundary penalty: cost per km of the plan's outline.")
    ] = 0.0,
    lock_in_protected: Annotated[
        float, typer.Option(help="Lock in units at least this share protected (<0: none).")
    ] = 0.5,
    lock_out_threat: Annotated[
        list[str] | None, typer.Option(help="Lock out units touching this threat (name).")
    ] = None,
    gap: Annotated[float, typer.Option(help="Relative optimality gap.")] = 0.01,
    time_limit: Annotated[float, typer.Option(help="Seconds for the solver.")] = 60.0,
    runs: Annotated[int, typer.Option(help="Perturbed solves for selection frequency.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Solve a scenario on a grid and store it; prints the targets met and the solver figures."""
    from api.services import prioritisation as prio

    targets = _feature_targets(feature_target or [])
    try:
        params = prio.ScenarioParams(
            name=name,
            grid_id=grid_id,
            objective=objective,
            target=target,
            targets=targets,
            budget=budget,
            budget_share=budget_share,
            boundary_penalty=boundary_penalty,
            lock_in_protected=None if lock_in_protected < 0 else lock_in_protected,
            lock_out_threats=lock_out_threat or [],
            gap=gap,
            time_limit_s=time_limit,
            portfolio_runs=runs,
        )
    except ValidationError as exc:
        raise _fail(_validation(exc)) from exc

    def run(engine: Any, say: Any) -> dict[str, Any]:

        sid = prio.run_scenario(engine, params, actor=ACTOR, progress=say)
        with Session(engine) as s:
            sc = prio.get_scenario(s, sid)
            return {"id": sid, "solver": sc.solver, **(sc.results or {})}

    out = _with_progress(quiet, run)
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        _print_scenario(out)


def _feature_targets(items: list[str]) -> dict[str, float]:
    """``FEATURE=SHARE`` options as a mapping."""
    targets = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        if not sep:
            raise _fail(f"--feature-target wants FEATURE=SHARE, got {item!r}")
        try:
            targets[key] = float(value)
        except ValueError as exc:
            raise _fail(f"--feature-target {item!r}: {value!r} is not a number") from exc
    return targets


def _print_scenario(out: dict[str, Any]) -> None:
    console = Console()
    solver = out["solver"]
    summary = out["summary"]
    console.print(
        f"scenario {out['id']}: {summary['n_selected']} of {summary['n_units']} units, "
        f"cost {solver['cost']:,.0f}, proven gap "
        f"{'unknown' if solver['gap'] is None else format(solver['gap'], '.2%')}, "
        f"{solver['runtime_s']:.2f} s ({solver['status']}); greedy cost "
        f"{out['greedy']['cost']:,.0f}"
    )
    table = Table("feature", "target", "held", "met")
    for row in out["targets"]:
        table.add_row(
            row["feature"],
            f"{row['target']:.6g}",
            f"{row['held']:.6g}",
            "yes" if row["met"] else "NO",
        )
    console.print(table)


@prioritise_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the planning grids and the scenarios (runs whose server stopped are marked
    failed first, as the pages do)."""

    from api.services import background as bg
    from api.services import prioritisation as prio

    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        bg.expire_stale_runs(engine)
        with Session(engine) as s:
            grids, scenarios = prio.list_grids(s), prio.list_scenarios(s)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"grids": grids, "scenarios": scenarios}, indent=2, default=str))
        return
    console = Console()
    gt = Table("grid", "name", "resolution", "units", "features", "status")
    for g in grids:
        gt.add_row(
            str(g["id"]),
            g["name"],
            str(g["resolution"]),
            str(g["n_units"]),
            str(len(g["features"])),
            g["status"],
        )
    console.print(gt)
    st = Table("scenario", "name", "grid", "objective", "status", "selected", "cost", "gap")
    for sc in scenarios:
        solver = sc["solver"] or {}
        summary = sc["summary"] or {}
        st.add_row(
            str(sc["id"]),
            sc["name"],
            str(sc["grid_id"]),
            sc["objective"],
            sc["status"],
            str(summary.get("n_selected", "")),
            f"{solver.get('cost', 0):.6g}",
            "" if solver.get("gap") is None else f"{solver['gap']:.4f}",
        )
    console.print(st)


def register(app: typer.Typer) -> None:
    app.add_typer(prioritise_app, name="prioritise")
