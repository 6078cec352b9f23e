"""Analysis result layers: the latest modelled ecosystems, habitat and coverage gaps.

Each reads a view of the latest successful run of its kind (migration 0003); joining
``analysis_runs`` puts that table's version in the layer's version, so caches change with
every new run. Every run, including older ones, stays downloadable at ``/analyses/{id}``.
"""

from __future__ import annotations

from geo.messages import N_
from layers.spec import PROVENANCE, Column, Join, LayerSpec, LegendItem, Style

_RUN = Join("analysis_runs", "analysis_run_id")
_SPECIES_COLOURS = (
    LegendItem("Panthera uncia", "#8e24aa"),
    LegendItem("Gazella subgutturosa", "#ef6c00"),
)
#: gaps in protection drawn in colours of their own, never those of the habitat they are in
_GAP_COLOURS = (
    LegendItem("Panthera uncia", "#c62828"),
    LegendItem("Gazella subgutturosa", "#f9a825"),
)

LAYERS = [
    LayerSpec(
        id="ecosystems_modelled",
        title="Ecosystems (modelled, latest run)",
        description=N_(
            "Mountains by the UNEP-WCMC definition (Kapos et al. 2000: elevation, slope, local "
            "elevation range within 7 km) and arid lowlands of the four countries, lakes and "
            "glaciers apart; from GEBCO 2023 15″ where it reaches, the 5′ DEM elsewhere "
            "(property dem)."
        ),
        table="ecosystems_latest",
        geometry_type="MultiPolygon",
        joins=(_RUN,),
        columns=(
            Column("kind", title="Ecosystem"),
            Column("eco_class", "integer", title="Class"),
            Column("label", title="Class rule"),
            Column("iso3", title="Country"),
            Column("dem", title="DEM"),
            Column("area_ha", "number", title="Area (ha)"),
            Column("analysis_run_id", "integer", title="Analysis run"),
            *PROVENANCE,
        ),
        style=Style(
            colour="#795548",
            fill_opacity=0.35,
            weight=0.3,
            by="kind",
            categories=(
                LegendItem("mountain", "#8d6e63"),
                LegendItem("arid_lowland", "#fdd835"),
                LegendItem("other", "#90caf9"),
            ),
        ),
        label_column="label",
        visible=False,
        keywords=("Kapos", "mountain", "ecosystem"),
    ),
    LayerSpec(
        id="habitat",
        title="Species habitat (modelled, latest run)",
        description=N_(
            "Area of Habitat (Brooks et al. 2019): range × elevation limits × suitable "
            "ecosystems, per species, ecosystem and country; parameters at /analyses."
        ),
        table="habitat_latest",
        geometry_type="MultiPolygon",
        joins=(Join("species", "species_id"), _RUN),
        columns=(
            Column("scientific_name", source="species.scientific_name", title="Species"),
            Column("ecosystem", title="Ecosystem"),
            Column("iso3", title="Country"),
            Column("area_ha", "number", title="Area (ha)"),
            Column("analysis_run_id", "integer", title="Analysis run"),
            *PROVENANCE,
        ),
        style=Style(
            colour="#6a1b9a",
            fill_opacity=0.25,
            weight=0.5,
            by="scientific_name",
            categories=_SPECIES_COLOURS,
        ),
        label_column="scientific_name",
        visible=False,
        keywords=("Area of Habitat", "snow leopard", "goitered gazelle"),
    ),
    LayerSpec(
        id="coverage_gaps",
        title="Coverage gaps (latest run)",
        description=N_(
            "Habitat neither protected (Protected Planet method) nor inside funded field "
            "sites, ranked by size (rank 1 = largest)."
        ),
        table="coverage_gaps",
        geometry_type="MultiPolygon",
        joins=(_RUN,),
        columns=(
            Column("rank", "integer", title="Rank"),
            Column("species", title="Species"),
            Column("ecosystem", title="Ecosystem"),
            Column("iso3", title="Country"),
            Column("area_ha", "number", title="Area (ha)"),
            Column("analysis_run_id", "integer", title="Analysis run"),
            *PROVENANCE,
        ),
        style=Style(
            colour="#d84315",
            fill="#ff8a65",
            fill_opacity=0.45,
            weight=0.8,
            by="species",
            categories=_GAP_COLOURS,
        ),
        label_column="species",
        visible=False,
        keywords=("gap analysis", "protected area coverage"),
    ),
]
