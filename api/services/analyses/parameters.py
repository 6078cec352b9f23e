"""A run's parameters as a person reads them: translated labels, formatted values.

The run page lists each stored parameter under a label in the reader's language (en, ru, kk),
with its value formatted for that language: dates in words, areas in hectares, distances in
metres, the grid in arc minutes, booleans as yes/no, overlap layers and loss epochs by their
names, earlier runs as links to their pages. Parameters with no label here (a future one) are
still shown, under their name. The JSON record keeps the parameters as stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from markupsafe import Markup

from api import i18n
from api.i18n import _l
from api.vocabulary import word
from geo import funding as fd

#: The label of each parameter, whatever the kind of run that stored it.
LABELS: dict[str, Any] = {
    # overlap, gaps, loss
    "layers": _l("Layers overlapped"),
    "as_of": _l("Funded field sites counted on"),
    "funded": _l("Funded field sites"),
    "threat": _l("Threat"),
    "epochs": _l("Habitat rasters compared"),
    "habitat_values": _l("Raster values counted as habitat"),
    "extra_layers": _l("Other layers measured in the footprints"),
    "habitat_run": _l("Habitat run"),
    "min_gap_ha": _l("Smallest gap kept"),
    "protected": _l("Protected areas counted"),
    # habitat
    "species": _l("Species"),
    "ecosystems_run": _l("Ecosystems run"),
    "elevation_min_m": _l("Lowest elevation"),
    "elevation_max_m": _l("Highest elevation"),
    "elevation_min_by_region": _l("Lowest elevation by region"),
    "ecosystem_classes": _l("Ecosystem classes"),
    "landcover_classes": _l("Land cover classes"),
    "range_countries": _l("Range countries"),
    "range_regions": _l("Range regions"),
    "range_parts": _l("Parts of the range"),
    "range": _l("Range"),
    "sources": _l("Sources"),
    # ecosystems
    "resolution_deg": _l("Grid cell size"),
    "fine_dem": _l("Fine elevation model"),
    "coarse_dem": _l("Coarse elevation model"),
    "radius_m": _l("Radius of the relief test"),
    "definition": _l("Definition of mountains"),
    "glaciers": _l("Glaciers"),
    "aridity": _l("Aridity"),
    "koppen": _l("Köppen climate file"),
    "aridity_edge": _l("Arid edge file"),
    "landcover": _l("Land cover file"),
    "ecoregions": _l("Ecoregions file"),
}
#: The layers an overlap may name (:data:`api.services.analyses.reading.OVERLAP_LAYERS`).
LAYER_NAMES: dict[str, Any] = {
    "protected_areas": _l("Protected areas"),
    "field_sites": _l("Field sites"),
    "threats": _l("Threats"),
    "countries": _l("Countries"),
    "habitat": _l("Habitat"),
    "ecosystems": _l("Ecosystems"),
}
#: The epochs of a loss series (:func:`api.services.analyses.habitat.register_habitat_scenario`).
EPOCHS: dict[str, Any] = {"current": _l("as it is"), "if_built": _l("if built")}

#: Values stored as English prose by the analyses (the rules a run applied), shown in the
#: reader's language. Citations (author, year, dataset) are shown as stored: a reference is
#: not translated. A stored value missing here (an older wording) is shown as stored.
PROSE: dict[str, Any] = {
    fd.RULE: _l(
        "field sites of grants under way on the date (status active or closed, "
        "start_date <= date <= end_date), and for a species' figures only grants whose "
        "species include it"
    ),
    "inside the mountain class of their elevation": _l(
        "inside the mountain class of their elevation"
    ),
    "not assessed": _l("not assessed"),
    "imported species range": _l("imported species range"),
    "default range": _l("modelled range (the default)"),
    "Köppen B (Kottek et al. 2006): arid edge from Beck et al. (2018) 1 km, "
    "desert BW / semi-desert and steppe BS from Rubel et al. (2017)": _l(
        "Köppen B (Kottek et al. 2006): arid edge from Beck et al. (2018) 1 km, "
        "desert BW / semi-desert and steppe BS from Rubel et al. (2017)"
    ),
    "Köppen B (Beck et al. 2018 main class), BW desert / BS steppe (Rubel et al. 2017)": _l(
        "Köppen B (Beck et al. 2018 main class), BW desert / BS steppe (Rubel et al. 2017)"
    ),
}

_NONE = Markup('<span class="none">–</span>')
#: Parameters are shown in the order of :data:`LABELS` (JSONB keeps no order), others after.
_ORDER = {name: i for i, name in enumerate(LABELS)}


def _ordered(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return sorted(value.items(), key=lambda kv: _ORDER.get(str(kv[0]), len(_ORDER)))


@dataclass(frozen=True)
class Parameter:
    """One parameter of a run: its stored name, its label and its value, ready for a page."""

    name: str
    label: str
    value: Markup


def _number(v: float, lang: str) -> str:
    return format_decimal(v, format="#,##0.###", locale=lang)


def _mapping(value: Mapping[str, Any], lang: str, names: Mapping[str, Any]) -> Markup:
    items = Markup("").join(
        Markup("<dt>{}</dt><dd>{}</dd>").format(
            str(names.get(k, str(k).replace("_", " "))), _value(str(k), v, lang)
        )
        for k, v in _ordered(value)
    )
    return Markup('<dl class="readable">{}</dl>').format(items)


def _named(name: str, v: Any, lang: str) -> Markup | None:
    """Values whose formatting depends on the parameter (``None`` when it does not)."""
    if name == "as_of" and isinstance(v, str):
        try:
            return Markup("{}").format(format_date(dt.date.fromisoformat(v), "long", locale=lang))
        except ValueError:
            return None
    if name == "layers" and isinstance(v, list):
        return Markup("{}").format(", ".join(str(LAYER_NAMES.get(x, x)) for x in v))
    if name == "epochs" and isinstance(v, Mapping):
        pairs = [Markup("{}: {}").format(str(EPOCHS.get(k, k)), r) for k, r in v.items()]
        return Markup("; ").join(pairs) if pairs else Markup("{}").format(i18n.gettext("none"))
    if name.endswith("_by_region") and isinstance(v, Mapping):
        metres = [Markup("{}: {}").format(k, _named("_m", x, lang) or x) for k, x in v.items()]
        return Markup("; ").join(metres)
    if name == "threat" and v is None:
        return Markup("{}").format(i18n.gettext("all published threats"))
    if name.endswith("_run") and isinstance(v, int) and not isinstance(v, bool):
        label = i18n.gettext("run %(id)s") % {"id": v}
        return Markup('<a href="/analyses/{}">{}</a>').format(v, label)
    if isinstance(v, int | float) and not isinstance(v, bool):
        if name.endswith("_ha"):
            return Markup("{}").format(i18n.gettext("%(area)s ha") % {"area": _number(v, lang)})
        if name.endswith("_m"):
            return Markup("{}").format(i18n.gettext("%(n)s m") % {"n": _number(v, lang)})
        if name == "resolution_deg":
            return Markup("{}′").format(_number(v * 60, lang))
    return None


def _value(name: str, v: Any, lang: str) -> Markup:
    named = _named(name, v, lang)
    if named is not None:
        return named
    if v is None:
        return _NONE
    if isinstance(v, bool):
        return Markup("{}").format(word(v))
    if isinstance(v, int | float):
        return Markup("{}").format(_number(v, lang))
    if isinstance(v, Mapping):
        return _mapping(v, lang, LABELS) if v else _NONE
    if isinstance(v, list | tuple):
        if not v:
            return Markup("{}").format(i18n.gettext("none"))
        if all(not isinstance(x, Mapping | list | tuple) for x in v):
            return Markup(", ").join(_value(name, x, lang) for x in v)
        return Markup('<ul class="readable">{}</ul>').format(
            Markup("").join(Markup("<li>{}</li>").format(_value(name, x, lang)) for x in v)
        )
    if isinstance(v, str) and v in PROSE:
        return Markup("{}").format(str(PROSE[v]))
    return Markup("{}").format(v)


def parameter_rows(parameters: Mapping[str, Any] | None, lang: str) -> list[Parameter]:
    """The parameters of a run in ``lang`` (en, ru or kk), in the order of :data:`LABELS`."""
    token = i18n.set_locale(lang)
    try:
        return [
            Parameter(name, str(LABELS.get(name, name.replace("_", " "))), _value(name, v, lang))
            for name, v in _ordered(parameters or {})
        ]
    finally:
        i18n.reset(token)
