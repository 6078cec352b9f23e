"""Refusals answered before routing, by the middlewares (a body too large, heavy requests
beyond their bounds, too many changes, a login or a CSRF token missing), in the reader's
language: the English ``description`` stays, ``message`` says it in Russian or Kazakh, and a
request in English gets the body it always got."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from api import i18n
from api.bodylimits import too_large_message
from api.concurrency import too_many
from api.errors import error_body
from api.settings import HeavySettings, Settings
from tests.api.test_heavy import BBOX, OTHER, _filtered_read_held, _serving
from tests.windows import HOUR, clear_of_window_edge

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
KK = {"Cookie": "lang=kk"}
ENGLISH: list[dict[str, str]] = [{}, {"Accept-Language": "en-GB,en;q=0.9,ru;q=0.3"}]
LOG_IN_RU = "(или войдите: для учётной записи действует отдельное ограничение)"
LOG_IN_KK = "(немесе жүйеге кіріңіз: тіркелгіге жеке шектеу қолданылады)"
TOO_LARGE = "the request body is larger than 16 kB, the limit for this address"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _body(r: httpx.Response) -> dict[str, Any]:
    return dict(json.loads(r.content))


@pytest.fixture
def app_with(settings: Settings, demo: dict[str, int]) -> Callable[..., Any]:
    """``app_with(**updates)``: the real app with these settings replaced."""
    from api.app import create_app

    return lambda **updates: create_app(settings.model_copy(update=updates))


@pytest.mark.parametrize(
    ("query", "headers", "lang"),
    [
        (b"", [], "en"),
        (b"limit=5", [(b"content-length", b"9")], "en"),
        (b"lang=kk", [], "kk"),
        (b"l%61ng=ru", [], "ru"),  # percent-encoded, as the locale middleware reads it
        (b"lang=fr", [(b"accept-language", b"ru")], "ru"),
        (b"", [(b"cookie", b"theme=x; lang=kk"), (b"accept-language", b"ru")], "kk"),
        (b"", [(b"cookie", b"theme=x")], "en"),
        (b"", [(b"accept-language", b"de-DE, kk;q=0.5")], "kk"),
    ],
)
def test_a_refusal_before_the_locale_is_set_negotiates_as_the_locale_middleware(
    query: bytes, headers: list[tuple[bytes, bytes]], lang: str
) -> None:
    scope: dict[str, Any] = {"type": "http", "query_string": query, "headers": headers}
    assert i18n.scope_locale(scope) == lang == i18n.negotiate(HTTPConnection(scope))
    # once the locale middleware has run, its choice stands
    assert i18n.scope_locale({**scope, "state": {"locale": "ru"}}) == "ru"


def test_the_limits_are_said_in_their_units() -> None:
    megabytes = too_large_message(5 * 1024 * 1024)
    assert error_body("too_large", megabytes, lang="ru") == {
        "code": "too_large",
        "description": "the request body is larger than 5.0 MB, the limit for this address",
        "message": "тело запроса больше 5.0 МБ — предела для этого адреса",
    }
    assert error_body("too_large", too_large_message(0), lang="kk")["message"] == (
        "бұл мекенжай сұрау денесін қабылдамайды; сұрауды онсыз жіберіңіз"
    )
    assert "message" not in error_body("too_large", megabytes, lang="en")


@pytest.mark.parametrize(
    ("headers", "query", "message"),
    [
        (RU, "", "тело запроса больше 16 КБ — предела для этого адреса"),
        (KK, "", "сұрау денесі 16 КБ-тан үлкен — бұл мекенжайдың шегі"),
        ({}, "?lang=kk", "сұрау денесі 16 КБ-тан үлкен — бұл мекенжайдың шегі"),
    ],
)
def test_a_body_too_large_is_refused_in_the_readers_language(
    client: TestClient, headers: dict[str, str], query: str, message: str
) -> None:
    """Declared too large (refused from the headers), and sent in chunks past the limit
    (counted as it comes): both before the locale middleware, both said in the language."""
    declared = client.post(f"/login{query}", content=b"x" * 17 * 1024, headers={**FORM, **headers})
    chunked = client.post(
        f"/login{query}", content=iter([b"x" * 8 * 1024] * 3), headers={**FORM, **headers}
    )
    for r in (declared, chunked):
        assert r.status_code == 413, r.text
        assert _body(r) == {"code": "too_large", "description": TOO_LARGE, "message": message}


@pytest.mark.parametrize("headers", ENGLISH)
def test_an_english_request_is_refused_as_before(
    client: TestClient, headers: dict[str, str]
) -> None:
    """No ``message``, and the very bytes of before."""
    r = client.post("/login", content=b"x" * 17 * 1024, headers={**FORM, **headers})
    assert r.status_code == 413
    assert r.content == b'{"code": "too_large", "description": "' + TOO_LARGE.encode() + b'"}'
    r = client.post("/api/account/tokens", json={"name": "x"}, headers=headers)
    assert r.status_code == 401
    assert _body(r) == {
        "code": "unauthenticated",
        "description": "log in, or send 'Authorization: Bearer <token>', to send this request",
    }
    r = client.post("/login", data={"username": "a"}, headers={**headers, "Cookie": "irbis_csrf=x"})
    assert r.status_code == 403
    assert _body(r) == {
        "code": "csrf_failed",
        "description": "this form is stale or did not come from Irbis: reload the page and "
        "try again",
    }


def test_logins_and_csrf_tokens_missing_are_said_in_the_readers_language(
    client: TestClient,
) -> None:
    # an anonymous write to a route that needs a login: refused from its headers, before the
    # locale is set; with ?lang= it goes on to the authentication middleware, which refuses
    # it there (and the answer sets the language cookie)
    r = client.post("/api/account/tokens", json={"name": "x"}, headers=RU)
    assert r.status_code == 401 and _body(r)["message"] == (
        "войдите или передайте заголовок 'Authorization: Bearer <token>', чтобы отправить этот "
        "запрос"
    )
    r = client.post("/api/account/tokens?lang=kk", json={"name": "x"})
    assert r.status_code == 401 and _body(r)["message"] == (
        "бұл сұрауды жіберу үшін жүйеге кіріңіз немесе 'Authorization: Bearer <token>' "
        "тақырыбын жіберіңіз"
    )
    assert r.headers["set-cookie"].startswith("lang=kk")
    client.cookies.clear()
    # a token nobody issued
    r = client.get("/api/account/tokens", headers={**RU, "Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert _body(r) == {
        "code": "unauthenticated",
        "description": "this API token is unknown or was revoked",
        "message": "этот токен API неизвестен или был отозван",
    }
    # a form posted with Irbis's cookie but without its CSRF token
    for headers, message in (
        (
            {**RU, "Cookie": "irbis_csrf=x"},
            "эта форма устарела или пришла не из Irbis: обновите страницу и попробуйте снова",
        ),
        (
            {"Cookie": "irbis_csrf=x; lang=kk"},
            "бұл пішін ескірген немесе Irbis-тен келмеген: бетті жаңартып, қайталап көріңіз",
        ),
    ):
        r = client.post("/login", data={"username": "a", "password": "b"}, headers=headers)
        assert r.status_code == 403
        assert _body(r) == {
            "code": "csrf_failed",
            "description": "this form is stale or did not come from Irbis: reload the page "
            "and try again",
            "message": message,
        }


def test_a_role_missing_is_said_in_the_readers_language(tx_login_as: Any) -> None:
    """A body refused before it is read, for the role its sender lacks."""
    public = tx_login_as("public")
    headers = {"X-CSRF-Token": public.csrf}
    for extra, query, message in (
        (RU, "", "регистрировать гранты могут только аналитики и администраторы"),
        ({}, "", None),
        ({}, "?lang=kk", "гранттарды тек талдаушылар мен әкімшілер тіркей алады"),
    ):
        r = public.post(f"/api/grants{query}", json={}, headers={**headers, **extra})
        assert r.status_code == 403
        expected = {
            "code": "forbidden",
            "description": "only analysts and administrators may register grants",
        }
        assert _body(r) == ({**expected, "message": message} if message else expected)


def test_too_many_requests_are_said_in_the_readers_language(
    settings: Settings,
    app_with: Callable[..., Any],
    clients: Callable[[Any, str], TestClient],
) -> None:
    # heavy reads beyond their rate (inside the locale middleware)
    heavy = clients(app_with(heavy=HeavySettings(rate="1/hour", hold_seconds=0)), "192.0.2.61")
    path = "/collections/places/items"
    clear_of_window_edge(HOUR)
    assert heavy.get(path, params=BBOX).status_code == 200
    said = {}
    for lang, headers in (("ru", RU), ("kk", KK), ("en", {})):
        r = heavy.get(path, params=BBOX, headers=headers)
        assert r.status_code == 429
        said[lang] = (_body(r), int(r.headers["Retry-After"]))
    heavy_en = (
        "too many heavy requests (filtered or bbox reads, downloads, analyses, PDFs) in a short "
        "time: wait {wait} seconds and try again (or log in: an account has an allowance of its "
        "own)"
    )
    body, wait = said["ru"]
    assert body == {
        "code": "too_many_requests",
        "description": heavy_en.format(wait=wait),
        "message": "слишком много тяжёлых запросов (чтение с фильтром или bbox, скачивание, "
        f"анализы, PDF) за короткое время: подождите {wait} с и попробуйте снова {LOG_IN_RU}",
    }
    body, wait = said["kk"]
    assert body["message"] == (
        "қысқа уақытта тым көп ауыр сұрау (сүзгімен немесе bbox-пен оқу, жүктеп алу, "
        f"талдаулар, PDF): {wait} секунд күтіп, қайталап көріңіз {LOG_IN_KK}"
    )
    body, wait = said["en"]
    assert body == {"code": "too_many_requests", "description": heavy_en.format(wait=wait)}

    # changes beyond their rate
    ratelimit = settings.ratelimit.model_copy(update={"writes": "1/hour"})
    writes = clients(app_with(ratelimit=ratelimit), "192.0.2.62")
    clear_of_window_edge(HOUR)
    assert writes.delete("/api/account/tokens/1").status_code == 401
    r = writes.delete("/api/account/tokens/1", headers=KK)
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert _body(r) == {
        "code": "too_many_requests",
        "description": f"too many changes sent in a short time: wait {wait} seconds and try again",
        "message": f"қысқа уақытта тым көп өзгеріс жіберілді: {wait} секунд күтіп, қайталап "
        "көріңіз",
    }


@pytest.fixture
def busy_server(
    settings: Settings, app_with: Callable[..., Any], cleaned_up: None
) -> Iterator[str]:
    """The real app on uvicorn, trusting 127.0.0.1 as a proxy, that runs at most one filtered
    read of visitors who are not logged in at once."""
    heavy = HeavySettings(concurrent=2, rate="", hold_seconds=0, anonymous_filters_total=1)
    server = settings.server.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    with _serving(app_with(heavy=heavy, server=server)) as base:
        yield base


def test_a_busy_server_says_so_in_the_readers_language(busy_server: str, engine: Engine) -> None:
    """While an anonymous filtered read runs, another address's is refused 503 (busy), in
    the language it asked for."""
    statuses: list[int] = []
    places = f"{busy_server}/collections/places/items"
    english = (
        "the server is busy with other filtered reads from visitors who are not logged in: "
        "try again in a moment (or log in: an account has an allowance of its own)"
    )
    with engine.connect() as lock:
        lock.begin()
        held: threading.Thread = _filtered_read_held(busy_server, engine, lock, statuses)
        said = {}
        for lang, headers, query in (
            ("ru", RU, {}),
            ("kk", {}, {"lang": "kk"}),
            ("en", {}, {}),
        ):
            r = httpx.get(
                places,
                params={"filter": "population > 100000", **query},
                headers={"X-Forwarded-For": OTHER, **headers},
                timeout=10,
            )
            assert r.status_code == 503, r.text[:300]
            said[lang] = _body(r)
        lock.rollback()
    held.join(60)
    assert statuses == [200]
    assert said["ru"] == {
        "code": "busy",
        "description": english,
        "message": "сервер занят другими чтениями с фильтром от посетителей, не вошедших в "
        f"систему: попробуйте чуть позже {LOG_IN_RU}",
    }
    assert said["kk"]["message"] == (
        "сервер жүйеге кірмеген келушілердің сүзгімен басқа оқуларымен бос емес: сәлден соң "
        f"қайталап көріңіз {LOG_IN_KK}"
    )
    assert said["en"] == {"code": "busy", "description": english}


@pytest.mark.parametrize(
    ("lang", "said"),
    [("ru", "не больше 3 запросов с фильтром"), ("kk", "ең көбі 3 сүзгімен сұрау")],
)
def test_too_many_filtered_requests_are_said_in_the_readers_language(lang: str, said: str) -> None:
    refusal = too_many(3, 2)
    body = error_body("too_many_requests", refusal.detail, lang=lang)
    assert body["description"] == (
        "at most 3 filtered requests may run at once for one client; "
        "wait for the others to finish, then try again"
    )
    assert said in str(body["message"]), body
    assert refusal.headers == {"Retry-After": "2"}
