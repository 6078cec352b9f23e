"""Pages in the language of the request, error pages for browsers, JSON errors in English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.routers.pages import render_markdown

HTML = {"Accept": "text/html,application/xhtml+xml"}


def html_lang(body: str) -> str:
    m = re.search(r'<html lang="([a-z]+)"', body)
    assert m, "no <html lang>"
    return m.group(1)


@pytest.mark.parametrize(
    ("accept_language", "lang", "words"),
    [
        (
            "ru-RU,ru;q=0.9,en;q=0.5",
            "ru",
            ["Атлас", "Угрозы", "Источники", "Охраняемые территории"],
        ),
        (
            "kk-KZ,kk;q=0.9,ru;q=0.8",
            "kk",
            ["Атлас", "Қауіптер", "Дереккөздер", "Қорғалатын аумақтар"],
        ),
        ("en-US,en;q=0.9", "en", ["Atlas", "Threats", "Sources", "Protected areas"]),
    ],
)
def test_landing_in_the_browser_language(
    client: Any, accept_language: str, lang: str, words: list[str]
) -> None:
    r = client.get("/", headers={**HTML, "Accept-Language": accept_language})
    assert r.status_code == 200
    assert html_lang(r.text) == lang
    assert r.headers["content-language"] == lang
    assert "Accept-Language" in r.headers["vary"]
    for w in words:
        assert w in r.text, w
    # the switcher offers the two other languages, each named in itself
    for code, name in (("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")):
        assert name in r.text
        if code != lang:
            assert f'hreflang="{code}"' in r.text


def test_the_switcher_sets_a_cookie_that_is_remembered(client: Any) -> None:
    r = client.get("/threats?lang=kk", headers={**HTML, "Accept-Language": "ru"})
    assert r.status_code == 200 and html_lang(r.text) == "kk"
    assert "lang=kk" in r.headers["set-cookie"] and "Max-Age" in r.headers["set-cookie"]
    # later requests without ?lang= stay in Kazakh although the browser prefers Russian
    again = client.get("/sources", headers={**HTML, "Accept-Language": "ru"})
    assert html_lang(again.text) == "kk" and "Дереккөздер мен лицензиялар" in again.text
    back = client.get("/sources?lang=en", headers=HTML)
    assert html_lang(back.text) == "en" and "Sources and licences" in back.text


def test_switcher_links_keep_the_page_and_its_query(client: Any) -> None:
    r = client.get("/threats?as_of=2024-01-01", headers={**HTML, "Accept-Language": "en"})
    assert 'href="/threats?as_of=2024-01-01&amp;lang=ru"' in r.text


def test_stored_values_read_as_words(client: Any, kok_jailau: int) -> None:
    r = client.get("/threats", headers={**HTML, "Accept-Language": "ru"})
    assert "горнолыжный курорт" in r.text and "ski_resort" not in r.text.split("<tbody>")[1]


def test_unknown_page_is_an_html_page_with_navigation(client: Any) -> None:
    r = client.get("/no-such-page", headers={**HTML, "Accept-Language": "ru"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert html_lang(r.text) == "ru"
    assert "Страница не найдена" in r.text
    assert 'href="/atlas"' in r.text and 'class="topbar"' in r.text


def test_api_clients_still_get_json_errors_in_english(client: Any) -> None:
    for headers in ({"Accept": "application/json"}, {"Accept": "*/*"}, {}):
        r = client.get("/no-such-page", headers={**headers, "Accept-Language": "kk"})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["code"] == "not_found"
    r = client.get("/collections/no_such_layer/items?f=json", headers={"Accept-Language": "ru"})
    assert r.status_code == 404 and r.json()["description"].isascii()
    # ?f=json wins over a browser's Accept
    r = client.get("/no-such-page?f=json", headers=HTML)
    assert r.headers["content-type"].startswith("application/json")


def test_a_bad_parameter_is_a_page_for_browsers(client: Any) -> None:
    r = client.get("/threats?as_of=not-a-date", headers={**HTML, "Accept-Language": "kk"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "Сұрауды орындау мүмкін емес" in r.text
    assert "Traceback" not in r.text and "/work/" not in r.text


def test_forbidden_page_offers_no_dead_end(tx_login_as: Any) -> None:
    grantee = tx_login_as("grantee")
    r = grantee.get("/reports/new", headers={**HTML, "Accept-Language": "ru"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "У вас нет доступа к этой странице" in r.text
    # and no page links a grantee to the report form it may not use
    for path in ("/threats", "/reports", "/"):
        page = grantee.get(path, headers=HTML)
        assert 'href="/reports/new"' not in page.text, path
    advocate = tx_login_as("advocate")
    assert 'href="/reports/new"' in advocate.get("/threats", headers=HTML).text


def test_upload_card_only_for_those_who_may_upload(tx_login_as: Any) -> None:
    assert 'href="/sites/upload"' not in tx_login_as("advocate").get("/", headers=HTML).text
    assert 'href="/sites/upload"' in tx_login_as("grantee").get("/", headers=HTML).text


def test_account_leads_to_login_when_logged_out(client: Any) -> None:
    r = client.get("/account", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/tokens"
    page = client.get("/account", headers={**HTML, "Accept-Language": "kk"})
    assert page.status_code == 200 and 'name="username"' in page.text and "Кіру" in page.text


def test_account_for_a_logged_in_user(tx_login_as: Any) -> None:
    user = tx_login_as("analyst")
    r = user.get("/account", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/tokens"


def test_sources_renders_markdown(client: Any) -> None:
    r = client.get("/sources", headers=HTML)
    assert r.status_code == 200
    provenance = r.text.split('id="provenance"')[1]
    assert "<h" in provenance or "<p>" in provenance
    assert "\n## " not in provenance and "\n# " not in provenance


def test_markdown_escapes_raw_html() -> None:
    out = str(render_markdown("# Title\n\n<script>alert(1)</script> [x](javascript:alert(1))"))
    assert "<h1>Title</h1>" in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="javascript:' not in out


def test_atom_feed_declares_utf8(client: Any) -> None:
    r = client.get("/threats/feed.atom")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    r.content.decode("utf-8")


def test_item_table_filters_keeps_the_filter_on_the_map_and_says_booleans(client: Any) -> None:
    r = client.get(
        "/collections/countries/items",
        params={"f": "html", "filter": "programme = true", "limit": 10},
        headers={**HTML, "Accept-Language": "ru"},
    )
    assert r.status_code == 200, r.text
    assert 'id="filter"' in r.text and "programme = true" in r.text  # the filter stays in its field
    assert 'href="/collections/countries/map?filter=programme+%3D+true"' in r.text
    body = r.text.split("<tbody>")[1]
    assert ">да<" in body and "True" not in body and "False" not in body


def test_item_table_shows_a_shared_source_once(client: Any) -> None:
    r = client.get("/collections/countries/items", params={"f": "html", "limit": 50}, headers=HTML)
    assert r.status_code == 200
    shared = re.search(r'<p class="shared-source"><strong>Source:</strong> (.+?)</p>', r.text)
    assert shared, "a source every row shares is shown above the table"
    assert r.text.split("<tbody>")[1].count(shared.group(1)) == 0


def test_threat_dossier_and_its_export_in_the_chosen_language(client: Any, kok_jailau: int) -> None:
    r = client.get(f"/threats/{kok_jailau}", headers={**HTML, "Accept-Language": "kk"})
    assert r.status_code == 200 and html_lang(r.text) == "kk"
    assert "Контур және оның нені қамтитыны" in r.text and "Қорғалатын аумақ:" in r.text
    export = client.get(f"/threats/{kok_jailau}/dossier.html?lang=ru")
    assert export.status_code == 200
    assert html_lang(export.text) == "ru" and "Досье угрозы Irbis" in export.text


@pytest.mark.parametrize(
    ("lang", "closed", "mountain", "ha", "resort", "patrol"),
    [
        ("ru", "завершён", "горные", "га", "горнолыжный курорт", "Протяжённость патрулей"),
        ("kk", "аяқталған", "таулы", "га", "тау шаңғысы курорты", "Патрульдік жүріс қашықтығы"),
    ],
)
def test_the_grant_pages_say_stored_codes_units_and_indicators_in_the_readers_language(
    client: Any,
    lang: str,
    closed: str,
    mountain: str,
    ha: str,
    resort: str,
    patrol: str,
) -> None:
    """A grant's status, ecosystems, threats' kinds and statuses, the units of its figures and
    its indicators' names (where the catalogue has the language) are not shown as codes."""
    page = client.get(f"/grants/SOS-CA-EX-01?lang={lang}", headers=HTML).text
    assert f'<td id="status">{closed}</td>' in page
    facts = page.split('<td id="status">')[1].split("</table>")[0]
    assert mountain in facts and "mountain" not in facts
    heading = {
        "ru": "Опубликованные угрозы в пределах 10 км",
        "kk": "10 км шегіндегі жарияланған қауіптер",
    }
    assert f"<h2>{heading[lang]}</h2>" in page  # the words in the language's order
    threats = page.split('id="threats"')[1].split("</table>")[0]
    assert f"<td>{resort}</td>" in threats and "<td>ski resort</td>" not in threats
    assert "<td>proposed</td>" not in threats
    charts = re.findall(r'<svg class="chart"[^>]*aria-label="([^"]*)"', page)
    assert charts and all("(" in c for c in charts)
    # indicators' names come from the catalogue (name_ru, name_kk)
    assert any(c.startswith(patrol) for c in charts)
    assert not any(c.startswith("Patrol distance") for c in charts)

    report = client.get(f"/grants/SOS-CA-EX-01/report?lang={lang}", headers=HTML).text
    assert f"· {closed}</p>" in report
    assert f"{resort}, " in report and "(ski resort" not in report
    sites = report.split(">" + ("Полевые участки" if lang == "ru" else "Далалық учаскелер"))[1]
    assert re.match(rf"</th><td>\d+, [\d,]+ {ha}</td>", sites), sites[:80]

    portfolio = client.get(f"/grants?lang={lang}", headers=HTML).text
    table = portfolio.split('id="balance"')[1].split("</table>")[0]
    assert mountain in table and "mountain" not in table and "arid lowland" not in table
    assert f"<td>{closed}</td>" in portfolio and "<td>closed</td>" not in portfolio
    assert f'<option value="closed" >{closed}</option>' in portfolio or (
        f">{closed}</option>" in portfolio
    )


@pytest.mark.parametrize(
    ("lang", "name"), [("ru", "Протяжённость патрулей"), ("kk", "Патрульдік жүріс қашықтығы")]
)
def test_the_monitoring_page_names_indicators_in_the_readers_language(
    client: Any, lang: str, name: str
) -> None:
    page = client.get(f"/monitoring?lang={lang}", headers=HTML).text
    assert f"<td>{name}</td>" in page and "Patrol distance" not in page
    assert f'aria-label="{name} (km)"' in page
    english = client.get("/monitoring?lang=en", headers=HTML).text
    assert "<td>Patrol distance</td>" in english


def test_analysis_kinds_read_as_words(client: Any) -> None:
    page = client.get("/analyses?lang=ru", headers=HTML).text
    for word in ("классификация экосистем", "перекрытие", "пробелы в охране"):
        assert f">{word}</a>" in page, word


@pytest.mark.parametrize(
    ("lang", "heading", "park", "geodesic", "status"),
    [
        (
            "ru",
            "Кок-Жайлау: горнолыжный курорт, запланированный внутри",
            "Иле-Алатауский национальный парк",
            "га (геодезическая площадь)",
            "предложено",
        ),
        (
            "kk",
            "Көкжайлау: Іле Алатауы ұлттық паркінің ішінде",
            "Іле Алатауы ұлттық паркі",
            "га (геодезиялық аудан)",
            "ұсынылған",
        ),
    ],
)
def test_the_kok_jailau_case_in_russian_and_kazakh(
    client: Any, lang: str, heading: str, park: str, geodesic: str, status: str
) -> None:
    """The public case page is written in the reader's language: its text, the numbers' labels
    and units, the park's name (from OpenStreetMap's name:ru / name:kk) and the threat's
    status; the quote of the park administration is translated without quotation marks."""
    page = client.get(f"/cases/kok-jailau?lang={lang}", headers=HTML).text
    case = page.split('<div class="case">')[1].split("<script>")[0]
    case = re.sub(r"<div class=\"mapbox\".*?</div>", "", case, flags=re.S)
    assert heading in case
    assert f"<td>{park}</td>" in case and f"1,002 {geodesic}" in case
    assert f"<td>{status}</td>" in case and "“" not in case
    text = re.sub(r"<[^>]+>", " ", case)
    english = re.findall(r"\b(?:the|of|and|ha|km|inside|Footprint|Status)\b", text)
    assert english == [], english


def test_the_ecosystem_class_labels_the_catalogs_translate_are_those_the_model_stores() -> None:
    """Stored class labels are shown through the catalogs: the list the catalogs are made from
    follows :data:`geo.ecosystems.CLASS_LABELS`, and each has a Russian and Kazakh text."""
    from api import i18n
    from api.vocabulary import ECOSYSTEM_CLASS_LABELS
    from geo.ecosystems import CLASS_LABELS

    token = i18n.set_locale("en")
    try:
        assert [str(x) for x in ECOSYSTEM_CLASS_LABELS] == list(CLASS_LABELS.values())
    finally:
        i18n.reset(token)
    for lang in ("ru", "kk"):
        token = i18n.set_locale(lang)
        try:
            for label in CLASS_LABELS.values():
                assert i18n.gettext(label) != label, (lang, label)
        finally:
            i18n.reset(token)


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_layer_descriptions_in_the_readers_language(client: Any, lang: str) -> None:
    """Every layer's description has a Russian and a Kazakh text, shown on the list of layers,
    each layer's page and its map page; the OGC API's JSON keeps the English one."""
    from api import i18n
    from layers.registry import get_layer, layers

    token = i18n.set_locale(lang)
    try:
        texts = {s.id: i18n.gettext(s.description) for s in layers()}
    finally:
        i18n.reset(token)
    assert all(texts[s.id] != s.description for s in layers()), lang
    listing = client.get(f"/collections?lang={lang}", headers=HTML).text
    for s in layers():
        assert f"<td>{texts[s.id]}</td>" in listing.replace("&#34;", '"'), s.id
    assert f'<p class="lead">{texts["grants"]}</p>' in client.get(
        f"/collections/grants?f=html&lang={lang}", headers=HTML
    ).text.replace("&#34;", '"')
    assert texts["field_sites"] in client.get(f"/collections/field_sites/map?lang={lang}").text
    # the properties' titles and how sensitive locations are protected, too
    page = client.get(f"/collections/occurrences?f=html&lang={lang}", headers=HTML).text
    assert "snapped to the centre" not in page and "<td>Basis of record</td>" not in page
    assert "<td>Species</td>" not in page
    doc = client.get(f"/collections/grants?f=json&lang={lang}").json()
    assert doc["description"] == get_layer("grants").description


@pytest.mark.parametrize(
    ("lang", "species", "pieces"),
    [
        (
            "ru",
            "Снежный барс (ирбис)",
            {"Экосистема: горные (1,002 га)", "Моделируемые местообитания: Снежный барс (305 га)"},
        ),
        (
            "kk",
            "Ілбіс",
            {"Экожүйе: таулы (1,002 га)", "Модельдік мекендеу орындары: Ілбіс (305 га)"},
        ),
    ],
)
def test_the_dossier_names_species_and_map_pieces_in_the_readers_language(
    client: Any, kok_jailau: int, lang: str, species: str, pieces: set[str]
) -> None:
    """The species' common names (``common_name_ru``, ``common_name_kk``, migration 0021) and
    the names of the footprint's pieces on the dossier's map; the dossier's tables name
    species with the same names (``localized``)."""
    from sqlalchemy import select

    from shapely.geometry import Point

    from api import i18n
    from api.db import models as m
    from api.routers.threats import _overlays

    with client.app.state.engine.connect() as conn:  # the demo's snow leopard
        names = conn.execute(
            select(m.Species.common_name_ru, m.Species.common_name_kk).where(
                m.Species.scientific_name == "Panthera uncia"
            )
        ).one()
    assert species == {"ru": names.common_name_ru, "kk": names.common_name_kk}[lang]
    assert client.get(f"/threats/{kok_jailau}?lang={lang}", headers=HTML).status_code == 200
    token = i18n.set_locale(lang)
    try:
        names = {
            "ru": {"common_name_ru": "Снежный барс"},
            "kk": {"common_name_kk": "Ілбіс"},
        }[lang]
        layers = _overlays(
            {
                "ecosystems": [{"kind": "mountain", "overlap_ha": 1002.0, "piece": Point(0, 0)}],
                "habitat": [
                    {
                        "scientific_name": "Panthera uncia",
                        "common_name_en": "Snow leopard",
                        "overlap_ha": 305.0,
                        "piece": Point(0, 0),
                    }
                    | names
                ],
            }
        )
    finally:
        i18n.reset(token)
    assert set(layers) == pieces
