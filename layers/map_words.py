"""The words of the maps, marked for translation.

Layer titles, property labels and legend categories are declared in English on the specs
(:mod:`layers.catalog`); the maps show them in the page's language, so each is listed here for
``make i18n`` to extract (a test checks that every title and label of the registry is).
The map scripts' own words (popups, legend, search, coordinate readout) are :data:`JS_TEXTS`:
the server renders them, translated, into the page (``Irbis.texts``).

``layers/`` does not import ``api/``: the caller passes the translation function (``tr``).
"""

from __future__ import annotations

from collections.abc import Callable

#: A translation function (``api.i18n.gettext`` for a page; the identity for English).
Translate = Callable[[str], str]


def _l(message: str) -> str:
    """Marks ``message`` for extraction; it is translated where it is shown."""
    return message


def same(message: str) -> str:
    """No translation (English, the source language)."""
    return message


#: Layer titles and property labels of the registry, as the maps show them.
SPEC_WORDS = (
    _l("Countries"),
    _l("Name"),
    _l("Name (Russian)"),
    _l("Name (English)"),
    _l("ISO 3166 alpha-3"),
    _l("ISO 3166 alpha-2"),
    _l("Programme country"),
    _l("Source"),
    _l("Licence"),
    _l("Method"),
    _l("Administrative units"),
    _l("Country"),
    _l("HASC code"),
    _l("Physical regions"),
    _l("Feature class"),
    _l("Scale rank"),
    _l("Glaciers"),
    _l("Lakes"),
    _l("Rivers"),
    _l("Populated places"),
    _l("Population"),
    _l("Peaks and passes"),
    _l("Elevation (m)"),
    _l("Districts of Kazakhstan"),
    _l("Name (Kazakh)"),
    _l("Region"),
    _l("Region (Kazakh)"),
    _l("Region (Russian)"),
    _l("KATO code"),
    _l("ISO 3166-2"),
    _l("Boundaries of"),
    _l("Settlements of Kazakhstan"),
    _l("Name (local)"),
    _l("Place class"),
    _l("Population (where tagged)"),
    _l("Former names"),
    _l("OSM id"),
    _l("Ecosystems (modelled, latest run)"),
    _l("Ecosystem"),
    _l("Class"),
    _l("Class rule"),
    _l("DEM"),
    _l("Area (ha)"),
    _l("Analysis run"),
    _l("Species habitat (modelled, latest run)"),
    _l("Species"),
    _l("Coverage gaps (latest run)"),
    _l("Rank"),
    _l("Protected areas"),
    _l("Original name"),
    _l("Designation"),
    _l("Designation type"),
    _l("IUCN category"),
    _l("Status"),
    _l("Status year"),
    _l("Reported area (km²)"),
    _l("OECM"),
    _l("WDPA id"),
    _l("Species ranges"),
    _l("Common name"),
    _l("Red List category"),
    _l("Presence"),
    _l("Origin"),
    _l("Seasonality"),
    _l("Compiler"),
    _l("Year"),
    _l("Species occurrences"),
    _l("Date"),
    _l("Basis of record"),
    _l("Uncertainty (m)"),
    _l("Recorded by"),
    _l("Occurrence id"),
    _l("GBIF id"),
    _l("Ecosystems (every stored run and import)"),
    _l("Threats"),
    _l("Kind"),
    _l("Proposed on"),
    _l("Started on"),
    _l("Ended on"),
    _l("Description"),
    _l("Field sites"),
    _l("Grant"),
    _l("Grant title"),
    _l("Organisation"),
    _l("Uploaded by"),
    _l("Uploaded at"),
    _l("Grants"),
    _l("Code"),
    _l("Title"),
    _l("Grantee organisation"),
    _l("Call or round"),
    _l("Ecosystem focus"),
    _l("Amount"),
    _l("Currency"),
    _l("Amount (USD)"),
    _l("Start"),
    _l("End"),
    _l("Start year"),
    _l("End year"),
    _l("Licence (of the field sites)"),
    _l("Monitoring observation points"),
    _l("Indicator"),
    _l("Unit"),
    _l("Observed on"),
    _l("Record"),
    _l("Note"),
    # legend categories, as words (layers.maps.readable)
    _l("Arid lowland"),
    _l("Mountain"),
    _l("Other"),
    _l("Proposed"),
    _l("Active"),
    _l("Closed"),
    _l("Terminated"),
)

#: Base layers and the default legend title.
BASE_WORDS = {
    "relief": _l("Shaded relief"),
    "hillshade": _l("Hillshade only"),
    "legend": _l("Legend"),
}

#: The words of the map scripts (api/static/irbis-map.js), by key.
JS_TEXTS = {
    "yes": _l("yes"),
    "no": _l("no"),
    "loading": _l("loading…"),
    "unavailable": _l("not available"),
    "source": _l("Source"),
    "licence": _l("Licence"),
    "details": _l("details"),
    "example": _l("example"),
    "observed": _l("observed"),
    "modelled": _l("modelled"),
    "exampleNote": _l("illustrative, not an official record"),
    "legend": _l("Legend"),
    "search": _l("Find a place, park, district or grant"),
    "searchLabel": _l("Search the map"),
    "searchNone": _l("Nothing found"),
    "searchFailed": _l("The search did not answer; try again."),
    "coordinates": _l("Coordinates (WGS 84)"),
    "centre": _l("map centre"),
    "lat": _l("lat"),
    "lon": _l("lon"),
}


def js_texts(tr: Translate = same) -> dict[str, str]:
    """:data:`JS_TEXTS` in the language of ``tr``."""
    return {k: tr(v) for k, v in JS_TEXTS.items()}
