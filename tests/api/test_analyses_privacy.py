"""A failed analysis tells the public that it failed, not the exception nor who ran it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import Engine, text

from api.services import analyses as an
from geo.errors import InvalidInput, NotFound

SECRET = "connection to /srv/irbis/secret-path refused"


class _Text(HTMLParser):
    """The text of a page as a reader sees it (tags and attributes dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _page_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return re.sub(r"\s+", " ", " ".join(p.parts))


def _fail(engine: Engine, error: BaseException, actor: str) -> int:
    def compute(inputs: an.Inputs) -> None:
        raise error

    with pytest.raises(type(error)):
        an.execute(
            engine, "overlap", {"layers": []}, compute, lambda *a: {}, actor=actor, title=None
        )
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT max(id) FROM analysis_runs WHERE created_by = :a"), {"a": actor}
            ).scalar_one()
        )


@pytest.fixture
def unexpected(db_tx) -> tuple[int, str]:
    actor = "analyst-who-must-stay-private"
    return _fail(db_tx.engine, RuntimeError(SECRET), actor), actor


def test_public_sees_failed_without_exception_or_username(tx_client, unexpected) -> None:
    client = tx_client
    run_id, actor = unexpected
    for url in ("/analyses?f=json", f"/analyses/{run_id}?f=json"):
        body = client.get(url).text
        assert SECRET not in body and "RuntimeError" not in body and actor not in body
    run = client.get(f"/analyses/{run_id}?f=json").json()
    assert run["status"] == "failed" and run["error"] == an.UNEXPECTED_FAILURE
    assert "created_by" not in run and "error_detail" not in run
    for url in ("/analyses", f"/analyses/{run_id}"):
        r = client.get(url, headers={"Accept": "text/html"})
        assert r.status_code == 200
        assert SECRET not in r.text and actor not in r.text
    assert "failed" in _page_text(client.get(f"/analyses/{run_id}").text)


def test_analysts_see_the_error_and_who_ran_it(tx_login_as, unexpected) -> None:
    run_id, actor = unexpected
    analyst = tx_login_as("analyst")
    run = analyst.get(f"/analyses/{run_id}?f=json").json()
    assert run["created_by"] == actor and SECRET in run["error_detail"]
    text = _page_text(analyst.get(f"/analyses/{run_id}").text)
    assert SECRET in text and actor in text
    listed = analyst.get("/analyses?f=json").json()["runs"]
    assert any(r["id"] == run_id and r["created_by"] == actor for r in listed)


def test_grantees_do_not_see_the_error(tx_login_as, unexpected) -> None:
    run_id, actor = unexpected
    body = tx_login_as("grantee").get(f"/analyses/{run_id}?f=json").text
    assert SECRET not in body and actor not in body


def test_domain_errors_are_published_as_written(tx_client, db_tx) -> None:
    message = "name each layer once"
    run_id = _fail(db_tx.engine, InvalidInput(message), "analyst-domain")
    run = tx_client.get(f"/analyses/{run_id}?f=json").json()
    assert run["status"] == "failed" and run["error"] == message


def test_a_domain_error_is_said_in_the_readers_language(tx_client, db_tx, settings) -> None:
    """A run that failed on an error written for people keeps the message it was made from:
    its page and JSON say it in Russian (and Kazakh); the JSON's ``error`` stays English."""
    with pytest.raises(NotFound):
        an.run_habitat(db_tx.engine, settings, ecosystems_run=987654)
    with db_tx.engine.connect() as conn:
        run_id = conn.execute(
            text("SELECT max(id) FROM analysis_runs WHERE status = 'failed'")
        ).scalar_one()
    english = "the raster of ecosystems run 987654 is missing; run it again"
    russian = "растр расчёта экосистем 987654 отсутствует; выполните расчёт заново"
    run = tx_client.get(f"/analyses/{run_id}?f=json").json()
    assert run["error"] == english and "local_error" not in run
    ru = {"Accept-Language": "ru"}
    run = tx_client.get(f"/analyses/{run_id}?f=json", headers=ru).json()
    assert run["error"] == english and run["local_error"] == russian
    listed = tx_client.get("/analyses?f=json", headers=ru).json()["runs"]
    assert any(r["id"] == run_id and r["local_error"] == russian for r in listed)
    for url in (f"/analyses/{run_id}", "/analyses"):
        page = _page_text(tx_client.get(url, headers={**ru, "Accept": "text/html"}).text)
        assert russian in page and english not in page
    kazakh = "987654 экожүйелер есебінің растры жоқ; есепті қайта орындаңыз"
    html = {"Accept": "text/html"}
    page = tx_client.get(f"/analyses/{run_id}", headers={**html, "Accept-Language": "kk"}).text
    assert kazakh in _page_text(page) and english not in page
    assert english in _page_text(tx_client.get(f"/analyses/{run_id}", headers=html).text)


def test_an_unexpected_failure_is_said_in_the_readers_language(tx_client, unexpected) -> None:
    """The public sentence of an unexpected failure is translated; its text stays hidden."""
    run_id, actor = unexpected
    ru = {"Accept-Language": "ru"}
    run = tx_client.get(f"/analyses/{run_id}?f=json", headers=ru).json()
    assert run["error"] == an.UNEXPECTED_FAILURE
    assert run["local_error"].startswith("Анализ прервался из-за непредвиденной ошибки")
    page = tx_client.get(f"/analyses/{run_id}", headers={**ru, "Accept": "text/html"}).text
    assert "Анализ прервался из-за непредвиденной ошибки" in _page_text(page)
    assert SECRET not in page and actor not in page
