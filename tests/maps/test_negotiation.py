"""Content negotiation: every OGC resource answers JSON unless HTML is asked for explicitly
(OWSLib and other clients send ``Accept: */*`` or nothing); a browser's Accept gets HTML."""

from __future__ import annotations

import pytest

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
RESOURCES = [
    "/",
    "/conformance",
    "/collections",
    "/collections/protected_areas",
    "/collections/protected_areas/items?limit=2",
    "/collections/protected_areas/queryables",
]


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("accept", ["*/*", None, "application/json"])
def test_json_unless_html_is_asked_for(client, path: str, accept: str | None) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, headers={"Accept": accept or ""})
    assert r.status_code == 200, r.text
    assert "json" in r.headers["content-type"], (path, accept, r.headers["content-type"])
    assert isinstance(r.json(), dict)


@pytest.mark.parametrize("path", RESOURCES)
def test_a_browser_gets_html(client, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, headers={"Accept": BROWSER})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()


def test_the_landing_page_links_the_dataset_tilesets(client) -> None:  # type: ignore[no-untyped-def]
    links = client.get("/", headers={"Accept": "*/*"}).json()["links"]
    tiles = [lk for lk in links if lk["rel"].endswith("/tilesets-vector")]
    assert len(tiles) == 1 and tiles[0]["href"].endswith("/tiles")
    assert client.get(tiles[0]["href"]).json()["tilesets"]
