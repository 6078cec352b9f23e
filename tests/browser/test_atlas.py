"""In the browser: the atlas and the case page load with no internet, vector tiles arrive and
decode, a layer toggles off and on, a popup shows attributes with source and licence."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import pytest

pytestmark = pytest.mark.browser
MVT = "application/vnd.mapbox-vector-tile"

FIND_LAYER = """(id) => {
  const key = Object.keys(window).find(k => k.startsWith('vector_tile_layer_') && window[k].irbisLayer === id);
  const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
  return key ? map.hasLayer(window[key]) : null;
}"""


def _record(page: Any) -> list[Any]:
    responses: list[Any] = []
    page.on("response", lambda r: responses.append(r))
    return responses


def _tiles(page: Any) -> list[tuple[str, int, dict[str, str], bytes]]:
    """Vector tiles as the page received them (url, status, headers, body)."""
    got: list[tuple[str, int, dict[str, str], bytes]] = []

    def handle(route: Any) -> None:
        from playwright.sync_api import Error

        try:
            resp = route.fetch()
            body = resp.body()
            route.fulfill(response=resp, body=body)
        except Error:  # the map cancelled the tile (zoom changed); nothing to record
            return
        got.append((route.request.url, resp.status, resp.headers, body))

    page.route("**/collections/*/tiles/WebMercatorQuad/**", handle)
    return got


def _external(page: Any) -> list[str]:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    return asked


def test_atlas_loads_tiles_and_toggles_layers(page, live_server: str, artifacts) -> None:  # type: ignore[no-untyped-def]
    responses = _record(page)
    asked = _external(page)
    tiles = _tiles(page)
    page.goto(f"{live_server}/atlas")
    page.wait_for_load_state("networkidle")
    assert tiles, "no vector tiles were requested"
    assert all(status == 200 for _, status, _, _ in tiles)
    assert all(headers["content-type"] == MVT for _, _, headers, _ in tiles)
    decoded = [mapbox_vector_tile.decode(body) for _, _, _, body in tiles]
    layers_seen = {name for d in decoded for name in d}
    assert {"countries", "rivers", "places", "protected_areas"} <= layers_seen
    assert sum(len(d["countries"]["features"]) for d in decoded if "countries" in d) > 0
    relief = [r for r in responses if "/rasters/relief/tiles/" in r.url]
    assert relief and all(
        r.status in (200, 304) and r.headers["content-type"] == "image/png"
        for r in relief
        if r.status == 200
    )
    page.screenshot(path=str(artifacts / "atlas.png"))

    # the layer switcher: populated places off, then on again (tiles are asked for again)
    assert page.evaluate(FIND_LAYER, "places") is True
    label = page.locator(".leaflet-control-layers-overlays label", has_text="Populated places")
    label.locator("input").click()
    assert page.evaluate(FIND_LAYER, "places") is False
    page.screenshot(path=str(artifacts / "atlas-places-off.png"))
    with page.expect_response(
        lambda r: "/collections/places/tiles/" in r.url, timeout=10_000
    ) as again:
        label.locator("input").click()
    assert again.value.status == 200
    assert page.evaluate(FIND_LAYER, "places") is True

    assert not [u for u in asked if not u.startswith(live_server) and not u.startswith("data:")]
    assert page.console_errors == []


def test_popup_shows_attributes_source_licence_and_example_mark(
    page, live_server: str, artifacts
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/cases/kok-jailau")
    page.wait_for_load_state("networkidle")
    # click the middle of the Kok-Jailau footprint (76.98 E, 43.14 N)
    point = page.evaluate(
        """() => {
          const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
          const p = map.latLngToContainerPoint([43.14, 76.98]);
          const r = map.getContainer().getBoundingClientRect();
          return [r.left + p.x, r.top + p.y];
        }"""
    )
    page.mouse.click(point[0], point[1])
    popup = page.locator(".leaflet-popup-content .irbis-popup h4")
    popup.wait_for(timeout=10_000)
    content = page.locator(".leaflet-popup-content")
    page.wait_for_function(
        "() => !document.querySelector('.leaflet-popup-content').innerText.includes('loading')"
    )
    text = content.inner_text()
    assert "Kok-Jailau" in text
    assert "Source:" in text and "Licence:" in text
    assert content.locator(".badge.example").count() >= 1
    page.screenshot(path=str(artifacts / "kok-jailau-popup.png"))
    assert page.console_errors == []


def test_layer_map_page(page, live_server: str, artifacts) -> None:  # type: ignore[no-untyped-def]
    tiles = _tiles(page)
    page.goto(f"{live_server}/collections/field_sites/map")
    page.wait_for_load_state("networkidle")
    sites = [
        body
        for url, status, _, body in tiles
        if "/collections/field_sites/" in url and status == 200
    ]
    assert any(mapbox_vector_tile.decode(b).get("field_sites") for b in sites)
    legend = page.locator(".irbis-legend").inner_text()
    assert "Field sites" in legend and "Countries" in legend and "example" in legend
    page.screenshot(path=str(artifacts / "field-sites-map.png"))
    assert page.console_errors == []
