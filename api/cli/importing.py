"""``irbis import LAYER FILE``: bulk import of authoritative files (admins)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.db.engine import make_engine
from api.settings import Settings
from geo.errors import IrbisError


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_cmd(
        layer: Annotated[
            str,
            typer.Argument(
                help="Target layer: protected_areas (WDPA/WDPCA, OpenStreetMap), species_ranges "
                "(IUCN Red List), occurrences (GBIF Darwin Core)."
            ),
        ],
        file: Annotated[
            Path,
            typer.Argument(
                help="Any vector file GDAL reads (GeoPackage, zipped Shapefile, GeoJSON, "
                "FlatGeobuf, KML...) or a GBIF occurrence table (tab separated)."
            ),
        ],
        fmt: Annotated[
            str | None,
            typer.Option(
                "--format", help="wdpa, osm, iucn or gbif; guessed from the columns by default."
            ),
        ] = None,
        layer_name: Annotated[
            str | None,
            typer.Option("--layer", help="Layer inside the file, when it holds several."),
        ] = None,
        srs: Annotated[
            str | None,
            typer.Option(help="CRS of the coordinates when the file names none (e.g. 4326)."),
        ] = None,
        source: Annotated[
            str | None, typer.Option(help="Source statement (default per format).")
        ] = None,
        licence: Annotated[str | None, typer.Option(help="Licence (default per format).")] = None,
        method: Annotated[str, typer.Option(help="observed, modelled or example.")] = "observed",
    ) -> None:
        """Import FILE into LAYER as one transaction: all of it, or nothing.

        A broken or unmappable file exits with status 2 and a message naming the problem;
        nothing is stored. Re-importing the same file updates the records in place.
        """
        from api.services.importing import import_file

        settings = Settings()
        engine = make_engine(settings.database.url, settings=settings.database)
        try:
            result = import_file(
                engine,
                layer,
                file,
                fmt=fmt,
                source=source,
                licence=licence,
                method=method,
                layer_name=layer_name,
                srs=srs,
            )
        except IrbisError as exc:
            typer.secho(f"irbis import: {exc.message}", fg=typer.colors.RED, err=True)
            typer.secho("nothing was stored.", err=True)
            raise typer.Exit(2) from exc
        finally:
            engine.dispose()
        typer.echo(
            f"imported {result.written} of {result.read} {result.fmt} record(s) into {layer}"
        )
        for msg in result.messages:
            typer.echo(f"  note: {msg}")
        if result.repaired:
            typer.echo(f"  note: {result.repaired} invalid polygon(s) were repaired (make_valid)")
