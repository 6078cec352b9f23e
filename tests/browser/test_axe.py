"""axe-core, the accessibility checker, run in the browser on every page (public and with an
account): no serious or critical violation. Here at desktop size; at phone size it runs in
tests/browser/test_phone.py on the pages loaded there for the phone checks. axe is evaluated
from node_modules through the browser's debugging protocol, which the pages' Content Security
Policy does not govern, so the pages are checked under their real policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.browser.pages import (
    ACCOUNT_PAGES,
    AXE,
    axe_violations,
    logged_in_context,
    public_pages,
)

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits


def violations(page: Any, url: str) -> list[str]:
    """The serious and critical accessibility violations of the page at ``url``."""
    resp = page.goto(url)
    assert resp is not None and resp.status < 500, url
    page.wait_for_load_state("load")
    return axe_violations(page, url)


def test_axe_core_is_installed() -> None:
    assert Path(AXE).is_file(), "npm ci installs axe-core (package.json devDependencies)"


def test_public_pages_have_no_serious_accessibility_violation(
    browser: Any, live_server: str, engine: Engine
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        found = [v for path in public_pages(engine) for v in violations(page, live_server + path)]
    finally:
        ctx.close()
    assert not found, "\n".join(found)


def test_account_pages_have_no_serious_accessibility_violation(
    browser: Any, live_server: str, engine: Engine
) -> None:
    ctx = logged_in_context(browser, engine, live_server, viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        found = [v for path in ACCOUNT_PAGES for v in violations(page, live_server + path)]
    finally:
        ctx.close()
    assert not found, "\n".join(found)
