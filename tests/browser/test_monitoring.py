"""In the browser: a grantee submits a monitoring record with a photo and a precise camera-trap
location; an analyst accepts it; the public sees the series and the record, never the precise
sensitive location, and the photo served carries no GPS tags."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.auth.testing import TEST_PASSWORD, make_user
from geo.evidence import gps_tags
from tests.monitoring.conftest import GRANT, PRECISE, PRECISE_TEXT, SITE
from tests.threats.conftest import photo_with_gps

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
RECORD_URL = re.compile(r"/monitoring/records/\d+$")


def _login(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/login?next={next_url}")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def test_grantee_submits_analyst_accepts_public_sees_the_series(
    browser: Any, live_server: str, engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    tag = secrets.token_hex(3)
    grantee = make_user(engine, f"grantee-browser-{tag}", roles=["grantee"], grants=[GRANT])
    analyst = make_user(engine, f"analyst-browser-{tag}", roles=["analyst"])
    photo = tmp_path / "trap.jpg"
    photo.write_bytes(photo_with_gps(size=(320, 240)))
    assert gps_tags(photo.read_bytes())
    try:
        # the grantee fills in the form with a photo and the camera trap's position
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(page, live_server, grantee, f"/grants/{GRANT}/monitoring/new")
        page.select_option("#site", SITE)
        page.select_option("#indicator", "snow_leopard_detections")
        page.fill("#period_start", "2024-02-01")
        page.fill("#period_end", "2024-02-29")
        page.fill("#value", "7")
        page.fill("#method_note", "14 camera stations, detections 30 minutes apart")
        page.fill("#points", f"{PRECISE[0]} {PRECISE[1]}")
        page.set_input_files("#evidence", str(photo))
        page.screenshot(path=str(artifacts / "monitoring-form.png"), full_page=True)
        page.click("#submit")
        page.wait_for_url(RECORD_URL)
        record_url = page.url
        assert "submitted" in page.inner_text("#state")
        assert page.locator(".evidence img").count() == 1
        ctx.close()

        # before review the public does not see it
        anon = browser.new_context()
        apage = anon.new_page()
        assert apage.goto(record_url).status == 404
        anon.close()

        # the analyst accepts it
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        path = record_url.removeprefix(live_server)
        _login(page, live_server, analyst, path)
        assert str(PRECISE[0]) in page.inner_text("#points")  # the analyst sees where
        page.click("#to-accepted")
        page.wait_for_url(record_url)
        assert "accepted" in page.inner_text("#state")
        ctx.close()

        # the public sees the record, the series and the chart, never the precise location
        anon = browser.new_context(viewport={"width": 1280, "height": 1000})
        apage = anon.new_page()
        apage.on("pageerror", lambda exc: errors.append(str(exc)))
        served: list[bytes] = []

        def keep(r: Any) -> None:
            if r.url.startswith(live_server) and r.status < 300:
                served.append(r.body())

        apage.on("response", keep)
        apage.goto(record_url)
        assert "accepted" in apage.inner_text("#state")
        assert "generalised" in apage.inner_text("#points")
        img = apage.locator(".evidence img")
        assert img.count() == 1
        apage.wait_for_function(
            "() => [...document.querySelectorAll('.evidence img')].every(i => i.complete)"
        )
        src = img.get_attribute("src")
        photo_bytes = apage.request.get(f"{live_server}{src}").body()
        assert not gps_tags(photo_bytes)
        apage.goto(f"{live_server}/grants/{GRANT}/monitoring")
        chart = apage.locator('figure[data-indicator="snow_leopard_detections"] svg')
        assert chart.count() == 1
        apage.screenshot(path=str(artifacts / "monitoring-grant.png"), full_page=True)
        series = apage.request.get(
            f"{live_server}/api/monitoring/series?grant={GRANT}&indicator=snow_leopard_detections"
        ).json()["series"][0]
        assert {"period": "2024-02", "value": 7.0, "records": 1} in series["points"]
        features = apage.request.get(
            f"{live_server}/collections/monitoring_points/items?limit=10000"
        ).body()
        for body in [*served, features]:
            for digits in PRECISE_TEXT:
                assert digits.encode() not in body
        anon.close()
        assert not errors, errors
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM monitoring_records WHERE method <> 'example'"))
