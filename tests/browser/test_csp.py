"""In the browser: every page works under its Content-Security-Policy, with no violation.

Chromium reports each blocked script, style, image, font, connection or frame as a
``securitypolicyviolation`` event (recorded into ``window`` by an init script) and a console
message; none may occur, and maps still draw their tiles and features.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import TEST_PASSWORD, make_user
from api.security_headers import policy
from layers.registry import layer_ids

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ` +
                    `${e.sourceFile || document.location.pathname}:${e.lineNumber}`);
});
"""
#: Drawn map content: raster/vector tiles, and vector shapes (SVG paths or canvas).
DRAWN = ".leaflet-container .leaflet-tile, .leaflet-container path.leaflet-interactive"


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.add_init_script(RECORD_VIOLATIONS)
    yield ctx
    ctx.close()


class Tab:
    """One page of a context, reused for every visit of the module: each visit is a navigation,
    so the init script records that document's violations afresh, and the console messages
    kept are those since the visit began."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        self.page.on("pageerror", lambda e: self.console.append(str(e)))

    def visit(self, url: str, *, wait_for: str | None = None) -> dict[str, Any]:
        """Open ``url``; the CSP header, the violations and console errors that it caused."""
        self.console.clear()
        page = self.page
        response = page.goto(url)
        assert response is not None and response.status == 200, (url, response and response.status)
        page.wait_for_load_state("networkidle")
        if wait_for:
            page.wait_for_selector(wait_for, timeout=15_000)
        return {
            "csp": response.headers.get("content-security-policy", ""),
            "violations": page.evaluate("window.__csp"),
            "console": list(self.console),
            "drawn": page.locator(DRAWN).count(),
            "title": page.title(),
        }


@pytest.fixture(scope="module")
def tab(context: Any) -> Iterator[Tab]:
    """The module's one page for anonymous visits."""
    t = Tab(context)
    yield t
    t.page.close()


@pytest.fixture(scope="module")
def account_tab(browser: Any, engine: Engine, live_server: str) -> Iterator[Tab]:
    """A page logged in (through the form) as a grantee of a grant who is also an advocate;
    the login form itself posts under the policy's form-action."""
    name = make_user(
        engine,
        f"csp-{secrets.token_hex(3)}",
        roles=["grantee", "advocate"],
        grants=["SOS-CA-EX-08"],
    )
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.add_init_script(RECORD_VIOLATIONS)
    try:
        t = Tab(ctx)
        t.page.goto(f"{live_server}/login?next=/account/tokens")
        t.page.fill("#username", name)
        t.page.fill("#password", TEST_PASSWORD)
        t.page.click("form.stacked button[type=submit]")
        t.page.wait_for_url(f"{live_server}/account/tokens")
        assert t.page.evaluate("window.__csp") == []  # the login form posted under form-action
        assert t.console == [], t.console
        yield t
    finally:
        ctx.close()


def _clean(got: dict[str, Any]) -> None:
    assert "default-src 'self'" in got["csp"] and "frame-ancestors 'none'" in got["csp"]
    assert "'unsafe-inline'" not in got["csp"].split("script-src", 1)[1].split(";", 1)[0]
    assert got["violations"] == [], got["violations"]
    assert got["console"] == [], got["console"]


PAGES = [
    "/",
    "/collections",
    "/collections/threats",
    "/collections/protected_areas/items",
    "/collections/field_sites/items",
    "/threats",
    "/analyses",
    "/prioritisation",
    "/login",
    "/sources",
]


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_csp_violation(tab: Tab, live_server: str, path: str) -> None:
    _clean(tab.visit(live_server + path))


@pytest.mark.parametrize("path", ["/atlas", *[f"/collections/{i}/map" for i in layer_ids()]])
def test_map_draws_under_the_policy(tab: Tab, live_server: str, path: str) -> None:
    got = tab.visit(live_server + path, wait_for=".leaflet-container .leaflet-tile")
    _clean(got)
    assert got["drawn"] > 0


def test_dossier_map_draws_under_the_policy(tab: Tab, live_server: str, kok_jailau: int) -> None:
    got = tab.visit(
        f"{live_server}/threats/{kok_jailau}",
        wait_for=".folium-map path.leaflet-interactive[stroke='#c62828']",
    )
    _clean(got)
    assert got["drawn"] > 0


def test_api_html_renders_from_local_assets(tab: Tab, live_server: str) -> None:
    got = tab.visit(f"{live_server}/api.html", wait_for=".swagger-ui .opblock")
    _clean(got)


#: pages of an account, and what each must show once loaded: the upload page's map is
#: Leaflet's (the class is set by its script), empty until a preview; the report form draws
#: the context layers
ACCOUNT_PAGES = {
    "/account/tokens": None,
    "/sites/upload": ".leaflet-container",
    "/reports/new": DRAWN,
}


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_logged_in_page_has_no_csp_violation(account_tab: Tab, live_server: str, path: str) -> None:
    got = account_tab.visit(live_server + path, wait_for=ACCOUNT_PAGES[path])
    _clean(got)
    if ACCOUNT_PAGES[path] == DRAWN:
        assert got["drawn"] > 0


def test_the_recorder_sees_a_blocked_inline_script(tab: Tab, live_server: str) -> None:
    """The check above can fail: an inline script the policy does not list is reported, as a
    violation event and on the console."""
    page = tab.page
    tab.console.clear()
    try:
        page.route(
            f"{live_server}/csp-probe",
            lambda route: route.fulfill(
                status=200,
                headers={"content-type": "text/html", "content-security-policy": policy()},
                body="<!doctype html><script>window.ran = true</script><p>probe</p>",
            ),
        )
        page.goto(f"{live_server}/csp-probe")
        page.wait_for_function("() => window.__csp.length > 0")
        assert page.evaluate("window.ran") is None
        assert "script-src" in page.evaluate("window.__csp")[0]
        for _ in range(100):  # the console message comes beside the event, not after it
            if tab.console:
                break
            page.wait_for_timeout(50)
        assert any("Content Security Policy" in m for m in tab.console), tab.console
    finally:
        page.unroute(f"{live_server}/csp-probe")
