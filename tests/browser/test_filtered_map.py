"""In the browser: the map of a filtered feature table draws exactly the features the table
matched, and clicking one opens its popup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
FILTER = "designation = 'National Park'"
LOADED = "() => !!(window.Irbis && (window.Irbis.layers.protected_areas || {}).irbisLoaded)"
DRAWN = "() => window.Irbis.layers.protected_areas.getLayers().length"
#: a click on the first drawn feature, as the map would pass it on
CLICK_FIRST = """() => {
  const f = window.Irbis.layers.protected_areas.getLayers()[0];
  f.fire('click', {latlng: f.getBounds().getCenter()}, true);
}"""


def test_filtered_map_draws_the_matching_features(page: Any, live_server: str) -> None:
    matched = httpx.get(
        f"{live_server}/collections/protected_areas/items",
        params={"f": "json", "limit": 1, "filter": FILTER},
        timeout=60,
    ).json()["numberMatched"]
    assert matched > 0
    page.goto(f"{live_server}/collections/protected_areas/items?f=html&filter={FILTER}")
    page.click("#items-map")
    page.wait_for_url("**/collections/protected_areas/map?*")
    page.wait_for_function(LOADED, timeout=30_000)
    assert page.evaluate(DRAWN) == matched
    page.evaluate(CLICK_FIRST)
    page.wait_for_selector(".irbis-popup h4", timeout=15_000)
    assert "National Park" in page.inner_text(".irbis-popup")
    assert not page.console_errors
