"""Choosing the language of a request (no database)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from api import i18n
from api.vocabulary import word


def request(query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "query_string": query.encode(), "headers": raw})


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("kk-KZ,kk;q=0.9,ru;q=0.8", "kk"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,ru;q=0.5", "ru"),
        ("en;q=0.3,kk;q=0.8", "kk"),
        ("fr", "en"),
        ("", "en"),
        ("ru;q=0", "en"),
        ("*", "en"),
        ("garbage;;q=x,ru", "ru"),
    ],
)
def test_accept_language(header: str, lang: str) -> None:
    assert i18n.negotiate(request(headers={"Accept-Language": header})) == lang


def test_query_beats_cookie_beats_browser() -> None:
    both = {"Accept-Language": "ru", "Cookie": "lang=kk"}
    assert i18n.negotiate(request("lang=en", both)) == "en"
    assert i18n.negotiate(request("", both)) == "kk"
    assert i18n.negotiate(request("lang=xx", both)) == "kk"  # unknown values are ignored
    assert i18n.negotiate(request("", {"Accept-Language": "ru", "Cookie": "lang=../etc"})) == "ru"


def test_localized_names_fall_back_to_the_name() -> None:
    place = {"name": "Almaty", "name_ru": "Алматы"}
    species = {"common_name_en": "Snow leopard", "common_name_ru": "Снежный барс (ирбис)"}
    assert i18n.localized(place, lang="ru") == "Алматы"
    assert i18n.localized(place, lang="kk") == "Almaty"  # no Kazakh name in the data
    assert i18n.localized(place, lang="en") == "Almaty"
    assert i18n.localized(species, "common_name_en", lang="ru") == "Снежный барс (ирбис)"
    assert i18n.localized({"name": "X", "name_ru": None}, lang="ru") == "X"


def test_words_for_stored_values() -> None:
    token = i18n.set_locale("kk")
    try:
        assert word(True) == "иә" and word(False) == "жоқ"
        assert word("ski_resort") == "тау шаңғысы курорты"
        assert word("unknown_code") == "unknown code"
        assert word(None) == ""
    finally:
        i18n.reset(token)
    token = i18n.set_locale("ru")
    try:
        assert word("under_construction") == "строится"
    finally:
        i18n.reset(token)
    assert word(False) == "no"


def test_parameters_as_readable_lists() -> None:
    from api.templating import readable

    html = str(readable('{"species": ["Panthera uncia"], "target_share": 0.3, "lock_in": true}'))
    assert "<dt>species</dt><dd>Panthera uncia</dd>" in html
    assert "<dt>target share</dt><dd>0.3</dd>" in html and "<dd>yes</dd>" in html
    assert "{" not in html and '"' not in html.replace('class="readable"', "")
    assert "&lt;script&gt;" in str(readable({"note": "<script>"}))
    assert "<li>" in str(readable({"steps": [{"a": 1}, {"b": 2}]}))
