"""``irbis load demo``: the demo's reference layers, rasters and example portfolio."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.base import fail
from api.db.engine import make_engine
from api.settings import Settings
from geo.errors import IrbisError

load_app = typer.Typer(help="Load data sets into the store.", no_args_is_help=True)


@load_app.command("demo")
def load_demo(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    analyses: Annotated[
        bool,
        typer.Option(
            help="Also model ecosystems, habitat, coverage gaps and the Kok-Jailau loss "
            "(once: kinds with a successful run are skipped)."
        ),
    ] = True,
) -> None:
    """Load the demo: real reference layers, the DEM, and the example SOS Central Asia portfolio.

    Idempotent: running it again changes nothing that is already loaded.
    """
    from api.demo import load_demo as _load  # see api.cli: spatial libraries load on use
    from api.demo import run_demo_analyses

    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        counts = _load(engine, settings, progress=not quiet)
        if analyses:
            runs = run_demo_analyses(engine, settings, progress=not quiet)
            counts["new analysis runs"] = len(runs)
    except IrbisError as exc:
        raise fail(exc.message) from exc
    finally:
        engine.dispose()
    for table, n in counts.items():
        typer.echo(f"{table:>24}: {n}")


def register(app: typer.Typer) -> None:
    app.add_typer(load_app, name="load")
