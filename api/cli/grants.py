"""``irbis grants ...``: register, edit, close, list and import grants from the command line.

The command line acts as an administrator (named ``cli:<user>`` in the history).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import Engine

from api.auth.principal import Principal, Role
from api.cli.base import fail
from api.db.engine import make_engine
from api.services import grants as gs
from api.settings import Settings
from geo.errors import IrbisError

grants_app = typer.Typer(
    help="Register, edit, close, list and import the programme's grants.", no_args_is_help=True
)

ACTOR = "cli:" + (os.environ.get("USER") or "unknown")
CLI = Principal(user_id=0, username=ACTOR, display_name=ACTOR, roles=frozenset({Role.admin}))
T = TypeVar("T")


@contextmanager
def _engine() -> Iterator[Engine]:
    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        yield engine
    finally:
        engine.dispose()


def _call(fn: Callable[[Engine], T]) -> T:
    with _engine() as engine:
        try:
            return fn(engine)
        except IrbisError as exc:
            raise fail(exc.message) from exc


def _validated(model: type[gs.GrantPatch], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as e:
        msgs = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise fail(msgs) from None


def _values(**options: Any) -> dict[str, Any]:
    """The options given, in the API's shape (documents as 'title | url')."""
    out: dict[str, Any] = {}
    for k, v in options.items():
        if v is None or v == []:
            continue
        if k == "documents":
            v = [
                {"title": d.rpartition("|")[0].strip() or d, "url": d.rpartition("|")[2].strip()}
                for d in v
            ]
        if k == "countries":
            v = [c.upper() for c in v]
        out[k] = v
    return out


Str = Annotated[str | None, typer.Option()]
Many = Annotated[list[str] | None, typer.Option()]


def _common(
    title: str | None,
    organisation: str | None,
    partner: list[str] | None,
    country: list[str] | None,
    species: list[str] | None,
    ecosystem: list[str] | None,
    amount: str | None,
    currency: str | None,
    rate: str | None,
    rate_date: str | None,
    call: str | None,
    start: str | None,
    end: str | None,
    status: str | None,
    objectives: str | None,
    document: list[str] | None,
) -> dict[str, Any]:
    return _values(
        title=title,
        grantee_organisation=organisation,
        partners=partner,
        countries=country,
        species=species,
        ecosystem_focus=ecosystem,
        amount=amount,
        currency=currency,
        rate=rate,
        rate_date=rate_date,
        call=call,
        start_date=start,
        end_date=end,
        status=status,
        objectives=objectives,
        documents=document,
    )


@grants_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="The grant's code, e.g. SOS-CA-2024-07.")],
    title: Annotated[str, typer.Option(help="Title.")],
    organisation: Annotated[str, typer.Option(help="Grantee organisation.")],
    country: Annotated[list[str], typer.Option(help="ISO 3166-1 alpha-3 code; repeatable.")],
    species: Annotated[list[str], typer.Option(help="Scientific name; repeatable.")],
    amount: Annotated[str, typer.Option(help="Amount (in --currency).")],
    start: Annotated[str, typer.Option(help="Start date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="End date, YYYY-MM-DD.")],
    partner: Many = None,
    ecosystem: Annotated[
        list[str] | None, typer.Option(help="mountain, arid_lowland or other; repeatable.")
    ] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    rate: Annotated[str | None, typer.Option(help="Units of the currency per USD.")] = None,
    rate_date: Annotated[str | None, typer.Option(help="Date of the rate.")] = None,
    call: Annotated[str | None, typer.Option(help="Call or round.")] = None,
    status: Annotated[str, typer.Option(help="proposed, active, closed, terminated.")] = "proposed",
    objectives: Str = None,
    document: Annotated[list[str] | None, typer.Option(help="'title | https://...'.")] = None,
) -> None:
    """Register a grant."""
    values = _common(
        title, organisation, partner, country, species, ecosystem, amount, currency, rate,
        rate_date, call, start, end, status, objectives, document,
    )  # fmt: skip
    data = _validated(gs.GrantCreate, {"code": code, **values})
    g = _call(lambda e: gs.create_grant(e, CLI, data))
    typer.echo(f"registered grant {g['code']} ({g['amount_usd']:,.2f} USD)")


@grants_app.command("edit")
def edit(
    code: Annotated[str, typer.Argument(help="The grant's code.")],
    title: Str = None,
    organisation: Str = None,
    partner: Many = None,
    country: Many = None,
    species: Many = None,
    ecosystem: Many = None,
    amount: Str = None,
    currency: Str = None,
    rate: Str = None,
    rate_date: Str = None,
    call: Str = None,
    start: Str = None,
    end: Str = None,
    status: Str = None,
    objectives: Str = None,
    document: Many = None,
) -> None:
    """Change fields of a grant (only the options given)."""
    values = _common(
        title, organisation, partner, country, species, ecosystem, amount, currency, rate,
        rate_date, call, start, end, status, objectives, document,
    )  # fmt: skip
    data = _validated(gs.GrantPatch, values)
    g = _call(lambda e: gs.update_grant(e, CLI, code, data))
    typer.echo(f"updated grant {g['code']}")


@grants_app.command("close")
def close(
    code: Annotated[str, typer.Argument(help="The grant's code.")],
    terminated: Annotated[
        bool, typer.Option("--terminated", help="It ended early (terminated), not closed.")
    ] = False,
) -> None:
    """Close a grant (or mark it terminated)."""
    g = _call(lambda e: gs.close_grant(e, CLI, code, "terminated" if terminated else "closed"))
    typer.echo(f"grant {g['code']} is {g['status']}")


@grants_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the grants."""
    rows = _call(gs.list_grants)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for g in rows:
        typer.echo(
            f"{g['code']}\t{g['status']}\t{g['amount_usd']:>12,.2f} USD\t"
            f"{','.join(g['countries'])}\t{g['title']}"
        )


@grants_app.command("import")
def import_(
    path: Annotated[
        Path, typer.Argument(help="CSV (UTF-8) or XLSX file.", exists=True, dir_okay=False)
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check and report.")] = False,
) -> None:
    """Import a grant list: every row checked, then all stored or none (idempotent by code)."""
    data = path.read_bytes()
    report = _call(lambda e: gs.import_grants(e, CLI, data, path.name, dry_run=dry_run))
    for msg in report.errors:
        typer.secho(f"{path.name}: {msg}", fg=typer.colors.RED, err=True)
    for r in report.rows:
        line = f"row {r.row}\t{r.code or '-'}\t{r.outcome}"
        if r.errors:
            line += "\t" + "; ".join(r.errors)
        typer.echo(line)
    if not report.ok:
        raise fail("nothing was imported: correct the rows above and run the import again")
    verb = "checked" if dry_run else "imported"
    typer.echo(f"{verb} {len(report.rows)} grants")


def register(app: typer.Typer) -> None:
    app.add_typer(grants_app, name="grants")
