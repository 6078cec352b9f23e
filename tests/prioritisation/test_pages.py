"""In the browser: the scenarios page and a plan's map, drawn from Irbis's own assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from api.services import prioritisation as prio
from geo.errors import Infeasible
from layers.maps import external_urls

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits


def test_plan_map_in_the_browser(
    page: Any, live_server: str, solved_scenario: int, artifacts: Path
) -> None:
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{live_server}/prioritisation")
    row = page.locator("table.scenarios tr", has_text="Map test plan").first
    assert row.is_visible()
    page.screenshot(path=str(artifacts / "prioritisation_list.png"))
    row.locator("a", has_text="map").click()
    page.wait_for_url(f"{live_server}/prioritisation/scenarios/{solved_scenario}/map")
    page.wait_for_selector(".leaflet-container")
    page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 0")
    selected = page.locator("path.leaflet-interactive[stroke='#5e3c99']").count()
    locked = page.locator("path.leaflet-interactive[stroke='#b2182b']").count()
    assert selected > 0 and locked >= 1
    assert "units selected" in page.locator(".scenario > p").first.inner_text()
    targets = page.locator("table.targets tbody tr")
    assert targets.count() >= 4 and "missed" not in page.locator("table.targets").inner_text()
    groups = page.locator("table.ecosystems tbody td:first-child")
    assert {"mountain", "arid_lowland"} <= {
        groups.nth(i).get_attribute("data-group") for i in range(groups.count())
    }
    assert page.locator("table.solvers tbody tr").count() == 2
    assert page.locator("table.grants tbody tr").count() >= 1
    assert page.locator("table.replacement tbody tr").count() == 3
    page.screenshot(path=str(artifacts / "prioritisation_map.png"), full_page=True)
    served = page.request.get(
        f"{live_server}/prioritisation/scenarios/{solved_scenario}/map"
    ).text()
    assert not external_urls(served)  # no asset from a CDN (Leaflet's credit link is no asset)
    assert all(u.startswith(live_server) or u.startswith("data:") for u in requests)
    assert not failed
    assert not page.console_errors


def test_plan_map_of_a_missing_or_infeasible_scenario_is_404(
    page: Any, live_server: str, engine: Engine, grid_id: int, resort: str
) -> None:
    r = page.goto(f"{live_server}/prioritisation/scenarios/999999/map")
    assert r is not None and r.status == 404
    with pytest.raises(Infeasible) as err:
        prio.run_scenario(
            engine,
            prio.ScenarioParams(
                name="Impossible plan", grid_id=grid_id, target=1.0, lock_out_threats=[resort]
            ),
        )
    sid = err.value.details["scenario_id"]  # type: ignore[index]
    page.goto(f"{live_server}/prioritisation")
    row = page.locator("table.scenarios tr", has_text="Impossible plan").first
    assert "infeasible" in row.inner_text() and "cannot be met" in row.inner_text()
    r = page.goto(f"{live_server}/prioritisation/scenarios/{sid}/map")
    assert r is not None and r.status == 404
