"""In the browser: an advocate draws a threat, attaches a photo and submits; an analyst
publishes it; the public dossier shows it, and the photo served carries no GPS tags."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import TEST_PASSWORD, make_user
from geo.evidence import gps_tags
from tests.threats.conftest import photo_with_gps

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
REPORT_URL = re.compile(r"/reports/\d+$")


def _login(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/login?next={next_url}")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def _draw_polygon(page: Any) -> None:
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator(".draw-map .folium-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    points = [(-90, -50), (70, -60), (100, 40), (-60, 70)]
    for dx, dy in points:
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)
    page.mouse.click(cx + points[0][0], cy + points[0][1])  # close the ring


def test_advocate_reports_and_analyst_publishes(
    browser: Any, live_server: str, engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    tag = secrets.token_hex(3)
    advocate = make_user(engine, f"advocate-browser-{tag}", roles=["advocate"])
    analyst = make_user(engine, f"analyst-browser-{tag}", roles=["analyst"])
    photo = tmp_path / "bulldozer.jpg"
    photo.write_bytes(photo_with_gps(size=(320, 240)))
    assert gps_tags(photo.read_bytes())  # the photo says where it was taken
    title = f"Ski lift foundations above Kok-Jailau {tag}"

    # the advocate draws, describes, attaches and submits
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    page.on(
        "request",
        lambda req: outside.append(req.url) if not req.url.startswith(live_server) else None,
    )
    _login(page, live_server, advocate, "/reports/new")
    _draw_polygon(page)
    page.wait_for_function("() => (document.getElementById('geometry')?.value.length ?? 0) > 0")
    assert "Shapes drawn: 1" in page.inner_text("#drawn-status")
    page.fill("#title", title)
    page.select_option("#kind", "ski_resort")
    page.select_option("#threat_status", "under_construction")
    page.fill("#status_on", "2026-08-15")
    page.fill("#description", "Concrete foundations for lift pylons were poured on the slope.")
    page.fill("#links", "https://example.org/kok-jailau-lift")
    page.set_input_files("#evidence", str(photo))
    page.screenshot(path=str(artifacts / "threat-report-form.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url(REPORT_URL)
    assert "submitted" in page.inner_text("#report-state")
    assert page.locator(".gallery img").count() == 1
    ctx.close()

    # the analyst reviews and publishes
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server, analyst, "/reports")
    page.click(f"text={title}")
    page.click("#to-under_review")
    page.wait_for_function(
        "() => document.getElementById('report-state')?.textContent.includes('review')"
    )
    page.click("#to-published")
    page.wait_for_selector("#threat-link")
    assert "published" in page.inner_text("#report-state")
    dossier_path = page.get_attribute("#threat-link", "href")
    ctx.close()

    # the public sees the dossier and the photo, without GPS tags
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}{dossier_path}")
    assert page.inner_text("h1") == title
    assert "under construction" in page.inner_text(".timeline")
    assert page.locator(".folium-map path.leaflet-interactive").count() >= 1
    img = page.locator(".gallery img").first
    img.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", img.element_handle()) == 320
    served = page.request.get(f"{live_server}{img.get_attribute('src')}")
    assert served.ok and gps_tags(served.body()) == {}
    assert advocate in page.content()  # the reporter chose to be named
    page.screenshot(path=str(artifacts / "threat-dossier.png"), full_page=True)
    ctx.close()
    assert not errors, errors
    assert not outside, outside


def test_anonymous_report_shows_no_name_in_the_browser(
    browser: Any, live_server: str, engine: Engine, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    advocate = make_user(engine, f"advocate-anon-{tag}", roles=["advocate"])
    analyst = make_user(engine, f"analyst-anon-{tag}", roles=["analyst"])
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    _login(page, live_server, advocate, "/reports/new")
    _draw_polygon(page)
    page.fill("#title", f"Snare line {tag}")
    page.select_option("#kind", "poaching")
    page.fill("#description", "Wire snares along the trail.")
    page.check("#anonymous")
    page.click("#submit")
    page.wait_for_url(REPORT_URL)
    report_url = page.url
    ctx.close()

    ctx = browser.new_context()
    page = ctx.new_page()
    _login(page, live_server, analyst, "/reports")
    page.goto(report_url)
    assert advocate in page.inner_text("#reporter")  # analysts know who reported
    page.click("#to-under_review")
    page.wait_for_function(
        "() => document.getElementById('report-state')?.textContent.includes('review')"
    )
    page.click("#to-published")
    page.wait_for_selector("#threat-link")
    dossier_path = page.get_attribute("#threat-link", "href")
    ctx.close()

    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{live_server}{dossier_path}")
    assert advocate not in page.content()
    assert "anonymous" in page.inner_text(".report .meta")
    page.goto(report_url)
    assert advocate not in page.content()
    ctx.close()


def test_bad_input_message_in_the_form(browser: Any, live_server: str, engine: Engine) -> None:
    advocate = make_user(engine, roles=["advocate"])
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    _login(page, live_server, advocate, "/reports/new")
    page.fill("#title", "No description")
    _draw_polygon(page)
    page.click("#submit")
    page.wait_for_selector("#form-error:not([hidden])")
    # the message is beside the field it is about; the summary above the button says so
    assert "description is empty" in page.inner_text("#error-description")
    assert "see the messages beside them" in page.inner_text("#form-error")
    assert page.url.endswith("/reports/new")
    ctx.close()


def test_a_title_with_markup_runs_no_script(browser: Any, live_server: str, engine: Engine) -> None:
    import httpx

    from api.auth.testing import login
    from tests.threats.conftest import report_form

    advocate = make_user(engine, roles=["advocate"])
    analyst = make_user(engine, roles=["analyst"])
    evil = '<img src=x onerror="window.__xss=1">Quarry'
    with httpx.Client(base_url=live_server) as c:
        csrf = login(c, advocate)
        r = c.post("/reports", data=report_form(title=evil), headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        report_id = r.json()["id"]
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    _login(page, live_server, analyst, "/reports")
    page.goto(f"{live_server}/reports/{report_id}")
    footprint = page.locator(".folium-map path.leaflet-interactive[stroke='#c62828']")
    footprint.hover()
    page.wait_for_selector(".leaflet-tooltip")
    assert "<img" in page.inner_text(".leaflet-tooltip")  # shown as text
    page.hover(".leaflet-control-layers")
    assert page.evaluate("window.__xss") is None
    assert page.inner_text("h1").endswith(evil)
    ctx.close()
