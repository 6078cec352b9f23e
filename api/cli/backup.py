"""``irbis db backup`` and ``irbis db restore``: the database and the var directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.base import fail
from api.settings import Settings


def backup(
    archive: Annotated[Path, typer.Argument(help="The archive file to write (a .tar).")],
) -> None:
    """Back up the database and the var directory into one archive.

    The database in IRBIS_DATABASE_URL and everything under IRBIS_VAR_DIR (evidence, analysis
    rasters, the secret key), with a manifest of checksums.
    """
    from api.db.backup import BackupError, create_backup

    settings = Settings()
    try:
        manifest = create_backup(
            settings.database.url, settings.var_dir, archive, report=typer.echo
        )
    except BackupError as exc:
        raise fail(exc.message) from exc
    typer.echo(
        f"wrote {archive} (schema revision {manifest.schema_revision}, "
        f"{len(manifest.members) - 1} var files)"
    )


def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by 'irbis db backup'.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the contents of a database or var directory that is not empty.",
        ),
    ] = False,
) -> None:
    """Restore an archive into IRBIS_DATABASE_URL and IRBIS_VAR_DIR.

    Checks the manifest and every checksum first; a damaged archive changes nothing. The
    database must be empty (a new one, with PostGIS, see scripts/database.sh) unless --force.
    """
    from api.db.backup import BackupError, restore_backup

    settings = Settings()
    try:
        manifest = restore_backup(
            archive, settings.database.url, settings.var_dir, force=force, report=typer.echo
        )
    except BackupError as exc:
        raise fail(exc.message) from exc
    typer.echo(f"restored the backup of {manifest.created_at}")
    from api.db.backup import head_revision

    head = head_revision(settings.database.url)
    if manifest.schema_revision != head:
        typer.echo(
            f"the backup has schema revision {manifest.schema_revision}; this Irbis expects "
            f"{head}: run 'irbis db upgrade' before serving"
        )


def register(app: typer.Typer) -> None:
    for group in app.registered_groups:
        if group.name == "db" and group.typer_instance is not None:
            group.typer_instance.command("backup")(backup)
            group.typer_instance.command("restore")(restore)
            return
    raise RuntimeError("the CLI has no 'db' group to add backup and restore to")
