"""``irbis threats ...``: threats over time from the command line ("what was threatened in 2019")."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from api.db.engine import make_engine
from api.settings import Settings
from geo.errors import InvalidInput, IrbisError

threats_app = typer.Typer(
    help="Published threats: their status on a date, their timeline.", no_args_is_help=True
)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)") from None


@threats_app.command("as-of")
def as_of(
    day: Annotated[str, typer.Argument(help="The day asked about (YYYY-MM-DD), or a year")],
    live_only: Annotated[
        bool, typer.Option("--live", help="Only threats that were live (not halted)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The status of every published threat on a day; with a year, those live in that year."""
    from geo.threats import threatened_in_year
    from layers.threats import status_changes, threat_index

    settings = Settings()
    engine = make_engine(settings.database.read_url, settings=settings.database)
    try:
        day_asked = None if (day.isdigit() and len(day) == 4) else _date(day)
        with engine.connect() as conn:
            if day.isdigit() and len(day) == 4:
                ids = set(threatened_in_year(status_changes(conn), int(day)))
                rows = [
                    {**r, "status_as_of": "live in " + day, "live_as_of": True}
                    for r in threat_index(conn)
                    if r["id"] in ids
                ]
            else:
                rows = threat_index(conn, as_of=day_asked)
    except IrbisError as exc:
        typer.secho(f"irbis: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if live_only:
        rows = [r for r in rows if r.get("live_as_of")]
    out = [
        {
            "id": r["id"],
            "name": r["name"],
            "kind": r["kind"],
            "status_on_day": r.get("status_as_of"),
            "status_now": r["status"],
            "area_ha": round(r["area_ha"], 1),
            "method": r["method"],
        }
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Threats on {day}")
    for col in ("id", "name", "kind", "status_on_day", "status_now", "area_ha", "method"):
        table.add_column(col.replace("_", " "))
    for r in out:
        table.add_row(*(str(r[c]) if r[c] is not None else "–" for c in r))
    Console().print(table)


@threats_app.command("clean-evidence")
def clean_evidence() -> None:
    """Pass every stored evidence file through today's metadata rules again.

    Files stored by an older version may still carry what the rules now remove (a camera's
    owner and serial number, a PDF's author, scripts); they are rewritten in place of the
    old ones. Safe to run again: clean files are left alone.
    """

    from api.services.threat_reports import clean_stored_evidence

    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        with Session(engine) as session:
            done = clean_stored_evidence(session, settings)
    finally:
        engine.dispose()
    typer.echo(
        f"irbis: {done.checked} evidence files checked, {done.rewritten} rewritten without "
        f"their metadata, {done.removed_files} old files removed"
    )
    if done.unreadable:
        ids = ", ".join(str(i) for i in done.unreadable)
        typer.secho(
            f"irbis: could not clean evidence files {ids} (unreadable or refused by today's "
            "rules): take them down from their reports",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(threats_app, name="threats")
