"""Field monitoring: observation points of accepted monitoring records."""

from __future__ import annotations

from geo.messages import N_
from layers.spec import PROVENANCE, Column, Join, LayerSpec, Sensitivity, Style

LAYERS = [
    LayerSpec(
        id="monitoring_points",
        title="Monitoring observation points",
        description=N_(
            "Where grantees observed what they report in field monitoring (camera traps, "
            "counts, patrol incidents). Only points of accepted records are public; points of "
            "sensitive indicators are generalised to a grid cell for the public, exactly as "
            "occurrences of sensitive species are."
        ),
        table="monitoring_points",
        geometry_type="Point",
        joins=(Join("monitoring_indicators", "indicator_id"),),
        columns=(
            Column("indicator", source="monitoring_indicators.code", title="Indicator"),
            Column("indicator_name", source="monitoring_indicators.name_en", title="Name"),
            Column("unit", source="monitoring_indicators.unit", title="Unit", in_tiles=False),
            Column("observed_on", "date", title="Observed on"),
            Column("record_id", "integer", title="Record", private=True),
            Column("note", title="Note", private=True, in_tiles=False),
            *PROVENANCE,
        ),
        datetime_column="observed_on",
        public_where="accepted",
        sensitivity=Sensitivity(flag="monitoring_indicators.sensitive"),
        style=Style(colour="#00695c", fill="#4db6ac", fill_opacity=0.9, radius=4),
        label_column="indicator_name",
        visible=False,
        keywords=("monitoring", "grants"),
    ),
]
