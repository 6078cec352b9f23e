"""At phone size (390 x 844 and 360 x 740) every page fits the screen: the document never
scrolls sideways (wide tables scroll within themselves), the navigation opens from its menu
button and every link in it is on screen, maps are tall enough to use, and pinch zoom is
allowed. At the first size, the accessibility check (axe-core, as in test_axe.py) runs on each
page as loaded, before the checks here touch its menu and map controls: one visit for both."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.browser.pages import ACCOUNT_PAGES, axe_violations, logged_in_context, public_pages

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
PHONES = [(390, 844), (360, 740)]
#: the phone size at which axe-core also checks each page
AXE_SIZE = PHONES[0]
#: the smallest map height (px) that leaves room to pan and zoom on a phone
MAP_HEIGHT = 300

#: what overflows the document sideways: its width against the viewport's, and the elements
#: that stick out on the right (for the failure message)
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && r.width > 0) {
      let outside = false;  // inside a box that scrolls itself, it is not the page's overflow
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (['auto', 'scroll', 'hidden'].includes(s.overflowX)) { outside = true; break; }
      }
      if (!outside) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                              (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''));
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: width, wide: wide.slice(0, 8)};
}"""
VIEWPORT = "() => (document.querySelector('meta[name=viewport]') || {}).content || ''"
MAPS = """() => Array.from(document.querySelectorAll('.folium-map, .leaflet-container'))
  .map(el => el.getBoundingClientRect().height)"""


def _check(page: Any, url: str, size: tuple[int, int]) -> list[str]:
    """What is wrong with ``url`` at ``size`` (nothing when the page fits a phone)."""
    problems: list[str] = []
    resp = page.goto(url)
    assert resp is not None and resp.status < 500, url
    page.wait_for_load_state("load")
    where = f"{url} at {size[0]}x{size[1]}"
    if size == AXE_SIZE:
        problems += axe_violations(page, where)
    got = page.evaluate(OVERFLOW)
    if got["scroll"] > got["inner"]:
        problems.append(
            f"{where}: document {got['scroll']} px wide > {got['inner']}: {got['wide']}"
        )
    viewport = page.evaluate(VIEWPORT).replace(" ", "")
    if "user-scalable=no" in viewport or "maximum-scale=1" in viewport or not viewport:
        problems.append(f"{where}: pinch zoom not allowed ({viewport!r})")
    toggle = page.locator("#menu-toggle")
    if not toggle.is_visible():
        problems.append(f"{where}: no menu button")
        return problems
    toggle.click()
    links = page.locator("#main-nav a")
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        if not links.nth(i).is_visible() or box is None or box["x"] + box["width"] > size[0] + 1:
            problems.append(f"{where}: navigation link {links.nth(i).inner_text()!r} off screen")
    toggle.click()
    if links.first.is_visible():
        problems.append(f"{where}: the menu does not close")
    for h in page.evaluate(MAPS):
        if h < MAP_HEIGHT:
            problems.append(f"{where}: a map only {h:.0f} px high")
    problems += _folded_controls(page, where)
    return problems


def _folded_controls(page: Any, where: str) -> list[str]:
    """The layer switcher and the legend of a map start folded and open with a tap."""
    problems: list[str] = []
    legend = page.locator(".irbis-legend .legend-toggle")
    if legend.count():
        body = page.locator(".irbis-legend .legend-body").first
        if body.is_visible():
            problems.append(f"{where}: the legend starts unfolded")
        legend.first.click()
        if not body.is_visible():
            problems.append(f"{where}: the legend does not open")
    switcher = page.locator(".leaflet-control-layers")
    if switcher.count():
        if page.locator(".leaflet-control-layers-expanded").count():
            problems.append(f"{where}: the layer switcher starts unfolded")
        page.locator(".leaflet-control-layers-toggle").first.focus()  # as a keyboard would
        page.keyboard.press("Enter")
        if not page.locator(".leaflet-control-layers-list input").first.is_visible():
            problems.append(f"{where}: the layer switcher does not open")
    return problems


@pytest.mark.parametrize("size", PHONES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_public_pages_fit_a_phone(
    browser: Any, live_server: str, engine: Engine, size: tuple[int, int]
) -> None:
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, is_mobile=True)
    page = ctx.new_page()
    try:
        problems = [
            p for path in public_pages(engine) for p in _check(page, live_server + path, size)
        ]
    finally:
        ctx.close()
    assert not problems, "\n".join(problems)


def test_account_pages_fit_a_phone(browser: Any, live_server: str, engine: Engine) -> None:
    size = PHONES[0]
    ctx = logged_in_context(
        browser, engine, live_server, viewport={"width": size[0], "height": size[1]}, is_mobile=True
    )
    page = ctx.new_page()
    try:
        problems = [p for path in ACCOUNT_PAGES for p in _check(page, live_server + path, size)]
    finally:
        ctx.close()
    assert not problems, "\n".join(problems)


def test_desktop_shows_the_navigation_without_a_menu_button(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/")
    assert not page.locator("#menu-toggle").is_visible()
    assert page.locator("#main-nav a[href='/atlas']").is_visible()


#: Pages whose text is now in Kazakh (longer words than English): the case, a grant, its
#: report, the portfolio, monitoring, the layers, a layer, a threat's dossier and the analyses.
KAZAKH_PAGES = [
    "/cases/kok-jailau",
    "/grants/SOS-CA-EX-01",
    "/grants/SOS-CA-EX-01/report",
    "/grants",
    "/monitoring",
    "/collections",
    "/collections/occurrences?f=html",
    "/analyses",
]


def test_pages_in_kazakh_fit_a_phone(browser: Any, live_server: str, kok_jailau: int) -> None:
    """The same checks (no sideways scroll, menu, maps, axe-core) on the pages translated
    into Kazakh, read in Kazakh: the text is in Kazakh (not the English fallback)."""
    size = AXE_SIZE
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, is_mobile=True)
    page = ctx.new_page()
    problems: list[str] = []
    try:
        for path in [*KAZAKH_PAGES, f"/threats/{kok_jailau}"]:
            sep = "&" if "?" in path else "?"
            problems += _check(page, f"{live_server}{path}{sep}lang=kk", size)
            assert page.locator("html").get_attribute("lang") == "kk", path
    finally:
        ctx.close()
    assert not problems, "\n".join(problems)
