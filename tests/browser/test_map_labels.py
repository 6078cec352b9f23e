"""In Chromium, the Russian atlas: place labels in Cyrillic, the legend and a popup in
Russian, the search box flies to Almaty, the coordinate readout shows numbers, and the
metric scale is on the map; nothing is asked of another host."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits

#: the start of a function with the map as ``m`` (close it with "}")
MAP = "() => { const m = window[Object.keys(window).find(k => k.startsWith('map_'))];"
CYRILLIC = re.compile(r"[А-Яа-яЁёҚқҢңӘәІіҒғҮүҰұӨөҺһ]")
ALMATY = (43.24, 76.95)
#: the atlas's dataset tiles of the current view have all arrived and been drawn
TILES_LOADED = (
    MAP + " const g = Object.values(m._layers).find(l => l.irbisDataset);"
    " return !!g && !g.isLoading() && Object.keys(g._tiles).some("
    "k => k.endsWith(':' + g._tileZoom)); }"
)


@pytest.fixture
def ru_page(browser: Any) -> Any:
    ctx = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.errors = []
    pg.outside = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
    pg.on(
        "request",
        lambda r: (
            None if r.url.startswith(("http://127.0.0.1:", "data:")) else pg.outside.append(r.url)
        ),
    )
    yield pg
    ctx.close()


def test_russian_atlas_labels_search_readout_and_scale(
    ru_page: Any, live_server: str, artifacts: Any
) -> None:
    page = ru_page
    page.goto(f"{live_server}/atlas", wait_until="domcontentloaded")

    # labels: drawn, some in Cyrillic, none overlapping another
    page.wait_for_selector(".irbis-label span", state="visible", timeout=20_000)
    texts = page.locator(".irbis-label span").all_inner_texts()
    assert any(CYRILLIC.search(t) for t in texts), texts
    boxes = page.evaluate(
        "() => Array.from(document.querySelectorAll('.irbis-label span'))"
        ".map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    overlapping = [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[2] - 2 and b[0] < a[2] - 2 and a[1] < b[3] - 2 and b[1] < a[3] - 2
    ]
    assert len(overlapping) <= len(boxes) // 10, overlapping

    # the legend in Russian
    legend = page.locator(".irbis-legend")
    assert "Охраняемые территории" in legend.inner_text()

    # the metric scale (one line: no miles)
    scale = page.locator(".leaflet-control-scale-line")
    assert scale.count() == 1
    assert re.fullmatch(r"\d+ (km|m)", scale.inner_text().strip())

    # search: type a name, choose the first result, the map flies there
    box = page.locator("#irbis-search-q")
    assert box.get_attribute("placeholder") == "Найти место, парк, район или грант"
    box.fill("Алматы")
    first = page.locator(".irbis-search-results button").first
    first.wait_for(state="visible", timeout=15_000)
    assert first.inner_text().startswith("Алматы")
    first.click()
    page.wait_for_function(
        MAP + f" const c = m.getCenter(); return Math.abs(c.lat - {ALMATY[0]}) < 0.1"
        f" && Math.abs(c.lng - {ALMATY[1]}) < 0.1 && m.getZoom() >= 10; }}",
        timeout=5_000,
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.irbis-label span'))"
        ".some(e => e.textContent === 'Алматы')",
        timeout=5_000,
    )

    # the readout: the centre's coordinates (the pointer off the map), then under the pointer.
    # The pointer goes over the map first: it was last on the search result, which is gone,
    # and the browser sends the map no "mouseout" for an element no longer in the page.
    mapbox = page.locator(".folium-map").bounding_box()
    page.mouse.move(mapbox["x"] + 200, mapbox["y"] + 600)
    page.mouse.move(5, 5)
    page.wait_for_function(
        "() => !!document.querySelector('.irbis-coords-which').textContent", timeout=3_000
    )
    value = page.locator(".irbis-coords-value")
    lat, lon = (float(n) for n in re.findall(r"-?\d+\.\d{5}", value.inner_text()))
    assert abs(lat - ALMATY[0]) < 0.1 and abs(lon - ALMATY[1]) < 0.1
    assert "шир." in page.locator(".irbis-coords").inner_text()
    page.mouse.move(mapbox["x"] + 200, mapbox["y"] + 600)
    page.wait_for_function(
        "() => !document.querySelector('.irbis-coords-which').textContent", timeout=3_000
    )
    pointer = page.evaluate(MAP + " return m.containerPointToLatLng([200, 600]); }")
    lat, lon = (float(n) for n in re.findall(r"-?\d+\.\d{5}", value.inner_text()))
    assert abs(lat - pointer["lat"]) < 0.01 and abs(lon - pointer["lng"]) < 0.01

    # a popup in Russian: a point inside the Ile-Alatau national park, south of the city
    park = page.request.get(
        f"{live_server}/search?q=Іле Алатауы", headers={"Accept-Language": "ru"}
    ).json()["results"][0]
    assert park["layer"] == "protected_areas"
    x, y = page.evaluate(
        MAP + f" const p = m.latLngToContainerPoint([{park['lat']}, {park['lon']}]);"
        " return [p.x, p.y]; }"
    )
    assert 0 < x < mapbox["width"] and 0 < y < mapbox["height"]
    page.wait_for_function(TILES_LOADED, timeout=20_000)
    # the whole map on screen (the page scrolled to it), then a click where the park is
    page.evaluate(
        "() => window.scrollTo(0, document.querySelector('.folium-map')"
        ".getBoundingClientRect().top + window.scrollY)"
    )
    mapbox = page.locator(".folium-map").bounding_box()
    assert mapbox["y"] + y < page.viewport_size["height"]
    page.mouse.click(mapbox["x"] + x, mapbox["y"] + y)
    popup = page.locator(".leaflet-popup-content .irbis-popup .prov")
    popup.first.wait_for(state="visible", timeout=10_000)
    assert "подробнее" in page.locator(".leaflet-popup-content").inner_text()
    page.screenshot(path=str(artifacts / "atlas-ru-labels.png"))

    assert page.outside == [], page.outside
    assert page.errors == [], page.errors
