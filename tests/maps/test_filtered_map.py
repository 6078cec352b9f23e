"""A feature table's filter is kept on the map: the table links to the map with its filter, the
map page draws only the matching features (fetched from OGC API Features with that filter),
and a wrong filter is a 400 with a message, not a map of everything."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

FILTER = "designation = 'National Park'"
FILTERED = re.compile(r"Irbis\.filtered\(\w+, (\"[^\"]+\")")


def test_the_table_links_to_the_map_with_its_filter(client: Any) -> None:
    page = client.get(
        "/collections/protected_areas/items", params={"f": "html", "filter": FILTER}
    ).text
    href = re.search(r'href="([^"]+)" id="items-map"', page)
    assert href, "the table links to its map"
    url = href.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(url).query)["filter"] == [FILTER]


def test_the_map_draws_only_the_features_matching_the_filter(client: Any) -> None:
    page = client.get("/collections/protected_areas/map", params={"filter": FILTER}).text
    found = FILTERED.search(page)
    assert found, "the map asks for the filtered features"
    url = json.loads(found.group(1))
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/collections/protected_areas/items"
    assert query["filter"] == [FILTER]
    # the layer's own tiles (every feature) are not drawn under the filtered ones
    assert "/collections/protected_areas/tiles/" not in page
    # what the map asks for is what the table matched, and fewer than the whole layer
    matched = client.get(url).json()["numberMatched"]
    everything = client.get("/collections/protected_areas/items?f=json&limit=1").json()
    assert 0 < matched < everything["numberMatched"]


def test_without_a_filter_the_map_draws_the_layer_tiles(client: Any) -> None:
    page = client.get("/collections/protected_areas/map").text
    assert "Irbis.filtered(" not in page
    assert "/collections/protected_areas/tiles/WebMercatorQuad/" in page


@pytest.mark.parametrize("bad", ["designation = ", "no_such_column = 1"])
def test_a_wrong_filter_is_a_400_with_a_message(client: Any, bad: str) -> None:
    r = client.get(
        "/collections/protected_areas/map", params={"filter": bad}, headers={"Accept": "text/html"}
    )
    assert r.status_code == 400
    assert "Traceback" not in r.text and "psycopg" not in r.text
