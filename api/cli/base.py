"""The ``irbis`` application object and the one way a command reports failure."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="irbis",
    help="Irbis: geospatial conservation monitoring for Central Asia.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``irbis: MESSAGE`` in red on stderr; return the exit to raise."""
    typer.secho(f"irbis: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)
