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
    assert page.inner_text("h1").startswith(f"Analysis {gaps_run}: coverage gaps")
    with engine.connect() as conn:
        pieces = conn.execute(
            text("SELECT count(*) FROM analysis_features WHERE run_id = :r AND kind = 'gap'"),
            {"r": gaps_run},
        ).scalar_one()
    assert pieces > 0
    # every gap piece of the run is drawn (the basemap adds paths of its own)
    assert page.locator("path.leaflet-interactive").count() >= pieces
    assert "share protected" in page.inner_text("table.results")
    # each header names its column in the CSV (shown on hover)
    assert (
        page.get_attribute("table.results th[title=share_protected]", "title") == "share_protected"
    )
    box = page.locator(".analysis-map .folium-map").bounding_box()
    assert box is not None and box["height"] > 300
    page.screenshot(path=str(artifacts / "analysis-gaps.png"), full_page=True)
    assert not page.console_errors, (page.console_errors, missing)
    assert not outside, outside


def test_a_running_analysis_on_a_phone_says_so_and_reloads_until_it_has_ended(
    browser: Any, live_server: str, engine: Engine, artifacts: Path
) -> None:
    """A run asked asynchronously (``Prefer: respond-async``) is followed on its page: on a
    phone, in Kazakh, the page says the run is still at work, and reloads itself until the run
    has ended (it asks the run's record; no timed reload), then says how."""
    from api.services import background as bg
    from tests.browser.pages import axe_violations

    rid = an.start_run(
        engine, "overlap", {"layers": ["protected_areas", "field_sites"]}, actor="t", title="phone"
    )
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="kk-KZ"
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server}/analyses/{rid}?lang=kk")
        note = page.locator("p.running")
        assert note.is_visible() and "әлі орындалып жатыр" in note.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        assert not axe_violations(page, f"/analyses/{rid} running, phone")
        page.screenshot(path=str(artifacts / "analysis-running-phone.png"), full_page=True)
        bg.mark_stopped(engine, {"analysis": {rid}})  # its server went away
        page.wait_for_selector("p.error", timeout=20_000)  # the page has loaded itself again
        assert page.locator("p.running").count() == 0
        assert "сервер тоқтады" in page.inner_text("p.error")
        assert not errors, errors
    finally:
        ctx.close()
