"""``irbis monitoring ...``: the indicator catalogue, CSV imports of records, review, series.

The command line acts as an administrator (and reviewer); the history names it
``cli:$USER``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from api.auth.principal import ANONYMOUS, Principal, Role
from api.cli.base import fail
from api.db.engine import make_engine
from api.services import monitoring as ms
from api.services.sites import get_grant
from api.settings import Settings
from geo.errors import IrbisError

monitoring_app = typer.Typer(
    help="Field monitoring: the indicator catalogue, records from CSV, review, time series.",
    no_args_is_help=True,
)

ACTOR = "cli:" + (os.environ.get("USER") or "unknown")
#: Who the command line is: an administrator, user 0 (no account).
CLI = Principal(
    user_id=0, username=ACTOR, display_name=ACTOR, roles=frozenset({Role.admin, Role.analyst})
)
T = TypeVar("T")


def _run(fn: Callable[[Session, Settings], T]) -> T:
    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return fn(session, settings)
    except IrbisError as exc:
        raise fail(exc.message) from None
    finally:
        engine.dispose()


@monitoring_app.command("indicators")
def indicators(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The indicator catalogue."""
    rows = _run(lambda s, _: [ms.indicator_dict(i) for i in ms.list_indicators(s)])
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="Monitoring indicators")
    for col in ("code", "name", "unit", "sensitive", "species"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["code"], r["name"], r["unit"], "yes" if r["sensitive"] else "no", r["species"] or "–"
        )
    Console().print(table)


@monitoring_app.command("add-indicator")
def add_indicator(
    code: Annotated[str, typer.Argument(help="lower-case letters, digits and _")],
    name: Annotated[str, typer.Option("--name", help="Name in English")],
    unit: Annotated[str, typer.Option("--unit", help="Unit, e.g. individuals, km, ha")],
    sensitive: Annotated[
        bool, typer.Option("--sensitive", help="Generalise its observation points for the public")
    ] = False,
    species: Annotated[str | None, typer.Option(help="Scientific name of its species")] = None,
    name_ru: Annotated[str | None, typer.Option("--name-ru", help="Name in Russian")] = None,
    name_kk: Annotated[str | None, typer.Option("--name-kk", help="Name in Kazakh")] = None,
    allow_negative: Annotated[
        bool, typer.Option("--allow-negative", help="Values may be negative")
    ] = False,
    description: Annotated[str | None, typer.Option(help="What is measured and how")] = None,
) -> None:
    """Add an indicator to the catalogue."""
    data = ms.IndicatorInput(
        code=code,
        name_en=name,
        unit=unit,
        sensitive=sensitive,
        name_ru=name_ru,
        name_kk=name_kk,
        species=species,
        allow_negative=allow_negative,
        description=description,
    )
    out = _run(lambda s, _: ms.indicator_dict(ms.create_indicator(s, CLI, data)))
    typer.echo(f"irbis: indicator {out['code']} added (sensitive: {out['sensitive']})")


@monitoring_app.command("edit-indicator")
def edit_indicator(
    code: Annotated[str, typer.Argument(help="The indicator's code")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    unit: Annotated[str | None, typer.Option("--unit")] = None,
    sensitive: Annotated[bool | None, typer.Option("--sensitive/--not-sensitive")] = None,
    species: Annotated[str | None, typer.Option()] = None,
    name_ru: Annotated[str | None, typer.Option("--name-ru")] = None,
    name_kk: Annotated[str | None, typer.Option("--name-kk")] = None,
    allow_negative: Annotated[bool | None, typer.Option("--allow-negative/--no-negative")] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Change an indicator (an indicator of a sensitive species stays sensitive)."""
    given: dict[str, Any] = {
        "name_en": name,
        "unit": unit,
        "sensitive": sensitive,
        "species": species,
        "name_ru": name_ru,
        "name_kk": name_kk,
        "allow_negative": allow_negative,
        "description": description,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise fail("nothing to change: give at least one option")
    out = _run(lambda s, _: ms.indicator_dict(ms.update_indicator(s, CLI, code, changes)))
    typer.echo(f"irbis: indicator {out['code']} changed (sensitive: {out['sensitive']})")


@monitoring_app.command("link-species")
def link_species() -> None:
    """Link the seeded indicators to their species (after the species are loaded)."""
    n = _run(lambda s, _: ms.link_species(s))
    typer.echo(f"irbis: {n} indicators linked or made sensitive")


@monitoring_app.command("import")
def import_csv(
    grant: Annotated[str, typer.Argument(help="The grant's code")],
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV file (UTF-8), or a ZIP of it and the evidence files it names",
            exists=True,
            dir_okay=False,
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only")] = False,
) -> None:
    """Import monitoring records of a grant from CSV: all rows or none, a report per row."""
    data = path.read_bytes()
    report = _run(lambda s, st: ms.submit_csv(s, st, CLI, grant, data, dry_run=dry_run))
    if report.error:
        raise fail(report.error)
    for r in report.rows:
        if r["status"] != "ok":
            typer.secho(f"row {r['row']}: {r['message']}", fg=typer.colors.RED, err=True)
    if not report.ok:
        raise fail(
            f"{sum(r['status'] != 'ok' for r in report.rows)} of {len(report.rows)} rows are "
            "wrong; nothing stored"
        )
    verb = "stored" if report.stored else "checked (dry run, nothing stored)"
    typer.echo(f"irbis: {len(report.rows)} records {verb} for {grant}")


@monitoring_app.command("review")
def review(
    record_id: Annotated[int, typer.Argument(help="The record's id")],
    to_state: Annotated[str, typer.Argument(help="accepted or returned")],
    reason: Annotated[str | None, typer.Option(help="Why (required to return)")] = None,
) -> None:
    """Accept a monitoring record, or return it to its grantee with a reason."""
    state = _run(lambda s, _: ms.review(s, CLI, record_id, to_state, reason).state)
    typer.echo(f"irbis: record {record_id} is {state}")


@monitoring_app.command("series")
def series(
    grant: Annotated[str | None, typer.Option(help="A grant's code")] = None,
    indicator: Annotated[str | None, typer.Option(help="An indicator's code")] = None,
    step: Annotated[str, typer.Option(help="month or year")] = "year",
) -> None:
    """Time series of accepted records as JSON (as the public sees them)."""

    def go(s: Session, _: Settings) -> list[dict[str, Any]]:
        g = get_grant(s, grant) if grant else None
        return ms.series(s.connection(), ANONYMOUS, grant=g, indicator=indicator, step=step)

    typer.echo(json.dumps(_run(go), ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(monitoring_app, name="monitoring")
