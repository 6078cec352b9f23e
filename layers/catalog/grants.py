"""The grants of the programme as a collection: one feature per grant, its geometry the union
of its field sites (none while it has no sites), from the view ``grant_features`` (0007)."""

from __future__ import annotations

from geo.messages import N_
from layers.spec import Column, Join, LayerSpec, LegendItem, Style

LAYERS = [
    LayerSpec(
        id="grants",
        title="Grants",
        description=N_(
            "Grants of the small-grants programme: grantee, species, countries, status, call "
            "and amount (USD). The geometry is the union of the grant's field sites; a grant "
            "without sites is listed without geometry."
        ),
        table="grant_features",
        # the view has no version of its own: grants' (bumped when a site changes its union)
        joins=(Join("grants", "id"),),
        geometry_type="MultiPolygon",
        columns=(
            Column("code", title="Code"),
            Column("title", title="Title"),
            Column("organisation", title="Grantee organisation"),
            Column("status", title="Status"),
            Column("call", title="Call or round"),
            Column("countries", title="Countries"),
            Column("species", title="Species"),
            Column("ecosystem_focus", title="Ecosystem focus"),
            Column("amount", "number", title="Amount", in_tiles=False),
            Column("currency", title="Currency", in_tiles=False),
            Column("amount_usd", "number", title="Amount (USD)"),
            Column("start_date", "date", title="Start"),
            Column("end_date", "date", title="End"),
            Column("start_year", "integer", title="Start year"),
            Column("end_year", "integer", title="End year"),
            Column("source", title="Source", in_tiles=False),
            Column("licence", title="Licence (of the field sites)", in_tiles=False),
            Column("method", title="Method"),
        ),
        datetime_column="start_date",
        style=Style(
            colour="#00695c",
            fill="#4db6ac",
            fill_opacity=0.3,
            weight=2,
            by="status",
            categories=(
                LegendItem("proposed", "#90a4ae"),
                LegendItem("active", "#00897b"),
                LegendItem("closed", "#1565c0"),
                LegendItem("terminated", "#6d4c41"),
            ),
        ),
        label_column="code",
        visible=False,
        keywords=("grant", "SOS Central Asia", "portfolio"),
    ),
]
