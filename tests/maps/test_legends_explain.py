"""Legends that explain: read from the rendered pages, every entry is in words (no raw codes,
species by common name with the scientific one), a layer with nothing to show has no entry,
and the habitat and the gaps in its protection never share a colour."""

from __future__ import annotations

import json
import re
from typing import Any

from layers import maps
from layers.registry import get_layer, layer_ids

LEGEND = re.compile(r"Irbis\.legend\(\w+, (\[.*?\]), (\"[^\"]*\")\);", re.S)


def legend_of(html: str) -> list[dict[str, Any]]:
    """The legend entries a rendered map page hands to the browser."""
    m = LEGEND.search(html)
    assert m, "the page has no legend"
    return list(json.loads(m.group(1)))


def matched(client: Any, layer: str) -> int:
    """How many features of ``layer`` the public sees, asked through OGC API Features."""
    r = client.get(f"/collections/{layer}/items", params={"limit": 1, "f": "json"})
    assert r.status_code == 200, r.text
    return int(r.json()["numberMatched"])


def test_atlas_legend_has_an_entry_for_every_layer_with_features_and_none_for_empty_ones(
    client: Any,
) -> None:
    entries = legend_of(client.get("/atlas").text)
    shown = {e["layer"] for e in entries} - {None}  # the relief's elevations: no layer
    counts = {layer: matched(client, layer) for layer in layer_ids()}
    assert {k for k, n in counts.items() if n == 0}, "the demo has a layer with nothing in it"
    assert shown == {k for k, n in counts.items() if n > 0}


def test_layer_map_of_an_empty_layer_has_no_entry_for_it(client: Any) -> None:
    empty = next(k for k in layer_ids() if matched(client, k) == 0)
    entries = legend_of(client.get(f"/collections/{empty}/map").text)
    assert empty not in {e["layer"] for e in entries}
    assert entries, "the context layers (countries, lakes...) keep theirs"


def test_atlas_legend_entries_are_words(client: Any) -> None:
    entries = legend_of(client.get("/atlas").text)
    labels = [e["label"] for e in entries]
    assert not [label for label in labels if "_" in label], labels
    categories = [e for e in entries if e["group"]]
    assert categories, "the demo has a layer coloured by category"


def test_species_legend_reads_common_then_scientific_name() -> None:
    labels = {i["label"] for i in maps.legend_items([get_layer("species_ranges")])}
    assert labels == {"Snow leopard (Panthera uncia)", "Goitered gazelle (Gazella subgutturosa)"}


def test_every_category_of_every_layer_is_shown_in_words() -> None:
    for layer in layer_ids():
        for item in maps.legend_items([get_layer(layer)]):
            assert "_" not in item["label"], (layer, item["label"])
            assert item["label"].strip(), layer


def test_habitat_and_gaps_have_distinct_colours() -> None:
    habitat = {i["colour"] for i in maps.legend_items([get_layer("habitat")])}
    gaps = {i["colour"] for i in maps.legend_items([get_layer("coverage_gaps")])}
    assert habitat and gaps and not habitat & gaps


def test_legend_items_leave_out_the_empty_layers() -> None:
    specs = [get_layer("countries"), get_layer("habitat")]
    assert {i["layer"] for i in maps.legend_items(specs, empty={"habitat"})} == {"countries"}
