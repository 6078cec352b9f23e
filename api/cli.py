"""``irbis``: the command line.

Each group lives in ``api/commands/``; this module only assembles them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.settings import Settings
from geo.errors import IrbisError

app = typer.Typer(
    name="irbis",
    help="Irbis: geospatial conservation monitoring for Central Asia.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", no_args_is_help=True)
load_app = typer.Typer(help="Load data sets into the store.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(load_app, name="load")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"irbis: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database in IRBIS_DATABASE_URL up to REVISION (default: the newest)."""
    from api.db import migrate

    settings = Settings()
    try:
        migrate.upgrade(settings.database.url, revision)
    except Exception as exc:
        raise fail(f"migration failed: {exc}") from exc
    typer.echo(f"database at revision {migrate.current(settings.database.url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision ('base' empties the schema).")],
) -> None:
    """Migrate the database down to REVISION."""
    from api.db import migrate

    settings = Settings()
    migrate.downgrade(settings.database.url, revision)
    typer.echo(f"database at revision {migrate.current(settings.database.url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current revision."""
    from api.db import migrate

    typer.echo(migrate.current(Settings().database.url) or "empty (no revision)")


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
    from api.db.engine import make_engine
    from api.demo import load_demo as _load
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


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    header_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a client may take to send request headers [default: 10]."),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for each chunk of a request body [default: 30]."),
    ] = None,
    keep_alive_timeout: Annotated[
        int | None, typer.Option(help="Seconds an idle connection stays open [default: 5].")
    ] = None,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(help="Connections at once per worker; more are answered 503 [default: 1000]."),
    ] = None,
) -> None:
    """Serve the web platform (pages, OGC APIs, tiles) with uvicorn.

    Slow clients are cut off: headers must arrive within --header-timeout, each body chunk
    within --body-timeout (408), request headers are at most IRBIS_SERVER_MAX_HEADER_BYTES.
    Options override the IRBIS_SERVER_* settings.
    """
    import os

    import uvicorn

    from api.server import IrbisH11Protocol

    given = {
        "IRBIS_SERVER_HEADER_TIMEOUT": header_timeout,
        "IRBIS_SERVER_BODY_TIMEOUT": body_timeout,
        "IRBIS_SERVER_KEEP_ALIVE_TIMEOUT": keep_alive_timeout,
        "IRBIS_SERVER_LIMIT_CONCURRENCY": limit_concurrency,
    }
    for name, value in given.items():
        if value is not None:
            os.environ[name] = str(value)  # read by the app and protocol in every worker
    server = Settings().server
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        http=IrbisH11Protocol,
        timeout_keep_alive=server.keep_alive_timeout,
        limit_concurrency=server.limit_concurrency,
        h11_max_incomplete_event_size=server.max_header_bytes,
    )


def _register_commands() -> None:
    """Attach the command groups in api/commands/ (each module exposes ``register(app)``)."""
    import importlib
    import pkgutil

    import api.commands as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{pkg.__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
