"""Conservation layers: protected areas, species, ecosystems, threats, field sites."""

from __future__ import annotations

from geo.messages import N_
from layers.spec import PROVENANCE, Column, Join, LayerSpec, LegendItem, Sensitivity, Style

_SPECIES = (
    Column("scientific_name", source="species.scientific_name", title="Species"),
    Column("common_name", source="species.common_name_en", title="Common name"),
)

LAYERS = [
    LayerSpec(
        id="protected_areas",
        title="Protected areas",
        description=N_(
            "Protected areas and OECMs as in the WDPA: polygons, or points with a reported "
            "area where no boundary is known."
        ),
        table="protected_areas",
        geometry_type="Geometry",
        columns=(
            Column("name", title="Name"),
            Column("original_name", title="Original name"),
            Column("name_ru", title="Name (Russian)", in_tiles=False),
            Column("name_kk", title="Name (Kazakh)", in_tiles=False),
            Column("designation", title="Designation"),
            Column("designation_type", title="Designation type", in_tiles=False),
            Column("iucn_category", title="IUCN category"),
            Column("status", title="Status"),
            Column("status_year", "integer", title="Status year"),
            Column("reported_area_km2", "number", title="Reported area (km²)"),
            Column("iso3", title="Country"),
            Column("is_oecm", "boolean", title="OECM"),
            Column("wdpa_id", "integer", title="WDPA id", in_tiles=False),
            *PROVENANCE,
        ),
        style=Style(colour="#2e7d32", fill="#66bb6a", fill_opacity=0.35, weight=1.5, radius=6),
        keywords=("WDPA", "protected area"),
    ),
    LayerSpec(
        id="species_ranges",
        title="Species ranges",
        description=N_("Range polygons of the programme's species, coded as IUCN Red List data."),
        table="species_ranges",
        geometry_type="MultiPolygon",
        joins=(Join("species", "species_id"),),
        columns=(
            *_SPECIES,
            Column("iucn_category", source="species.iucn_category", title="Red List category"),
            Column("presence", "integer", title="Presence"),
            Column("origin", "integer", title="Origin"),
            Column("seasonal", "integer", title="Seasonality"),
            Column("compiler", title="Compiler", in_tiles=False),
            Column("year", "integer", title="Year"),
            *PROVENANCE,
        ),
        style=Style(
            colour="#8e24aa",
            fill_opacity=0.15,
            by="scientific_name",
            categories=(
                LegendItem("Panthera uncia", "#8e24aa"),
                LegendItem("Gazella subgutturosa", "#ef6c00"),
            ),
        ),
        label_column="scientific_name",
        visible=False,
    ),
    LayerSpec(
        id="occurrences",
        title="Species occurrences",
        description=N_(
            "Occurrence records (GBIF / Darwin Core). Locations of sensitive species are "
            "generalised to a grid cell for the public, and observers are not shown."
        ),
        table="occurrences",
        geometry_type="Point",
        joins=(Join("species", "species_id"),),
        columns=(
            *_SPECIES,
            Column("event_date", "date", title="Date"),
            Column("basis_of_record", title="Basis of record"),
            Column("coordinate_uncertainty_m", "number", title="Uncertainty (m)"),
            Column("country_code", title="Country"),
            Column("recorded_by", title="Recorded by", private=True),
            Column("occurrence_id", title="Occurrence id", private=True),
            Column("gbif_id", "integer", title="GBIF id", private=True),
            *PROVENANCE,
        ),
        datetime_column="event_date",
        sensitivity=Sensitivity(flag="species.sensitive"),
        style=Style(colour="#6a1b9a", fill="#ce93d8", fill_opacity=0.9, radius=4),
        label_column="scientific_name",
    ),
    LayerSpec(
        id="ecosystems",
        title="Ecosystems (every stored run and import)",
        description=N_(
            "Every ecosystem polygon in the store: each modelling run's (see analysis_run_id) "
            "and any imported. For the current map use 'Ecosystems (modelled, latest run)'."
        ),
        table="ecosystems",
        geometry_type="MultiPolygon",
        columns=(Column("kind", title="Ecosystem"), Column("iso3", title="Country"), *PROVENANCE),
        style=Style(
            colour="#795548",
            fill_opacity=0.3,
            weight=0.5,
            by="kind",
            categories=(
                LegendItem("mountain", "#8d6e63"),
                LegendItem("arid_lowland", "#fdd835"),
                LegendItem("other", "#bdbdbd"),
            ),
        ),
        label_column="kind",
        visible=False,
    ),
    LayerSpec(
        id="threats",
        title="Threats",
        description=N_("Documented threats to habitat (resorts, roads, mines ...), with status."),
        table="threats",
        geometry_type="Geometry",
        columns=(
            Column("name", title="Name"),
            Column("kind", title="Kind"),
            Column("status", title="Status"),
            Column("proposed_on", "date", title="Proposed on"),
            Column("started_on", "date", title="Started on"),
            Column("ended_on", "date", title="Ended on"),
            Column("description", title="Description", in_tiles=False),
            *PROVENANCE,
        ),
        datetime_column="proposed_on",
        public_where="published",
        style=Style(colour="#c62828", fill="#ef5350", fill_opacity=0.45, weight=2, radius=6),
    ),
    LayerSpec(
        id="field_sites",
        title="Field sites",
        description=N_("Field sites of grants, uploaded by grantees."),
        table="field_sites",
        geometry_type="MultiPolygon",
        joins=(Join("grants", "grant_id"),),
        columns=(
            Column("name", title="Name"),
            Column("description", title="Description", in_tiles=False),
            Column("grant_code", source="grants.code", title="Grant"),
            Column("grant_title", source="grants.title", title="Grant title", in_tiles=False),
            Column("organisation", source="grants.grantee_organisation", title="Organisation"),
            Column("uploaded_by", title="Uploaded by", private=True),
            Column("uploaded_at", "datetime", title="Uploaded at", in_tiles=False),
            *PROVENANCE,
        ),
        datetime_column="uploaded_at",
        style=Style(colour="#0277bd", fill="#4fc3f7", fill_opacity=0.45, weight=1.5),
    ),
]
