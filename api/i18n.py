"""Languages: Russian, Kazakh and English, chosen per request.

The language of a request is, in order: ``?lang=`` (the switcher in the navigation sets it and
it is remembered in the ``lang`` cookie), the ``lang`` cookie, the browser's
``Accept-Language``, and English. Catalogs are the gettext ``.po`` files in
``locale/<lang>/LC_MESSAGES/messages.po`` (English is the source language); they are read with
Babel when first needed, so a fresh clone works without a compile step (``make i18n`` extracts,
updates and compiles them for other tools).

Python code marks visible text with :func:`lazy_gettext` (``_l``) where it is produced, and
renders it with :func:`gettext` (``_``). The spatial core's errors and notes are English
messages made with :func:`geo.messages.en`, which :func:`translate` gives in the current
language. JSON API answers stay in English (programs read them); where the request asked for
Russian or Kazakh, their prose is given in it too, beside the English (an error's
``message``, an upload report's ``local_notes``).
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Mapping
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from typing import TYPE_CHECKING, Any

from babel.support import LazyProxy
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import querystring
from api.settings import REPO_ROOT
from geo import messages
from geo.lazy import lazy_module

if TYPE_CHECKING:
    from babel.messages import mofile, pofile
else:  # a catalog is read when its language is first asked for (cold start, geo.lazy)
    mofile = lazy_module("babel.messages.mofile")
    pofile = lazy_module("babel.messages.pofile")

LOCALE_DIR = REPO_ROOT / "locale"
DEFAULT = "en"
#: The languages Irbis speaks, each named in itself (for the switcher).
LANGUAGES: dict[str, str] = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
COOKIE = "lang"
#: A year: the choice is remembered until changed.
COOKIE_MAX_AGE = 365 * 24 * 3600

_current: ContextVar[str] = ContextVar("irbis_locale", default=DEFAULT)


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalog of ``lang``, read from its ``.po`` file (English: the source itself)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.exists():
        return _gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = pofile.read_po(f, locale=lang)
    buf = BytesIO()
    mofile.write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def current_locale() -> str:
    return _current.get()


def set_locale(lang: str) -> object:
    """Make ``lang`` the language of the current context; returns a token for :func:`reset`."""
    return _current.set(lang if lang in LANGUAGES else DEFAULT)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def translate(message: object) -> str:
    """``message`` in the current language: a :class:`geo.messages.Message` by its template
    (its values filled in, translated too when they are messages), text marked with a lazy
    gettext, or an English string the catalogs know; else as it is."""
    if isinstance(message, messages.Message):
        values = {
            k: translate(v) if isinstance(v, messages.Message) else v
            for k, v in message.values.items()
        }
        translated = gettext(message.template)
        try:
            return translated.format(**values) if message.values else translated
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
            return str(message)
    return gettext(str(message))


def lazy_gettext(message: str) -> Any:
    """``message``, translated when it is shown (in the language of that moment)."""
    return LazyProxy(gettext, message, enable_cache=False)


_ = gettext
_l = lazy_gettext


def parse_accept_language(header: str) -> list[str]:
    """Language tags from an ``Accept-Language`` header, most preferred first."""
    weighted = []
    for i, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*":
            continue
        q = 1.0
        for p in params.split(";"):
            name, _eq, value = p.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            weighted.append((-q, i, tag))
    return [tag for _q, _i, tag in sorted(weighted)]


def from_accept_language(header: str) -> str | None:
    for tag in parse_accept_language(header):
        primary = tag.replace("_", "-").split("-")[0]
        if primary in LANGUAGES:
            return primary
    return None


def negotiate(conn: HTTPConnection) -> str:
    """The language of a request: ``?lang=``, the ``lang`` cookie, ``Accept-Language``, English."""
    asked = querystring.last(conn.scope.get("query_string", b""), "lang")
    if asked in LANGUAGES:
        return asked
    cookie = conn.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return from_accept_language(conn.headers.get("accept-language", "")) or DEFAULT


def scope_locale(scope: Scope) -> str:
    """The language of the request of ``scope``: the one :class:`LocaleMiddleware` set, else
    negotiated as it would (a middleware outside it answers before it runs). A request with no
    ``lang`` parameter, no cookie and no ``Accept-Language`` is English at once."""
    lang = scope.get("state", {}).get("locale")
    if lang in LANGUAGES:
        return lang
    query = scope.get("query_string", b"")
    if b"lang=" in query or b"%" in query:  # ?lang=, perhaps percent-encoded
        return negotiate(HTTPConnection(scope))
    for name, _value in scope.get("headers", ()):
        if name in (b"cookie", b"accept-language"):
            return negotiate(HTTPConnection(scope))
    return DEFAULT


def localized(row: Any, field: str = "name", lang: str | None = None) -> Any:
    """``row``'s ``field`` in the current language where the data has it (``name_ru``,
    ``common_name_ru``...), else the field itself. ``row`` is an object or a mapping."""
    lang = lang or current_locale()

    def get(key: str) -> Any:
        if isinstance(row, Mapping):
            return row.get(key)
        return getattr(row, key, None)

    base = field[: -len("_en")] if field.endswith("_en") else field
    value = get(f"{base}_{lang}") if lang != DEFAULT else None
    return value or get(field)


class LocaleMiddleware:
    """Sets the language of each request; ``?lang=`` also sets the ``lang`` cookie, and pages
    say which language they are in (``Content-Language``) and that it depends on the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        lang = negotiate(conn)
        scope.setdefault("state", {})["locale"] = lang
        chosen = querystring.last(scope.get("query_string", b""), "lang") in LANGUAGES

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Language"] = lang
                    headers.add_vary_header("Accept-Language")
                    headers.add_vary_header("Cookie")
                if chosen:
                    headers.append(
                        "Set-Cookie",
                        f"{COOKIE}={lang}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax",
                    )
            await send(message)

        token = _current.set(lang)
        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _current.reset(token)
