"""``irbis analyse ...``: ecosystems, habitat, overlap, gaps, loss; list and show runs.

Every command stores a run (parameters, input versions, results) and prints its id; a failed
run is stored with its error and the command exits non-zero with the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.cli.base import fail
from api.db.engine import make_engine
from api.settings import Settings
from geo.errors import IrbisError

analyse_app = typer.Typer(
    help="Run analyses (stored as records: see /analyses).", no_args_is_help=True
)
console = Console()


@contextmanager
def _engine() -> Iterator[tuple[Engine, Any]]:

    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        yield engine, settings
    finally:
        engine.dispose()


def _run(label: str, steps: int, fn: Callable[[Callable[[str], None]], int], quiet: bool) -> int:
    """Run ``fn(progress)`` under a rich progress bar; print errors as CLI messages."""

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=steps)

        def progress(msg: str) -> None:
            bar.update(task, description=f"{label}: {msg}", advance=1)

        try:
            run_id = fn(progress)
        except IrbisError as exc:
            raise fail(exc.message) from exc
        bar.update(task, completed=steps, description=f"{label}: done")
    typer.echo(f"analysis run {run_id} stored: /analyses/{run_id}")
    return run_id


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
AsOf = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"],
        help="Funded = field sites of grants under way on this date (for a species' figures, "
        "grants for that species); default: today. Stored with the run.",
    ),
]


@analyse_app.command("ecosystems")
def ecosystems(
    resolution_arcmin: Annotated[
        float, typer.Option(help="Output cell size in arc-minutes (1 = about 1.4 x 1.9 km).")
    ] = 1.0,
    fine: Annotated[str, typer.Option(help="Registered fine DEM ('' for none).")] = (
        "dem_gebco_tianshan_pamir"
    ),
    coarse: Annotated[str, typer.Option(help="Registered coarse DEM.")] = "dem_coarse_region",
    quiet: Quiet = False,
) -> None:
    """Mountains (Kapos et al. 2000) and arid lowlands of the four countries, from the DEMs."""
    from api.services import analyses as an

    with _engine() as (engine, settings):
        _run(
            "ecosystems",
            4,
            lambda p: an.run_ecosystems(
                engine,
                settings,
                resolution_deg=resolution_arcmin / 60,
                fine=fine or None,
                coarse=coarse,
                progress=p,
            ),
            quiet,
        )


def _overrides(values: list[str]) -> dict[str, dict[str, Any]]:
    """``"Panthera uncia:elevation_min_m=2500"`` -> {species: {param: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for v in values:
        try:
            sp, assignment = v.split(":", 1)
            key, raw = assignment.split("=", 1)
        except ValueError:
            raise typer.BadParameter(f"{v!r}: write SPECIES:PARAMETER=VALUE") from None
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            val = raw
        out.setdefault(sp.strip(), {})[key.strip()] = val
    return out


@analyse_app.command("habitat")
def habitat(
    species: Annotated[
        list[str] | None, typer.Option("--species", "-s", help="Scientific name (repeatable).")
    ] = None,
    ecosystems_run: Annotated[
        int | None, typer.Option(help="Ecosystems run to use (default: the latest).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Change a parameter: 'Panthera uncia:elevation_min_m=2500'."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Area of Habitat (Brooks et al. 2019) of each species, with cited, changeable defaults."""
    from api.services import analyses as an

    names = species or ["Panthera uncia", "Gazella subgutturosa"]
    with _engine() as (engine, settings):
        _run(
            "habitat",
            len(names),
            lambda p: an.run_habitat(
                engine,
                settings,
                names,
                ecosystems_run=ecosystems_run,
                overrides=_overrides(set_ or []),
                progress=p,
            ),
            quiet,
        )


@analyse_app.command("overlap")
def overlap(
    layers: Annotated[
        list[str],
        typer.Argument(
            help="Two or more of: "
            + ", ".join(
                ("protected_areas", "field_sites", "threats", "countries", "habitat", "ecosystems")
            )
        ),
    ],
    as_of: AsOf = None,
    quiet: Quiet = False,
) -> None:
    """Pieces where all the given layers overlap, with areas (ha) and shares."""
    from api.services import analyses as an

    day = as_of.date() if as_of else None
    with _engine() as (engine, settings):
        _run(
            "overlap", 1, lambda p: an.run_overlap(engine, settings, list(layers), as_of=day), quiet
        )


@analyse_app.command("gaps")
def gaps(
    habitat_run: Annotated[int | None, typer.Option(help="Habitat run (default: latest).")] = None,
    min_gap_ha: Annotated[float, typer.Option(help="Smallest gap piece kept (ha).")] = 1.0,
    as_of: AsOf = None,
    quiet: Quiet = False,
) -> None:
    """Habitat protected (Protected Planet method), funded, threatened; the ranked gap layer."""
    from api.services import analyses as an

    with _engine() as (engine, settings):
        run_id = _run(
            "coverage gaps",
            1,
            lambda p: an.run_gaps(
                engine,
                settings,
                habitat_run=habitat_run,
                min_gap_ha=min_gap_ha,
                as_of=as_of.date() if as_of else None,
                progress=p,
            ),
            quiet,
        )
        with Session(engine) as s:
            _print_table(
                an.get_run(s, run_id).results.get("by_ecosystem", []),  # type: ignore[union-attr]
                cols=[
                    "species",
                    "ecosystem",
                    "habitat_ha",
                    "share_protected",
                    "share_funded",
                    "share_threatened",
                    "share_gap",
                ],
            )


@analyse_app.command("loss")
def loss(
    threat: Annotated[str | None, typer.Option(help="One threat by name (default: all).")] = None,
    epoch: Annotated[
        list[str] | None,
        typer.Option(help="LABEL=RASTER_NAME of a registered habitat raster (repeatable)."),
    ] = None,
    scenario: Annotated[
        bool,
        typer.Option(
            help="Also register snow leopard habitat now and with the threat's footprint "
            "cleared, and use them as the two epochs (a scenario)."
        ),
    ] = False,
    as_of: AsOf = None,
    quiet: Quiet = False,
) -> None:
    """Habitat, park and ecosystem area inside threats; habitat change between raster epochs."""
    from api.services import analyses as an

    epochs = {}
    for e in epoch or []:
        if "=" not in e:
            raise typer.BadParameter(f"{e!r}: write LABEL=RASTER_NAME")
        k, v = e.split("=", 1)
        epochs[k] = v
    with _engine() as (engine, settings):
        if scenario:
            try:
                epochs.update(
                    an.register_habitat_scenario(
                        engine, settings, **({"threat": threat} if threat else {})
                    )
                )
            except IrbisError as exc:
                raise fail(exc.message) from exc
        _run(
            "habitat loss",
            1,
            lambda p: an.run_loss(
                engine,
                settings,
                threat=threat,
                epochs=epochs,
                as_of=as_of.date() if as_of else None,
            ),
            quiet,
        )


@analyse_app.command("list")
def list_runs(kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None) -> None:
    """The stored analysis runs, newest first (runs whose server stopped while they worked in
    the background are marked failed first, as the pages do)."""
    from api.services import analyses as an
    from api.services import background as bg

    with _engine() as (engine, _), Session(engine) as s:
        bg.expire_stale_runs(engine)
        _print_table(
            [an.run_summary(r) for r in an.list_runs(s, kind)],
            cols=["id", "kind", "status", "started_at", "finished_at", "error"],
        )


@analyse_app.command("show")
def show(run_id: int) -> None:
    """One run: parameters, inputs with their versions, results (JSON)."""
    from api.services import analyses as an
    from api.services import background as bg

    with _engine() as (engine, _), Session(engine) as s:
        bg.expire_stale_runs(engine)
        try:
            run = an.get_run(s, run_id)
        except IrbisError as exc:
            raise fail(exc.message) from exc
        typer.echo(json.dumps(an.run_summary(run, full=True), indent=1, default=str))


def _print_table(rows: list[dict[str, Any]], cols: list[str] | None = None) -> None:
    if not rows:
        typer.echo("(nothing)")
        return
    cols = cols or list(rows[0])
    t = Table(*cols, width=max(console.width, 40 + 14 * len(cols)))
    for r in rows:
        t.add_row(*[_fmt(r.get(c)) for c in cols])
    console.print(t)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"
    return "" if v is None else str(v)


def register(app: typer.Typer) -> None:
    app.add_typer(analyse_app, name="analyse")
