"""In the browser: a grantee logs in, uploads a zipped Shapefile, sees the preview and the
report, saves, and sees the site on the map; another grantee cannot touch it."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from api.auth.testing import TEST_PASSWORD, make_user
from tests.uploads.conftest import site_gdf, write

pytestmark = [pytest.mark.browser, pytest.mark.cleaned_up]  # the live server commits
GRANT, OTHER = "SOS-CA-EX-08", "SOS-CA-EX-09"


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login?next=/sites/upload")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base}/sites/upload")


def test_grantee_uploads_a_zipped_shapefile_and_another_cannot_touch_it(
    browser: Any, live_server: str, engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    tag = secrets.token_hex(3)
    owner = make_user(engine, f"grantee-upload-{tag}", roles=["grantee"], grants=[GRANT])
    intruder = make_user(engine, f"grantee-other-{tag}", roles=["grantee"], grants=[OTHER])
    name = f"Урочище {tag}"
    shp = write(site_gdf(1, names=[name], size_deg=0.03), "shpzip", tmp_path, encoding="cp1251")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} {m.location}")
            if m.type == "error" and "favicon.ico" not in str(m.location)
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            external.append(r.url)
            if not r.url.startswith(live_server) and not r.url.startswith("data:")
            else None
        ),
    )

    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    _login(page, live_server, owner)
    page.select_option("#grant", GRANT)
    page.set_input_files("#file", str(shp))
    page.click("#check")
    page.wait_for_selector("#report:not([hidden]) tr.feature-row")
    row = page.locator("tr.feature-row").first
    assert name in row.inner_text() and "ok" in row.inner_text() and "insert" in row.inner_text()
    assert page.locator("#map").get_attribute("data-preview-features") == "1"
    assert page.locator("#notes").inner_text().count("Features read: 1.") == 1
    assert page.is_enabled("#commit")
    with engine.connect() as conn:  # the dry run stored nothing
        assert (
            conn.execute(
                text("SELECT count(*) FROM field_sites WHERE name = :n"), {"n": name}
            ).scalar_one()
            == 0
        )
    page.screenshot(path=str(artifacts / "site-upload-preview.png"))
    # the preview lies over the site's context: relief and the context layers' vector tiles
    assert any("/rasters/relief/tiles/" in u for u in asked)
    page.wait_for_selector("#map img.leaflet-tile-loaded", state="attached", timeout=60_000)
    assert any(re.search(r"/collections/(rivers|lakes|districts)/tiles/", u) for u in asked)

    page.click("#commit")
    page.wait_for_function(
        "() => document.getElementById('message').textContent.startsWith('Saved')"
    )
    page.wait_for_function(
        "() => Number(document.getElementById('map').dataset.savedSites || 0) >= 1"
    )
    assert page.locator("#map path.saved-site").count() >= 1
    assert name in page.locator("#saved-rows").inner_text()
    page.screenshot(path=str(artifacts / "site-upload-saved.png"))
    with engine.connect() as conn:
        site_id, by = conn.execute(
            text("SELECT id, uploaded_by FROM field_sites WHERE name = :n"), {"n": name}
        ).one()
    assert by == owner
    assert missing == [] and external == []
    assert errors == [], errors
    context.close()

    # another grantee: the grant is not offered, and the API refuses to change the site
    context = browser.new_context()
    page = context.new_page()
    _login(page, live_server, intruder)
    assert GRANT not in page.locator("#grant").inner_text()
    status = page.evaluate(
        """async ([url]) => {
             const csrf = document.querySelector('meta[name="csrf-token"]').content;
             const r = await fetch(url, {method: 'DELETE', headers: {'X-CSRF-Token': csrf}});
             return r.status;
           }""",
        [f"/api/grants/{GRANT}/sites/{site_id}"],
    )
    assert status == 403
    context.close()
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM field_sites WHERE id = :i"), {"i": site_id}
            ).scalar_one()
            == 1
        )


def test_grantee_deletes_a_site_from_the_list(
    browser: Any, live_server: str, engine: Engine, tmp_path: Path
) -> None:
    from api.auth.testing import make_token

    tag = secrets.token_hex(3)
    owner = make_user(engine, f"grantee-delete-{tag}", roles=["grantee"], grants=[GRANT])
    name = f"to delete {tag}"
    path = write(site_gdf(1, names=[name]), "geojson", tmp_path)
    import httpx

    r = httpx.post(
        f"{live_server}/api/grants/{GRANT}/sites",
        params={"dry_run": "false"},
        files={"file": (path.name, path.read_bytes())},
        headers={"Authorization": f"Bearer {make_token(engine, owner)}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    site_id = r.json()["features"][0]["site_id"]
    context = browser.new_context()
    page = context.new_page()
    _login(page, live_server, owner)
    page.select_option("#grant", GRANT)
    row = page.locator(f'tr.saved-row[data-id="{site_id}"]')
    row.wait_for()
    page.once("dialog", lambda d: d.accept())
    row.locator("button.delete-site").click()
    page.wait_for_function(
        "() => document.getElementById('message').textContent.startsWith('Deleted')"
    )
    assert page.locator(f'tr.saved-row[data-id="{site_id}"]').count() == 0
    context.close()
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM field_sites WHERE id = :i"), {"i": site_id}
            ).scalar_one()
            == 0
        )
        actor = conn.execute(
            text("SELECT actor FROM field_site_versions WHERE site_id = :i AND action = 'delete'"),
            {"i": site_id},
        ).scalar_one()
    assert actor == owner


def test_the_upload_page_speaks_russian(
    browser: Any, live_server: str, engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    """A grantee whose browser asks for Russian checks a file with one good polygon and one
    point: the counts, the statuses, the actions, the message and what each finding means are
    in Russian, and so are the findings in the check's own words, the notes on how the file was
    read and the reason a file is refused."""
    import shapely

    tag = secrets.token_hex(3)
    owner = make_user(engine, f"grantee-ru-{tag}", roles=["grantee"], grants=[GRANT])
    gdf = site_gdf(2, names=[f"Участок {tag}", f"Точка {tag}"])
    gdf.loc[1, "geometry"] = shapely.Point(70.0, 45.0)
    path = write(gdf, "geojson", tmp_path)
    context = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server, owner)
    page.select_option("#grant", GRANT)
    page.set_input_files("#file", str(path))
    page.click("#check")
    page.wait_for_selector("#report:not([hidden]) tr.feature-row")
    notes = page.locator("#notes").inner_text()
    assert "Прочитано объектов: 2. Без замечаний: 1;" in notes and "с ошибками: 1." in notes
    rows = page.locator("tr.feature-row")
    assert "в порядке" in rows.nth(0).inner_text() and "добавить" in rows.nth(0).inner_text()
    bad = rows.nth(1)
    assert "ошибки" in bad.inner_text()
    finding = bad.locator('li[data-code="not_polygon"]')
    assert finding.inner_text() == "точка — не площадной объект: участки должны быть полигонами"
    assert page.locator("#message").inner_text().startswith("В некоторых объектах есть ошибки")
    assert page.is_disabled("#commit")
    assert "прочитан как GeoJSON" in notes  # how the file was read, in Russian too
    page.locator("#report").screenshot(path=str(artifacts / "site-upload-report-ru-phone.png"))
    # a refused file: the server's reason in Russian
    empty = tmp_path / "пусто.geojson"
    empty.write_bytes(b"")
    page.set_input_files("#file", str(empty))
    page.click("#check")
    expect(page.locator("#message")).to_have_text(
        "Отклонено: пусто.geojson: файл пуст", timeout=10_000
    )
    assert errors == [], errors
    context.close()
