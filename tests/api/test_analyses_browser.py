"""In the browser: the analyses list and a run page with its map, served offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.services import analyses as an
from api.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits


@pytest.fixture(scope="module")
def gaps_run(engine: Engine, settings: Settings, demo: dict[str, int]) -> int:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        done = {r.kind for r in an.list_runs(s) if r.status == "succeeded"}
    if "ecosystems" not in done:
        an.run_ecosystems(engine, settings)
    if "habitat" not in done:
        an.run_habitat(engine, settings)
    return an.run_gaps(engine, settings)


def test_analyses_pages(
    page: Any, live_server: str, gaps_run: int, artifacts: Path, engine: Engine
) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda req: outside.append(req.url) if not req.url.startswith(live_server) else None,
    )
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(f"{live_server}/analyses")
    page.click(f'a[href="/analyses/{gaps_run}"]')
    page.wait_for_selector(".folium-map path.leaflet-interactive")
    assert page.inner_text("h1").startswith(f"Analysis {gaps_run}: gaps")
    with engine.connect() as conn:
        pieces = conn.execute(
            text("SELECT count(*) FROM analysis_features WHERE run_id = :r AND kind = 'gap'"),
            {"r": gaps_run},
        ).scalar_one()
    assert pieces > 0
    # every gap piece of the run is drawn (the basemap adds paths of its own)
    assert page.locator("path.leaflet-interactive").count() >= pieces
    assert "share_protected" in page.inner_text("table.results")
    box = page.locator(".analysis-map .folium-map").bounding_box()
    assert box is not None and box["height"] > 300
    page.screenshot(path=str(artifacts / "analysis-gaps.png"), full_page=True)
    assert not page.console_errors, (page.console_errors, missing)
    assert not outside, outside
