"""axe-core, the accessibility checker, run in the browser on every page (public and with an
account, at desktop and phone size): no serious or critical violation. axe is injected from
node_modules (the pages' Content Security Policy, tested elsewhere, is bypassed for it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from api.settings import NODE_MODULES
from tests.browser.pages import ACCOUNT_PAGES, logged_in_context, public_pages

pytestmark = pytest.mark.browser
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def violations(page: Any, url: str) -> list[str]:
    """The serious and critical accessibility violations of the page at ``url``."""
    resp = page.goto(url)
    assert resp is not None and resp.status < 500, url
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # the map's legend and switcher are drawn after load
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN)
    return [
        f"{url}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
        for v in found
        if v["impact"] in SERIOUS
    ]


def test_axe_core_is_installed() -> None:
    assert Path(AXE).is_file(), "npm ci installs axe-core (package.json devDependencies)"


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_public_pages_have_no_serious_accessibility_violation(
    browser: Any, live_server: str, engine: Engine, size: tuple[int, int]
) -> None:
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
    page = ctx.new_page()
    try:
        found = [v for path in public_pages(engine) for v in violations(page, live_server + path)]
    finally:
        ctx.close()
    assert not found, "\n".join(found)


def test_account_pages_have_no_serious_accessibility_violation(
    browser: Any, live_server: str, engine: Engine
) -> None:
    ctx = logged_in_context(
        browser, engine, live_server, viewport={"width": 1280, "height": 800}, bypass_csp=True
    )
    page = ctx.new_page()
    try:
        found = [v for path in ACCOUNT_PAGES for v in violations(page, live_server + path)]
    finally:
        ctx.close()
    assert not found, "\n".join(found)
