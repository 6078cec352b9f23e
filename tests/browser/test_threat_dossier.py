"""In the browser: the Kok-Jailau dossier page, and its HTML export opened with no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from api.demo import data as dd

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits


def test_dossier_page(page: Any, live_server: str, kok_jailau: int, artifacts: Path) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda req: outside.append(req.url) if not req.url.startswith(live_server) else None,
    )
    page.goto(f"{live_server}/threats/{kok_jailau}")
    page.wait_for_selector(".folium-map path.leaflet-interactive[stroke='#c62828']")
    assert page.inner_text("h1") == dd.KOK_JAILAU["name"]
    assert page.locator("ol.timeline li").count() == len(dd.KOK_JAILAU["timeline"])
    assert "Ile-Alatau" in page.inner_text("table.overlaps")
    page.screenshot(path=str(artifacts / "threat-dossier-kok-jailau.png"), full_page=True)
    assert not page.console_errors, page.console_errors
    assert not outside, outside


def test_exported_dossier_works_with_no_network(
    browser: Any, live_server: str, kok_jailau: int, artifacts: Path
) -> None:
    html = httpx.get(f"{live_server}/threats/{kok_jailau}/dossier.html", timeout=60).text
    context = browser.new_context(offline=True)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route("**/*", lambda route: route.abort())
    page.set_content(html, wait_until="load")
    page.wait_for_selector(".folium-map path.leaflet-interactive[stroke='#c62828']")
    assert page.inner_text("h1") == dd.KOK_JAILAU["name"]
    assert page.locator("ol.timeline li").count() == len(dd.KOK_JAILAU["timeline"])
    page.screenshot(path=str(artifacts / "threat-dossier-export.png"), full_page=True)
    context.close()
    assert not requests, requests
    assert not errors, errors
