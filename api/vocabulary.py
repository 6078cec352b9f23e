"""Words for the values Irbis stores as codes (enums, booleans), in the language of the request.

Templates show a stored value with ``{{ word(value) }}``: ``ski_resort`` reads "ski resort",
"горнолыжный курорт" or "тау шаңғысы курорты", ``True`` reads "yes", "да" or "иә".
"""

from __future__ import annotations

from typing import Any

from api.i18n import _l, gettext

WORDS: dict[str, Any] = {
    # how a record came to be
    "observed": _l("observed"),
    "modelled": _l("modelled"),
    "example": _l("example"),
    # ecosystems
    "mountain": _l("mountain"),
    "arid_lowland": _l("arid lowland"),
    # threats
    "ski_resort": _l("ski resort"),
    "road": _l("road"),
    "railway": _l("railway"),
    "pipeline": _l("pipeline"),
    "power_line": _l("power line"),
    "mining": _l("mining"),
    "dam": _l("dam"),
    "urban_expansion": _l("urban expansion"),
    "agriculture": _l("agriculture"),
    "overgrazing": _l("overgrazing"),
    "poaching": _l("poaching"),
    "fence": _l("fence"),
    "tourism": _l("tourism"),
    "other": _l("other"),
    # threat and grant status
    "proposed": _l("proposed"),
    "approved": _l("approved"),
    "under_construction": _l("under construction"),
    "active": _l("active"),
    "halted": _l("halted"),
    "closed": _l("closed"),
    "terminated": _l("terminated"),
    # reports in moderation
    "new": _l("new"),
    "submitted": _l("submitted"),
    "under_review": _l("under review"),
    "published": _l("published"),
    "rejected": _l("rejected"),
    # analyses' states
    "running": _l("running"),
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
}


#: The kinds of analysis (:data:`api.routers.analyses.KINDS`), apart from :data:`WORDS`: their
#: codes are words that mean something else elsewhere ("habitat" is also a layer).
ANALYSIS_KINDS: dict[str, Any] = {
    "ecosystems": _l("ecosystem classification"),
    "habitat": _l("habitat model"),
    "overlap": _l("overlap"),
    "gaps": _l("coverage gaps"),
    "loss": _l("habitat loss"),
}


def analysis_kind(kind: str) -> str:
    """The name of a kind of analysis in the reader's language."""
    found = ANALYSIS_KINDS.get(kind)
    return str(found) if found is not None else kind


def word(value: Any) -> str:
    """``value`` in words: booleans as yes/no, known codes translated, others as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    key = str(value)
    found = WORDS.get(key)
    return str(found) if found is not None else key.replace("_", " ")


#: The result tables of analyses (the keys of ``analysis_runs.results`` that hold rows).
RESULT_TABLES: dict[str, Any] = {
    "areas": _l("areas"),
    "classes": _l("classes"),
    "by_ecosystem": _l("by ecosystem"),
    "largest_gaps": _l("largest gaps"),
    "table": _l("by country"),
    "habitat": _l("habitat by country"),
    "footprint": _l("what the footprint covers"),
    "reported": _l("reported figures"),
    "timeline": _l("timeline"),
}

#: The columns of those tables (their names in the CSV download and the JSON).
RESULT_COLUMNS: dict[str, Any] = {
    "iso3": _l("country"),
    "kind": _l("type"),
    "share": _l("share"),
    "area_ha": _l("area (ha)"),
    "dem": _l("elevation model"),
    "label": _l("class"),
    "eco_class": _l("class code"),
    "species": _l("species"),
    "ecosystem": _l("ecosystem"),
    "habitat_ha": _l("habitat (ha)"),
    "protected_ha": _l("protected (ha)"),
    "funded_ha": _l("funded (ha)"),
    "threatened_ha": _l("threatened (ha)"),
    "gap_ha": _l("gap (ha)"),
    "share_protected": _l("share protected"),
    "share_funded": _l("share funded"),
    "share_threatened": _l("share threatened"),
    "share_gap": _l("share in gaps"),
    "rank": _l("rank"),
    "method": _l("method"),
    "example_inputs": _l("example inputs"),
    "range": _l("range"),
    "name": _l("name"),
    "layer": _l("layer"),
    "status": _l("status"),
    "threat_id": _l("threat"),
    "feature_id": _l("feature"),
    "feature_label": _l("feature name"),
    "proposed_on": _l("proposed on"),
    "started_on": _l("started on"),
    "ended_on": _l("ended on"),
    "changed_on": _l("changed on"),
    "share_of_threat": _l("share of the threat"),
    "share_of_feature": _l("share of the feature"),
    "figure": _l("figure"),
    "value": _l("value"),
    "note": _l("note"),
}

#: Columns whose values are stored codes that read as words (:func:`word`).
CODED_COLUMNS = frozenset({"ecosystem", "kind", "status", "method"})

#: The ecosystem classes' labels (:data:`geo.ecosystems.CLASS_LABELS`, stored in the results
#: of a classification), for the catalogs: a stored label is shown through them.
ECOSYSTEM_CLASS_LABELS = (
    _l("mountain K1: >= 4500 m"),
    _l("mountain K2: 3500-4500 m"),
    _l("mountain K3: 2500-3500 m"),
    _l("mountain K4: 1500-2500 m, slope >= 2°"),
    _l("mountain K5: 1000-1500 m, slope >= 5° or local range > 300 m"),
    _l("mountain K6: 300-1000 m, local range > 300 m"),
    _l("arid lowland: desert (Köppen BW)"),
    _l("lake"),
    _l("glacier (older grids)"),
    _l("arid lowland: semi-desert and steppe (Köppen BS)"),
    _l("other lowland (not arid)"),
    _l("lowland, aridity not assessed"),
)


def result_table(key: str) -> str:
    """The title of an analysis's result table in the reader's language."""
    found = RESULT_TABLES.get(key)
    return str(found) if found is not None else key.replace("_", " ")


def result_column(column: str) -> str:
    """The header of a result column in the reader's language."""
    found = RESULT_COLUMNS.get(column)
    return str(found) if found is not None else column.replace("_", " ")


def result_value(column: str, value: str) -> str:
    """A formatted result cell as the reader reads it: codes as words, class labels
    translated; anything else as it is."""
    if column in CODED_COLUMNS and value:
        return word(value)
    if column == "label" and value:
        return gettext(value)
    return value
