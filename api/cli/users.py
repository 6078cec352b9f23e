"""``irbis users ...``: accounts from the command line (the first admin is created here)."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from api.auth import accounts
from api.db.engine import make_engine, transaction
from api.db.models import Grant, User, user_grants, user_roles
from api.settings import Settings
from geo.errors import IrbisError

users_app = typer.Typer(
    help="Manage user accounts, roles, grant links and API tokens.", no_args_is_help=True
)

ACTOR = "cli:" + (os.environ.get("USER") or "unknown")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"irbis: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _run(fn):
    """Run ``fn(session)`` in one transaction on IRBIS_DATABASE_URL, as the CLI actor."""

    settings = Settings()
    engine = make_engine(settings.database.url, settings=settings.database)
    try:
        with transaction(engine, actor=ACTOR) as session:
            return fn(session)
    except IrbisError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@users_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name (lower case).")],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            "-r",
            help="admin, analyst, grantee, advocate or public (repeat or comma-separate).",
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant", "-g", help="Grant code this user (a grantee) works on; repeatable."
        ),
    ] = None,
    display_name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user. The password is asked for (or read from stdin with --password-stdin)."""
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise _fail("the passwords differ")

    def go(session):
        user = accounts.create_user(
            session,
            username,
            password,
            display_name=display_name,
            email=email,
            roles=_split(role),
            grant_codes=_split(grant),
        )
        return user.username

    typer.echo(f"created user {_run(go)}")


@users_app.command("list")
def list_users() -> None:
    """List users with their roles and grants."""

    def go(session):
        roles = (
            select(
                func.string_agg(
                    user_roles.c.role, aggregate_order_by(literal(","), user_roles.c.role)
                )
            )
            .where(user_roles.c.user_id == User.id)
            .scalar_subquery()
        )
        grants = (
            select(func.string_agg(Grant.code, aggregate_order_by(literal(","), Grant.code)))
            .join(user_grants, user_grants.c.grant_id == Grant.id)
            .where(user_grants.c.user_id == User.id)
            .scalar_subquery()
        )
        return session.execute(
            select(User.username, User.display_name, User.active, roles, grants).order_by(
                User.username
            )
        ).all()

    rows = _run(go)
    typer.echo(f"{'username':<20} {'active':<6} {'roles':<24} grants")
    for username, _name, active, roles, grants in rows:
        typer.echo(
            f"{username:<20} {'yes' if active else 'no':<6} {roles or '':<24} {grants or ''}"
        )


@users_app.command("set-roles")
def set_roles(
    username: str,
    roles: Annotated[str, typer.Argument(help="Comma-separated roles, e.g. 'grantee,advocate'.")],
) -> None:
    """Replace a user's roles."""

    def go(session):
        return accounts.set_roles(session, accounts.get_user(session, username), _split([roles]))

    typer.echo(f"{username}: {', '.join(sorted(r.value for r in _run(go)))}")


@users_app.command("link-grant")
def link_grant(
    username: str,
    code: Annotated[str, typer.Argument(help="Grant code, e.g. SOS-CA-EX-01.")],
    unlink: Annotated[bool, typer.Option("--unlink", help="Remove the link instead.")] = False,
) -> None:
    """Link a user to a grant (whose field sites the user may then edit)."""

    _run(lambda s: accounts.link_grant(s, accounts.get_user(s, username), code, unlink=unlink))
    typer.echo(f"{username} {'unlinked from' if unlink else 'linked to'} {code}")


@users_app.command("token")
def token(
    username: str,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    revoke: Annotated[int | None, typer.Option("--revoke", help="Revoke token ID instead.")] = None,
) -> None:
    """Create an API token for a user (printed once), or revoke one with --revoke ID."""

    if revoke is not None:
        _run(lambda s: accounts.revoke_api_token(s, accounts.get_user(s, username).id, revoke))
        typer.echo(f"revoked token {revoke} of {username}")
        return
    new = _run(lambda s: accounts.create_api_token(s, accounts.get_user(s, username), name))
    typer.echo(new.token)


@users_app.command("set-password")
def set_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set a user's password (their web sessions end and their API tokens are revoked)."""

    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = getpass.getpass("New password: ")
    _run(lambda s: accounts.set_password(s, accounts.get_user(s, username), password))
    typer.echo(f"password of {username} changed; their sessions ended and API tokens revoked")


@users_app.command("deactivate")
def deactivate(username: str) -> None:
    """Deactivate a user: sessions end and tokens are revoked; history is kept."""

    _run(lambda s: accounts.deactivate(s, accounts.get_user(s, username)))
    typer.echo(f"deactivated {username}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
