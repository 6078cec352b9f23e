"""In Chromium, in Russian, Kazakh and English, at desktop and phone sizes: the public atlas,
the report form and an error page speak the browser's language, and make no request outside
Irbis (127.0.0.1)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import TEST_PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up, pytest.mark.usefixtures("_stays_inside")]

LOCALES = {"ru": "ru-RU", "kk": "kk-KZ", "en": "en-US"}
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "ru": {
        "nav": "Угрозы",
        "report": "Сообщить об угрозе местообитаниям",
        "missing": "Страница не найдена",
        "title_error": "название не заполнено",
        "point": "Точка поставлена",
    },
    "kk": {
        "nav": "Қауіптер",
        "report": "Мекендеу орындарына төнген қауіп туралы хабарлау",
        "missing": "Бет табылмады",
        "title_error": "атауы бос",
        "point": "Нүкте",
    },
    "en": {
        "nav": "Threats",
        "report": "Report a threat to habitat",
        "missing": "Page not found",
        "title_error": "the title is empty",
        "point": "Point placed at",
    },
}


@pytest.fixture(
    scope="module",
    params=[(lang, size) for lang in LOCALES for size in SIZES],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def localized_page(request: pytest.FixtureRequest, browser: Any, live_server: str) -> Iterator[Any]:
    """One context and page per language and size, shared by the module's tests (pytest runs
    all of them for one language and size before the next): it starts anonymous, in the
    browser's language; a test that changes either puts it back or comes last."""
    lang, size = request.param
    ctx = browser.new_context(locale=LOCALES[lang], viewport=SIZES[size])
    page = ctx.new_page()
    page.lang = lang  # type: ignore[attr-defined]
    page.outside = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on(
        "request",
        lambda req: (
            page.outside.append(req.url)  # type: ignore[attr-defined]
            if not req.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
            else None
        ),
    )
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield page
    ctx.close()


@pytest.fixture
def _stays_inside(localized_page: Any) -> Iterator[None]:
    """After each test: no request left 127.0.0.1 and no script failed, during that test."""
    localized_page.outside.clear()
    localized_page.errors.clear()
    yield
    assert localized_page.outside == [], f"requests outside Irbis: {localized_page.outside}"
    assert localized_page.errors == [], localized_page.errors


def _open_menu(page: Any) -> None:
    """On a phone the navigation folds behind the menu button: open it."""
    if page.is_visible("#menu-toggle"):
        page.click("#menu-toggle")
        page.wait_for_selector("#topbar-menu", state="visible")


def test_error_page_in_the_browser_language(localized_page: Any, live_server: str) -> None:
    page, lang = localized_page, localized_page.lang
    response = page.goto(f"{live_server}/no-such-page")
    assert response.status == 404
    assert page.get_attribute("html", "lang") == lang
    assert WORDS[lang]["missing"] in page.inner_text("h1")
    page.click("#error-page a[href='/threats']")
    page.wait_for_url(f"{live_server}/threats")


def test_atlas_in_the_browser_language(localized_page: Any, live_server: str) -> None:
    page, lang = localized_page, localized_page.lang
    page.goto(f"{live_server}/atlas")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == lang
    _open_menu(page)
    assert WORDS[lang]["nav"] in page.inner_text("header")
    # the switcher is there, and choosing a language is remembered on the next page
    other = "kk" if lang != "kk" else "ru"
    page.click(f"#languages a[hreflang={other}]")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == other
    page.goto(f"{live_server}/threats")
    assert page.get_attribute("html", "lang") == other
    _open_menu(page)
    assert WORDS[other]["nav"] in page.inner_text("h1, header")
    # and back to the browser's language, remembered too (the page stays as it came)
    with page.expect_navigation():
        page.click(f"#languages a[hreflang={lang}]")
    assert page.get_attribute("html", "lang") == lang
    page.goto(f"{live_server}/no-such-page")
    assert page.get_attribute("html", "lang") == lang


def test_report_form_in_the_browser_language(
    localized_page: Any, live_server: str, engine: Engine
) -> None:
    """Runs last on its page: it logs in."""
    page, lang = localized_page, localized_page.lang
    user = make_user(engine, f"advocate-i18n-{random.getrandbits(24):06x}", roles=["advocate"])
    page.goto(f"{live_server}/login?next=/reports/new")
    page.fill("#username", user)
    page.fill("#password", TEST_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{live_server}/reports/new")
    assert page.get_attribute("html", "lang") == lang
    assert WORDS[lang]["report"] in page.inner_text("h1")
    assert "CC BY 4.0" in page.inner_text("#licence")
    # coordinates typed in degrees-minutes-seconds go on the map
    page.fill("#coordinates", "43°08'10\"N 76°57'30\"E")
    page.click("#coordinates-show")
    # the point's marker is an image; labels of the site-scale context are markers too
    # (divs), drawn as their data arrives: waiting for any marker raced with the answer
    page.wait_for_function(
        "(word) => document.getElementById('drawn-status').textContent.includes(word)",
        arg=WORDS[lang]["point"],
    )
    assert page.locator("img.leaflet-marker-icon").count() == 1
    # an empty title and description: both errors at once, beside their fields
    page.click("#submit")
    page.wait_for_selector("#error-title:not([hidden])")
    assert WORDS[lang]["title_error"] in page.inner_text("#error-title")
    assert page.is_visible("#error-description")
    assert page.get_attribute("#title", "aria-invalid") == "true"
