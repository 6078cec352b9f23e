"""Writes refused from their headers alone, before the rest of the stack sees them.

A flood of refused writes (50 MB bodies, anonymous posts to routes that need a login) costs
the server for each request whatever the stack does before the refusal: the locale is
negotiated, cookies parsed and the session resolved, every middleware wraps the response on
its way out. :class:`EarlyRefusalMiddleware` (pure ASGI, just inside
:class:`api.refusals.RefusalHoldMiddleware`, so these refusals are held like any other)
answers what the headers already decide, with the answers the stack would give:

- a ``Content-Length`` over the route's body limit: 413, connection closed
  (:class:`api.bodylimits.BodyLimitMiddleware`'s answer);
- a body sent to a route that needs a login, with no ``Authorization`` header and no session
  cookie: 401, or the login page redirect for a form (the authentication middleware's answer,
  :func:`api.auth.middleware.refused_before_body`), connection closed.

Both are in the request's language, as the stack says them (:func:`api.bodylimits.reply`
negotiates it, only for a refusal). Nothing of the body is read. Everything else (a chunked
body over the limit, a session cookie or a token to resolve, roles to check, ``?lang=`` which
sets a cookie on the answer) goes on to the stack, which refuses it there.
``tests/api/test_early_refusals.py`` compares each early answer with the stack's, header by
header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers

from api.auth.middleware import SESSION_COOKIE, refused_before_body
from api.auth.principal import ANONYMOUS
from api.bodylimits import SAFE_METHODS, reply, rule_for, too_large_message

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SESSION = SESSION_COOKIE.encode() + b"="


class EarlyRefusalMiddleware:
    """Pure ASGI: oversize and anonymous writes refused from their headers (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        rule = rule_for(scope["app"].state.settings, scope["method"], scope["path"])
        length: bytes | None = None
        credentials = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value.strip()
            elif name == b"authorization" or (name == b"cookie" and _SESSION in value):
                credentials = True
        if length is not None and length.isdigit() and int(length) > rule.limit:
            await reply(scope, send, 413, "too_large", too_large_message(rule.limit), close=True)
            return
        if rule.login and not credentials and b"lang=" not in scope.get("query_string", b""):
            state = scope.setdefault("state", {})
            state["body_rule"] = rule
            if await refused_before_body(scope, send, ANONYMOUS, Headers(scope=scope)):
                return
        await self.app(scope, receive, send)
