"""In the browser: an analyst solves a scenario from the form, follows its progress and sees
its map, with the units named by place, in Russian."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import TEST_PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
MAP_URL = re.compile(r"/prioritisation/scenarios/\d+/map$")


def test_analyst_solves_a_scenario_from_the_form_and_sees_its_map(
    browser: Any,
    live_server: str,
    engine: Engine,
    grid_id: int,
    resort: str,
    artifacts: Path,
) -> None:
    analyst = make_user(engine, f"analyst-plan-{secrets.token_hex(3)}", roles=["analyst"])
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(f"{live_server}/login?next=/prioritisation")
        page.fill("#username", analyst)
        page.fill("#password", TEST_PASSWORD)
        page.click("form.stacked button[type=submit]")
        page.wait_for_url(f"{live_server}/prioritisation")
        page.click("#new-scenario")
        page.wait_for_selector("#scenario-form")
        # choosing another grid reloads the form with that grid's features
        if page.input_value("#grid_id") != str(grid_id):
            page.select_option("#grid_id", str(grid_id))
            page.wait_for_url(re.compile(rf"\?grid={grid_id}$"))
        assert page.locator("table.features input").count() >= 4
        # an error stands beside its field, in the page's language
        page.fill("#name", "Browser plan")
        page.fill("#target", "250")
        page.click("#submit")
        assert page.inner_text("#error-target") == "Введите процент от 0 до 100."
        errors.clear()  # the browser logs the refused form's 400 as a console error
        page.fill("#target", "30")
        page.check(f"input[name=lock_out_threats][value='{resort}']")
        page.fill("#portfolio_runs", "1")
        page.screenshot(path=str(artifacts / "prioritisation-form.png"), full_page=True)
        page.click("#submit")
        page.wait_for_url(re.compile(r"/prioritisation/scenarios/\d+/progress$"))
        page.wait_for_selector("#run progress")
        page.screenshot(path=str(artifacts / "prioritisation-progress.png"))
        # the page follows the run and opens the map when the plan is solved
        page.wait_for_url(MAP_URL, timeout=240_000)
        page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 0")
        assert page.locator("path.leaflet-interactive[stroke='#5e3c99']").count() > 0
        assert "км²" in page.inner_text("#cost-unit")
        unit = page.locator("table.grants a.unit").first
        name = unit.inner_text()
        assert name and not re.fullmatch(r"[0-9a-f]{15}", name)
        unit.click()
        page.wait_for_url(re.compile(r"\?unit=[0-9a-f]{15}#mapbox$"))
        assert name in page.inner_text("#focus")
        page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 0")
        assert page.locator("path.leaflet-interactive[stroke='#ff7f00']").count() == 1
        page.screenshot(path=str(artifacts / "prioritisation-unit.png"), full_page=True)
        assert not errors, errors
    finally:
        ctx.close()
