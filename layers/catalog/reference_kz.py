"""Reference layers of Kazakhstan: districts (geokz, CC BY 4.0) and settlements
(OpenStreetMap, ODbL), with names in English, Kazakh and Russian."""

from __future__ import annotations

from geo.messages import N_
from layers.spec import PROVENANCE, Column, LayerSpec, Style

LAYERS = [
    LayerSpec(
        id="districts",
        title="Districts of Kazakhstan",
        description=N_(
            "Kazakhstan's 224 districts and cities of 2024 with their region, KATO and "
            "ISO 3166-2 codes; names in English, Kazakh and Russian (geokz, CC BY 4.0)."
        ),
        table="districts",
        geometry_type="MultiPolygon",
        columns=(
            Column("name_en", title="Name"),
            Column("name_kk", title="Name (Kazakh)"),
            Column("name_ru", title="Name (Russian)"),
            Column("region_en", title="Region"),
            Column("region_kk", title="Region (Kazakh)"),
            Column("region_ru", title="Region (Russian)"),
            Column("kato", title="KATO code"),
            Column("iso_3166_2", title="ISO 3166-2"),
            Column("year", "integer", title="Boundaries of"),
            *PROVENANCE,
        ),
        style=Style(colour="#9c8f80", fill_opacity=0.0, weight=0.5),
        group="reference",
        visible=False,
        label_column="name_en",
        keywords=("boundaries", "Kazakhstan"),
    ),
    LayerSpec(
        id="settlements",
        title="Settlements of Kazakhstan",
        description=N_(
            "Cities, towns, villages, hamlets and isolated dwellings of Kazakhstan from "
            "OpenStreetMap (© OpenStreetMap contributors, ODbL); names in English, Kazakh and "
            "Russian where tagged."
        ),
        table="settlements",
        geometry_type="Point",
        columns=(
            Column("name", title="Name (local)"),
            Column("name_en", title="Name"),
            Column("name_kk", title="Name (Kazakh)"),
            Column("name_ru", title="Name (Russian)"),
            Column("place", title="Place class"),
            Column("population", "integer", title="Population (where tagged)"),
            Column("former_names", title="Former names", in_tiles=False),
            Column("osm_id", title="OSM id", in_tiles=False),
            *PROVENANCE,
        ),
        style=Style(colour="#333333", fill="#ffffff", fill_opacity=1.0, radius=2),
        group="reference",
        visible=False,
        keywords=("places", "Kazakhstan", "OpenStreetMap"),
    ),
]
