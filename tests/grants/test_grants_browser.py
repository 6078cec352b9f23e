"""In the browser: an administrator registers a grant in the form; the public then sees its
page (facts, map) and the grant in the portfolio, with no request leaving the server."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import TEST_PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits


def test_admin_registers_a_grant_and_the_public_sees_its_page(
    browser: Any, live_server: str, engine: Engine
) -> None:
    tag = secrets.token_hex(3)
    admin = make_user(engine, f"admin-grants-{tag}", roles=["admin"])
    code = f"SOS-CA-B-{tag.upper()}"
    title = f"Джейраны Алтын-Эмеля {tag}"

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(f"{live_server}/login?next=/grants/new")
    page.fill("#username", admin)
    page.fill("#password", TEST_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{live_server}/grants/new")
    page.fill("#code", code)
    page.fill("#title", title)
    page.fill("#grantee_organisation", "Altyn-Emel friends")
    page.fill("#countries", "KAZ")
    page.fill("#species", "Gazella subgutturosa")
    page.fill("#ecosystem_focus", "arid_lowland")
    page.fill("#amount", "64000")
    page.fill("#call", f"Call {tag}")
    page.fill("#start_date", "2025-01-01")
    page.fill("#end_date", "2026-12-31")
    page.select_option("#status", "active")
    page.fill("#objectives", "Count gazelles on fixed transects every spring.")
    page.click("#submit")
    page.wait_for_url(f"{live_server}/grants/{code}")
    ctx.close()

    public = browser.new_context(viewport={"width": 1280, "height": 900})
    page = public.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            external.append(r.url)
            if not r.url.startswith(live_server) and not r.url.startswith("data:")
            else None
        ),
    )
    page.goto(f"{live_server}/grants/{code}")
    assert title in page.inner_text("#grant-title")
    assert page.inner_text("#status") == "active"
    assert "64,000.00 USD" in page.inner_text("#amount")
    assert "fixed transects" in page.inner_text("#objectives")
    assert page.locator("#no-sites").is_visible()
    assert page.locator("#edit-link").count() == 0  # the public cannot edit
    page.wait_for_function("() => document.querySelector('.leaflet-container') !== null")
    page.goto(f"{live_server}/grants?call=Call%20{tag}")
    assert page.locator(f"#grants a[href='/grants/{code}']").count() == 1
    assert "64,000.00" in page.inner_text("#totals")
    assert errors == [] and external == []
    public.close()
