"""Reference layers from Natural Earth: the basemap and physical geography."""

from __future__ import annotations

from geo.messages import N_
from layers.spec import PROVENANCE, Column, LayerSpec, Style

_NAMED = (
    Column("name", title="Name"),
    Column("featurecla", title="Feature class"),
    Column("scalerank", "integer", title="Scale rank"),
)
#: Names in Russian and Kazakh (:mod:`api.demo.loader`'s reviewed gazetteer); the labels and the
#: search read them, the tiles do not carry them.
_NAMES_RU_KK = (
    Column("name_ru", title="Name (Russian)", in_tiles=False),
    Column("name_kk", title="Name (Kazakh)", in_tiles=False),
)

LAYERS = [
    LayerSpec(
        id="countries",
        title="Countries",
        description=N_("Country polygons (Natural Earth 1:10m), clipped to the region."),
        table="countries",
        geometry_type="MultiPolygon",
        columns=(
            Column("name", title="Name"),
            Column("name_ru", title="Name (Russian)"),
            Column("iso_a3", title="ISO 3166 alpha-3"),
            Column("iso_a2", title="ISO 3166 alpha-2"),
            Column("programme", "boolean", title="Programme country"),
            *PROVENANCE,
        ),
        style=Style(colour="#7a6a58", fill="#f3efe6", fill_opacity=0.6, weight=1.2),
        group="basemap",
        keywords=("boundaries",),
    ),
    LayerSpec(
        id="admin_units",
        title="Administrative units",
        description=N_("First-level administrative units of KZ, KG, TJ and UZ (coarse, dated)."),
        table="admin_units",
        geometry_type="MultiPolygon",
        columns=(
            Column("name", title="Name"),
            Column("iso_a3", title="Country"),
            Column("hasc", title="HASC code"),
            *PROVENANCE,
        ),
        style=Style(colour="#9c8f80", fill_opacity=0.0, weight=0.6),
        group="reference",
        visible=False,
    ),
    LayerSpec(
        id="regions",
        title="Physical regions",
        description=N_("Named mountain ranges, deserts, plains and basins (Natural Earth)."),
        table="regions",
        geometry_type="MultiPolygon",
        columns=(
            *_NAMED,
            Column("name_en", title="Name (English)", in_tiles=False),
            *_NAMES_RU_KK,
            *PROVENANCE,
        ),
        style=Style(colour="#b08850", fill_opacity=0.05, weight=0.8),
        group="reference",
        visible=False,
    ),
    LayerSpec(
        id="glaciers",
        title="Glaciers",
        description=N_("Glaciers and ice fields (Natural Earth 1:10m)."),
        table="glaciers",
        geometry_type="MultiPolygon",
        columns=(*_NAMED, *PROVENANCE),
        style=Style(colour="#7fb8d8", fill="#e8f6ff", fill_opacity=0.8, weight=0.5),
        group="reference",
    ),
    LayerSpec(
        id="lakes",
        title="Lakes",
        description=N_("Lakes and reservoirs (Natural Earth 1:10m)."),
        table="lakes",
        geometry_type="MultiPolygon",
        columns=(*_NAMED, *_NAMES_RU_KK, *PROVENANCE),
        style=Style(colour="#4a90c2", fill="#a9d3f0", fill_opacity=0.9, weight=0.5),
        group="basemap",
    ),
    LayerSpec(
        id="rivers",
        title="Rivers",
        description=N_("Rivers and lake centre-lines (Natural Earth 1:10m)."),
        table="rivers",
        geometry_type="MultiLineString",
        columns=(*_NAMED, *_NAMES_RU_KK, *PROVENANCE),
        style=Style(colour="#4a90c2", weight=1.2),
        group="basemap",
    ),
    LayerSpec(
        id="places",
        title="Populated places",
        description=N_("Cities and towns (Natural Earth 1:10m)."),
        table="places",
        geometry_type="Point",
        columns=(
            *_NAMED,
            Column("name_ru", title="Name (Russian)"),
            Column("iso_a3", title="Country"),
            Column("population", "integer", title="Population"),
            Column("former_names", title="Former names", in_tiles=False),
            *PROVENANCE,
        ),
        style=Style(colour="#333333", fill="#ffffff", fill_opacity=1.0, radius=3),
        group="basemap",
    ),
    LayerSpec(
        id="peaks",
        title="Peaks and passes",
        description=N_("Named peaks, passes and depressions with elevations (Natural Earth)."),
        table="peaks",
        geometry_type="Point",
        columns=(
            *_NAMED,
            *_NAMES_RU_KK,
            Column("elevation_m", "number", title="Elevation (m)"),
            *PROVENANCE,
        ),
        style=Style(colour="#6b3e1f", fill="#c98b4b", fill_opacity=1.0, radius=3),
        group="reference",
    ),
]
