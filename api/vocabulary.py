"""Words for the values Irbis stores as codes (enums, booleans), in the language of the request.

Templates show a stored value with ``{{ word(value) }}``: ``ski_resort`` reads "ski resort",
"горнолыжный курорт" or "тау шаңғысы курорты", ``True`` reads "yes", "да" or "иә".
"""

from __future__ import annotations

from typing import Any

from api.i18n import _l

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
    # analyses: their kinds (api.routers.analyses.KINDS) and states
    "ecosystems": _l("ecosystem classification"),
    "habitat": _l("habitat model"),
    "overlap": _l("overlap"),
    "gaps": _l("coverage gaps"),
    "loss": _l("habitat loss"),
    "running": _l("running"),
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
}


def word(value: Any) -> str:
    """``value`` in words: booleans as yes/no, known codes translated, others as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    key = str(value)
    found = WORDS.get(key)
    return str(found) if found is not None else key.replace("_", " ")
