"""Every kind of page a person can open, for the phone-size and accessibility tests, and the
accessibility check (axe-core) they both run on a loaded page.

The public pages are opened without an account; the pages that need one are opened by a user
who is an analyst and the grantee of the demo's first grant (logged in through the form)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from api.auth.testing import TEST_PASSWORD, make_user
from api.settings import NODE_MODULES

GRANT = "SOS-CA-EX-01"
#: a collection of polygons with items, a table and a map
COLLECTION = "protected_areas"


def public_pages(engine: Engine) -> list[str]:
    """Paths of the public pages, with ids of the demo's records."""
    with engine.connect() as conn:
        threat = conn.execute(text("SELECT min(id) FROM threats")).scalar_one()
        area = conn.execute(text("SELECT min(id) FROM protected_areas")).scalar_one()
    return [
        "/",
        "/atlas",
        "/collections",
        f"/collections/{COLLECTION}",
        f"/collections/{COLLECTION}/items?f=html",
        f"/collections/{COLLECTION}/items/{area}?f=html",
        f"/collections/{COLLECTION}/map",
        "/sources",
        "/threats",
        f"/threats/{threat}",
        "/cases/kok-jailau",
        "/login",
        "/analyses",
        "/prioritisation",
        "/grants",
        f"/grants/{GRANT}",
        "/monitoring",
        "/no-such-page",
    ]


#: pages that need an account (analyst, and grantee of GRANT)
ACCOUNT_PAGES = [
    "/reports/new",
    "/reports",
    "/sites/upload",
    f"/grants/{GRANT}/monitoring/new",
    f"/monitoring/upload?grant={GRANT}",
    "/account/tokens",
]


def logged_in_context(browser: Any, engine: Engine, base: str, **context: Any) -> Any:
    """A browser context logged in as a new analyst who is also a grantee of GRANT."""
    username = make_user(engine, roles=["analyst", "grantee"], grants=[GRANT])
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.goto(f"{base}/login?next=/")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.close()
    return ctx


#: axe-core, the accessibility checker (npm ci installs it)
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def axe_violations(page: Any, where: str) -> list[str]:
    """The serious and critical accessibility violations of the page loaded in ``page``."""
    if page.locator(".folium-map, .leaflet-container").count():
        page.wait_for_timeout(300)  # the map's legend and switcher are drawn after load
    page.evaluate(AXE.read_text())  # as a script: defines window.axe
    found = page.evaluate(RUN)
    return [
        f"{where}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
        for v in found
        if v["impact"] in SERIOUS
    ]
