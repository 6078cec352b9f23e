"""Request bodies: a size limit per route, enforced before a byte is read, and a read timeout.

:class:`BodyLimitMiddleware` is pure ASGI and sits outside everything else. For each request it
looks up the route's :class:`BodyRule` (method + path, :func:`rule_for`):

- a ``Content-Length`` over the limit is answered 413 at once, without reading the body;
- a chunked body is counted as it streams and answered 413 as soon as it passes the limit;
- a body chunk that does not arrive within ``IRBIS_SERVER_BODY_TIMEOUT`` seconds is answered
  408 and the connection is closed (a slow client cannot hold a worker).

After such an answer the application sees a disconnected client and whatever it sends is
dropped. Whether a route needs a login (or one of some roles) is also in its rule: the
authentication middleware (:mod:`api.auth.middleware`) refuses anonymous or unentitled callers
before the body is read.

Each refusal is Irbis's JSON error body (:func:`reply`, which the other middlewares that
refuse before routing use too): ``description`` in English, and ``message`` in the request's
language when it asked for Russian or Kazakh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

import anyio
from starlette.datastructures import Headers

from api import i18n
from api.auth.principal import Role
from api.errors import error_body
from api.settings import Settings
from geo import messages
from geo.messages import en

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KB = 1024
#: Login and logout forms: a user name, a password, a CSRF token and a local address.
LOGIN_BYTES = 16 * KB
#: Small HTML forms and JSON documents (a token name, a moderation step).
FORM_BYTES = 64 * KB
#: JSON parameters of analyses and prioritisation runs.
JSON_BYTES = 1024 * KB
#: Room for the fields and multipart framing around the files of an upload.
UPLOAD_OVERHEAD = 1024 * KB
#: A threat report carries its evidence and, besides, a footprint file of at most this size
#: (:data:`api.routers.reports.MAX_FOOTPRINT_BYTES`).
REPORT_FOOTPRINT_BYTES = 10 * 1024 * KB
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class BodyRule:
    """What a route accepts: at most ``limit`` bytes of body, and who may send one."""

    limit: int
    #: A login is needed: anonymous callers are refused before the body is read.
    login: bool = False
    #: An HTML page route: anonymous callers are sent to the login page rather than a 401.
    page: bool = False
    #: Only callers with one of these roles may send a body (empty: any logged-in caller).
    roles: frozenset[Role] = frozenset()
    #: What a caller without those roles is told.
    forbidden: messages.Message | str = ""


_ANALYSTS = frozenset({Role.analyst, Role.admin})
_REPORTERS = frozenset({Role.advocate, Role.analyst, Role.admin})

#: (method, path pattern, rule); ``upload`` limits are filled in from the settings.
_TABLE: tuple[tuple[str, str, str, BodyRule], ...] = (
    ("POST", r"/login", "fixed", BodyRule(LOGIN_BYTES)),
    ("POST", r"/logout", "fixed", BodyRule(LOGIN_BYTES)),
    (
        "POST",
        r"/reports",
        "report",
        BodyRule(
            0,
            login=True,
            roles=_REPORTERS,
            forbidden=en("only advocates, analysts and admins can submit threat reports"),
        ),
    ),
    ("POST", r"/reports/[^/]+/state", "fixed", BodyRule(FORM_BYTES, login=True)),
    ("POST", r"/api/grants/[^/]+/sites", "upload", BodyRule(0, login=True)),
    ("PUT", r"/api/grants/[^/]+/sites/[^/]+", "upload", BodyRule(0, login=True)),
    ("DELETE", r"/api/grants/[^/]+/sites/[^/]+", "fixed", BodyRule(0, login=True)),
    ("POST", r"/api/grants/[^/]+/monitoring", "upload", BodyRule(0, login=True)),
    ("POST", r"/api/grants/[^/]+/monitoring/csv", "upload", BodyRule(0, login=True)),
    ("POST", r"/grants/[^/]+/monitoring/new", "upload", BodyRule(0, login=True, page=True)),
    # a returned record corrected by its grantee: the same fields and evidence as a submission
    ("POST", r"/api/monitoring/records/[^/]+/resubmit", "upload", BodyRule(0, login=True)),
    ("POST", r"/monitoring/records/[^/]+/edit", "upload", BodyRule(0, login=True, page=True)),
    # the bulk upload page: a CSV, workbook or ZIP checked, then stored by its token
    ("POST", r"/monitoring/upload", "upload", BodyRule(0, login=True, page=True)),
    ("POST", r"/monitoring/upload/store", "fixed", BodyRule(FORM_BYTES, login=True, page=True)),
    ("POST", r"/api/account/tokens", "fixed", BodyRule(FORM_BYTES, login=True)),
    ("DELETE", r"/api/account/tokens/[^/]+", "fixed", BodyRule(0, login=True)),
    ("POST", r"/account/tokens", "fixed", BodyRule(FORM_BYTES, login=True, page=True)),
    ("POST", r"/account/password", "fixed", BodyRule(LOGIN_BYTES, login=True, page=True)),
    (
        "POST",
        r"/account/tokens/[^/]+/revoke",
        "fixed",
        BodyRule(FORM_BYTES, login=True, page=True),
    ),
    (
        "POST",
        r"/api/grants",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=_ANALYSTS,
            forbidden=en("only analysts and administrators may register grants"),
        ),
    ),
    (
        "POST",
        r"/api/grants/import",
        "upload",
        BodyRule(
            0,
            login=True,
            roles=_ANALYSTS,
            forbidden=en("only analysts and administrators may import grant lists"),
        ),
    ),
    ("PATCH", r"/api/grants/[^/]+", "fixed", BodyRule(JSON_BYTES, login=True)),
    (
        "POST",
        r"/api/grants/[^/]+/close",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=_ANALYSTS,
            forbidden=en("only analysts and administrators may close grants"),
        ),
    ),
    ("POST", r"/grants/new", "fixed", BodyRule(FORM_BYTES, login=True, page=True)),
    ("POST", r"/grants/[^/]+/edit", "fixed", BodyRule(FORM_BYTES, login=True, page=True)),
    (
        "POST",
        r"/api/monitoring/indicators",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=frozenset({Role.admin}),
            forbidden=en("only administrators manage the indicator catalogue"),
        ),
    ),
    (
        "PATCH",
        r"/api/monitoring/indicators/[^/]+",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=frozenset({Role.admin}),
            forbidden=en("only administrators manage the indicator catalogue"),
        ),
    ),
    (
        "POST",
        r"/api/monitoring/records/[^/]+/review",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=_ANALYSTS,
            forbidden=en("only analysts and administrators review monitoring records"),
        ),
    ),
    (
        "POST",
        r"/monitoring/records/[^/]+/review",
        "fixed",
        BodyRule(FORM_BYTES, login=True, page=True),
    ),
    (
        "POST",
        r"/analyses",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=_ANALYSTS,
            forbidden=en("only analysts and administrators may run analyses"),
        ),
    ),
    (
        "POST",
        r"/prioritisation/(?:grids|scenarios)/new",
        "fixed",
        BodyRule(FORM_BYTES, login=True, page=True),
    ),
    (
        "POST",
        r"/prioritisation/(?:grids|scenarios)",
        "fixed",
        BodyRule(
            JSON_BYTES,
            login=True,
            roles=_ANALYSTS,
            forbidden=en("only analysts and administrators may run a prioritisation"),
        ),
    ),
)
_COMPILED = tuple((m, re.compile(p + r"/?"), kind, rule) for m, p, kind, rule in _TABLE)
#: Safe methods carry no body; an unlisted write route takes a small one.
NO_BODY = BodyRule(0)
OTHER_WRITE = BodyRule(FORM_BYTES)


def upload_limit(settings: Settings) -> int:
    """The body limit of upload routes: the upload limit plus room for the form around it."""
    return settings.uploads.max_bytes + UPLOAD_OVERHEAD


def rule_for(settings: Settings, method: str, path: str) -> BodyRule:
    """The body rule of the route ``method path``."""
    method = method.upper()
    for m, pattern, kind, rule in _COMPILED:
        if m == method and pattern.fullmatch(path):
            if kind == "upload":
                return replace(rule, limit=upload_limit(settings))
            if kind == "report":
                return replace(rule, limit=upload_limit(settings) + REPORT_FOOTPRINT_BYTES)
            return rule
    return NO_BODY if method in SAFE_METHODS else OTHER_WRITE


def table() -> list[tuple[str, str]]:
    """The (method, path pattern) pairs that have their own rule (for checks and docs)."""
    return [(m, p) for m, p, _, _ in _TABLE]


#: Error bodies in UTF-8, laid out as ``json.dumps`` lays them out.
_JSON = json.JSONEncoder(ensure_ascii=False)


async def reply(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    description: str,
    *,
    close: bool = False,
    **headers: str,
) -> None:
    """Answer with Irbis's JSON error body (:func:`api.errors.error_body`): ``description`` in
    English, and ``message`` in the request's language (:func:`api.i18n.scope_locale`, looked
    up only now: the middlewares that refuse may run before the locale is set)."""
    body = _JSON.encode(error_body(code, description, lang=i18n.scope_locale(scope))).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ] + [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    if close:
        raw_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def too_large_message(limit: int) -> messages.Message:
    if limit == 0:
        return en("this address takes no request body; send the request without one")
    if limit >= 1024 * 1024:
        size = f"{limit / 1024 / 1024:.1f}"
        return en(
            "the request body is larger than {size} MB, the limit for this address", size=size
        )
    size = str(limit // 1024)
    return en("the request body is larger than {size} kB, the limit for this address", size=size)


class _Guard:
    """Tracks the response, and answers on the application's behalf once."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self._scope = scope
        self._send = send
        self.started = False
        self.answered = False

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # we answered already: the application's response is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def answer(self, status: int, code: str, description: str) -> None:
        if self.started or self.answered:
            return
        await reply(self._scope, self._send, status, code, description, close=True)
        self.answered = True


class BodyLimitMiddleware:
    """Pure ASGI: per-route body size limits and a body read timeout (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        rule = rule_for(settings, scope["method"], scope["path"])
        scope.setdefault("state", {})["body_rule"] = rule
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and not length.strip().isdigit():
            await reply(
                scope,
                send,
                400,
                "invalid_request",
                en("the Content-Length header is not a number"),
            )
            return
        if length is not None and int(length) > rule.limit:
            await reply(scope, send, 413, "too_large", too_large_message(rule.limit), close=True)
            return
        if length is None and "chunked" not in headers.get("transfer-encoding", "").lower():
            # no body at all: nothing to count or to wait for
            await self.app(scope, receive, send)
            return

        guard = _Guard(scope, send)
        timeout = settings.server.body_timeout
        received = 0
        done = False

        async def limited_receive() -> Message:
            nonlocal received, done
            if done or guard.answered:
                if guard.answered:
                    return {"type": "http.disconnect"}
                return await receive()
            with anyio.move_on_after(timeout) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                seconds = f"{timeout:g}"
                await guard.answer(
                    408,
                    "request_timeout",
                    en(
                        "the request body did not arrive within {seconds} seconds; "
                        "check the connection and send it again",
                        seconds=seconds,
                    ),
                )
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.limit:
                    await guard.answer(413, "too_large", too_large_message(rule.limit))
                    return {"type": "http.disconnect"}
                if not message.get("more_body", False):
                    done = True
            return message

        try:
            await self.app(scope, limited_receive, guard.send)
        except Exception:
            if not guard.answered:
                raise
            # the application saw the client as gone after we answered 408 or 413
