"""The spatial core's messages: English text that the web layer also gives in the reader's
language (no database)."""

from __future__ import annotations

import pickle

from api import i18n
from api.errors import error_body, in_language
from geo.messages import Message, en


def test_a_message_is_its_english_text() -> None:
    m = en("{name}: the file is empty", name="sites.zip")
    assert m == "sites.zip: the file is empty" and isinstance(m, str)
    assert (m.template, m.values) == ("{name}: the file is empty", {"name": "sites.zip"})
    assert str(m) == m and type(str(m)) is str
    # it crosses processes whole (the workers that read uploads and serve tiles)
    back = pickle.loads(pickle.dumps(m))
    assert isinstance(back, Message) and back == m and back.values == m.values


def test_translated_by_its_template_with_the_same_values() -> None:
    m = en("{name}: the file is empty", name="участки.zip")
    assert in_language("ru", m) == "участки.zip: файл пуст"
    assert in_language("kk", m) == "участки.zip: файл бос"
    assert in_language("en", m) == "участки.zip: the file is empty"


def test_a_message_within_a_message_is_translated_too() -> None:
    how = en("from {name}", name="sites.cpg")
    m = en("attribute encoding {encoding} ({how})", encoding="cp1251", how=how)
    assert m == "attribute encoding cp1251 (from sites.cpg)"
    assert in_language("ru", m) == "кодировка атрибутов cp1251 (из sites.cpg)"


def test_a_message_the_catalogs_lack_stays_english() -> None:
    m = en("{n} things nobody translated", n=3)
    assert in_language("ru", m) == "3 things nobody translated"


def test_error_bodies_keep_english_and_add_the_readers_language() -> None:
    m = en("{name}: the file is empty", name="a.kml")
    assert error_body("unreadable_file", m) == {
        "code": "unreadable_file",
        "description": "a.kml: the file is empty",
    }
    token = i18n.set_locale("ru")
    try:
        body = error_body("unreadable_file", m)
        plain = error_body("invalid_input", "something no catalog knows")
    finally:
        i18n.reset(token)
    assert body["description"] == "a.kml: the file is empty"
    assert body["message"] == "a.kml: файл пуст"
    assert "message" not in plain  # nothing to add where no translation exists


def test_an_archive_refused_says_why_in_russian() -> None:
    """The archive checks (uploads and evidence) refuse with messages the web layer translates."""
    import pytest

    from geo.archive import _safe_member_name
    from geo.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        _safe_member_name("../../etc/passwd")
    assert caught.value.message.startswith("archive member '../../etc/passwd' points outside")
    assert in_language("ru", caught.value.message) == (
        "элемент архива '../../etc/passwd' указывает за пределы архива (выход за каталог); "
        "ничего не распаковано"
    )


def test_problems_reported_together_are_each_translated() -> None:
    from geo.messages import joined

    m = joined([en("{name}: the file is empty", name="a.csv"), "a note nobody translated"])
    assert m == "a.csv: the file is empty; a note nobody translated"
    assert in_language("ru", m) == "a.csv: файл пуст; a note nobody translated"


def test_an_http_error_raised_with_a_message_keeps_it_for_translation() -> None:
    """A route that raises Starlette's HTTPException with a core message (the threat routes'
    503s do): the JSON answer and the browser's page both say it in the reader's language."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from starlette.exceptions import HTTPException

    from api import errors
    from api.i18n import LocaleMiddleware

    app = FastAPI()
    errors.install(app)
    app.add_middleware(LocaleMiddleware)

    @app.get("/broken")
    def broken() -> None:
        raise HTTPException(503, detail=en("{name}: the file is empty", name="a.kml"))

    with TestClient(app) as client:
        body = client.get("/broken", headers={"Accept-Language": "kk"}).json()
        page = client.get("/broken?lang=ru", headers={"Accept": "text/html"}).text
    assert body["description"] == "a.kml: the file is empty"
    assert body["message"] == "a.kml: файл бос"
    assert "a.kml: файл пуст" in page
