"""``irbis db upgrade|downgrade|current``: the database schema (Alembic migrations).

``irbis db backup|restore`` join this group from :mod:`api.cli.backup`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.base import fail
from api.db import migrate
from api.settings import Settings

db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database in IRBIS_DATABASE_URL up to REVISION (default: the newest)."""
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
    settings = Settings()
    migrate.downgrade(settings.database.url, revision)
    typer.echo(f"database at revision {migrate.current(settings.database.url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current revision."""
    typer.echo(migrate.current(Settings().database.url) or "empty (no revision)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
