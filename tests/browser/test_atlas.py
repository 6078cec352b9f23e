"""In the browser: the atlas and the case page load with no internet, vector tiles arrive and
decode, a layer toggles off and on, a popup shows attributes with source and licence."""

from __future__ import annotations

import base64
import re
from typing import Any

import mapbox_vector_tile
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
MVT = "application/vnd.mapbox-vector-tile"

#: a tile of the dataset tileset (every collection in one)
DATASET = re.compile(r"^http://[^/]+/tiles/WebMercatorQuad/\d+/\d+/\d+")
#: whether a collection is switched on in the atlas (its switch is on the map)
SWITCH_ON = """(id) => {
  const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
  return map.hasLayer(window.Irbis.layers[id]);
}"""
#: the start of a function with the map as ``m`` (close it with "}")
MAP = "() => { const m = window[Object.keys(window).find(k => k.startsWith('map_'))];"


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


def _dataset_tiles(page: Any) -> list[tuple[str, int, dict[str, str], bytes]]:
    """Dataset tiles (every collection in one) as the page received them."""
    got: list[tuple[str, int, dict[str, str], bytes]] = []

    def handle(route: Any) -> None:
        from playwright.sync_api import Error

        try:
            resp = route.fetch()
            body = resp.body()
            route.fulfill(response=resp, body=body)
        except Error:
            return
        got.append((route.request.url, resp.status, resp.headers, body))

    page.route(DATASET, handle)
    return got


def _external(page: Any) -> list[str]:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    return asked


def test_atlas_loads_tiles_and_toggles_layers(page, live_server: str, artifacts) -> None:  # type: ignore[no-untyped-def]
    responses = _record(page)
    asked = _external(page)
    tiles = _dataset_tiles(page)
    page.goto(f"{live_server}/atlas")
    page.wait_for_load_state("networkidle")
    assert tiles, "no vector tiles were requested"
    assert all(status == 200 for _, status, _, _ in tiles)
    assert all(headers["content-type"] == MVT for _, _, headers, _ in tiles)
    assert not [r for r in responses if "/collections/" in r.url and "/tiles/" in r.url]
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

    # the layer switcher: populated places off (the tiles no longer carry them), then on again
    assert page.evaluate(SWITCH_ON, "places") is True
    label = page.locator(".leaflet-control-layers-overlays label", has_text="Populated places")
    with page.expect_response(lambda r: DATASET.match(r.url) is not None, timeout=10_000):
        label.locator("input").click()
    assert page.evaluate(SWITCH_ON, "places") is False
    page.wait_for_load_state("networkidle")
    off = [u for u, _, _, _ in tiles[len(decoded) :]]
    assert off and all("places" not in u.split("collections=")[1].split(",") for u in off)
    page.screenshot(path=str(artifacts / "atlas-places-off.png"))
    with page.expect_response(
        lambda r: DATASET.match(r.url) is not None and "places" in r.url, timeout=10_000
    ) as again:
        label.locator("input").click()
    assert again.value.status == 200
    assert page.evaluate(SWITCH_ON, "places") is True

    assert not [u for u in asked if not u.startswith(live_server) and not u.startswith("data:")]
    assert page.console_errors == []


def test_atlas_makes_one_tile_request_per_tile_position(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []
    page.on(
        "request",
        lambda r: asked.append(r.url) if "/tiles/" in r.url and "/rasters/" not in r.url else None,
    )
    page.goto(f"{live_server}/atlas")
    page.wait_for_load_state("networkidle")
    for zoom in (8, 9):
        start = len(asked)
        page.evaluate(MAP + f" m.setView([43.25, 76.95], {zoom}, {{animate: false}}); }}")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        urls = asked[start:]
        positions = [u.split("/tiles/WebMercatorQuad/")[1].split("?")[0] for u in urls]
        assert urls and all("/collections/" not in u for u in urls), urls
        assert all(p.startswith(f"{zoom}/") for p in positions), positions
        assert len(positions) == len(set(positions)), "a tile position was requested twice"
        # every tile position the map shows at this zoom was asked for once
        shown = page.evaluate(
            MAP + " const g = Object.values(m._layers).find(l => l.irbisDataset);"
            " return Object.keys(g._tiles).filter(k => k.endsWith(':' + m.getZoom())).length; }"
        )
        assert len(positions) == shown
    assert page.console_errors == []


def test_clicking_a_point_on_the_atlas_opens_its_popup(page, live_server: str, artifacts) -> None:  # type: ignore[no-untyped-def]
    peaks = page.request.get(
        f"{live_server}/collections/peaks/items?limit=50&bbox=74,41,80,44",
        headers={"Accept": "application/geo+json"},
    ).json()["features"]
    peak = next(f for f in peaks if f["properties"]["name"])
    lon, lat = peak["geometry"]["coordinates"]
    page.goto(f"{live_server}/atlas")
    page.wait_for_load_state("networkidle")
    page.evaluate(MAP + f" m.setView([{lat}, {lon}], 11, {{animate: false}}); }}")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    x, y = page.evaluate(
        MAP + f" const p = m.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"
    )
    page.mouse.click(x, y)
    title = page.locator(".leaflet-popup-content .irbis-popup h4")
    title.wait_for(timeout=10_000)
    page.wait_for_function(
        "() => !document.querySelector('.leaflet-popup-content').innerText.includes('loading')"
    )
    assert title.inner_text() == peak["properties"]["name"]
    link = page.locator(".leaflet-popup-content a", has_text="details").get_attribute("href")
    assert link == f"/collections/peaks/items/{peak['id']}?f=html"
    page.screenshot(path=str(artifacts / "atlas-point-popup.png"))
    assert page.console_errors == []


def test_popup_shows_attributes_source_licence_and_example_mark(
    page, live_server: str, artifacts
) -> None:  # type: ignore[no-untyped-def]
    threats = page.request.get(
        f"{live_server}/collections/threats/items?bbox=76.8,43.0,77.2,43.3",
        headers={"Accept": "application/geo+json"},
    ).json()["features"]
    footprint = next(f for f in threats if "Kok-Jailau" in f["properties"]["name"])
    ring = footprint["geometry"]["coordinates"][0]
    lon = (min(p[0] for p in ring) + max(p[0] for p in ring)) / 2
    lat = (min(p[1] for p in ring) + max(p[1] for p in ring)) / 2
    page.goto(f"{live_server}/cases/kok-jailau")
    page.wait_for_load_state("networkidle")
    # click the middle of the Kok-Jailau footprint (an ellipse)
    point = page.evaluate(
        MAP + f" const p = m.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"
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


def test_the_relief_legend_is_a_ramp_shown_with_the_relief(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    """The relief's elevations (m) are a colour ramp in the legend while the shaded relief is
    the base layer, and leave it with the relief. (The relief's tiles are answered by a blank
    image here: the legend is what is looked at.)"""
    blank = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    pattern = re.compile(r"/rasters/relief/tiles/")
    page.route(
        pattern, lambda route: route.fulfill(status=200, content_type="image/png", body=blank)
    )
    page.goto(f"{live_server}/collections/lakes/map", wait_until="domcontentloaded")
    row = page.locator(".irbis-legend .row", has_text="Elevation (m): -100–5500")
    row.wait_for(timeout=20_000)  # the tiles need not have come
    # The legend is redrawn whenever a layer comes or goes, so the ramp is looked up and
    # measured in one step (an element found before a redraw is detached, 0 px wide, after it).
    page.wait_for_function(
        """() => [...document.querySelectorAll('.irbis-legend .row')].some(r => {
            const s = r.querySelector('.swatch.ramp');
            return r.textContent.includes('Elevation (m): -100–5500') && s
                && getComputedStyle(s).backgroundImage.includes('linear-gradient')
                && s.getBoundingClientRect().width > 30;
        })""",
        timeout=10_000,
    )
    page.locator(".leaflet-control-layers-base label", has_text="Hillshade only").click()
    page.wait_for_timeout(300)
    assert row.count() == 0
    page.locator(".leaflet-control-layers-base label", has_text="Shaded relief").click()
    page.wait_for_timeout(300)
    assert row.count() == 1
    page.unroute(pattern)
    assert page.console_errors == []
