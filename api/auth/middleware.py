"""Authentication: resolve who is asking and put it on ``request.state.principal``.

``Authorization: Bearer <token>`` (API tokens) or the signed session cookie (web login).
A bearer token that is unknown or revoked is answered with 401 at once; a stale cookie just
means anonymous. Unsafe requests that carry an Irbis cookie must carry the CSRF token too
(header ``X-CSRF-Token`` or form field ``csrf_token``), or they are refused with 403.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser

from api.auth import accounts
from api.auth.csrf import CSRF_FIELD, CSRF_HEADER, matches
from api.auth.principal import ANONYMOUS, Principal
from api.auth.secrets_store import secret_key
from api.auth.tokens import new_token, sign, unsign
from api.db.engine import transaction

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "irbis_session"
CSRF_COOKIE = "irbis_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def session_cookie_value(key: bytes, raw: str) -> str:
    return sign(key, raw, purpose="session")


def cookie_header(
    name: str, value: str, *, secure: bool, max_age: int | None = None, delete: bool = False
) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if delete:
        parts.append("Max-Age=0")
    elif max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class _Unavailable(Exception):
    """The accounts cannot be read (the database is down)."""


def _lookup(engine: Engine, kind: str, raw: str) -> Principal | None:
    try:
        with transaction(engine, actor=None) as session:
            if kind == "token":
                return accounts.principal_from_api_token(session, raw)
            return accounts.principal_from_session(session, raw)
    except OperationalError as exc:
        raise _Unavailable from exc


async def _reply(send: Send, status: int, code: str, description: str, **headers: str) -> None:
    body = json.dumps({"code": code, "description": description}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ] + [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Pure ASGI middleware (no body copying except for CSRF checks of HTML form posts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self._authenticate(scope, receive, send)
        except _Unavailable:
            await _reply(
                send,
                503,
                "unavailable",
                "the account store cannot be reached; try again soon",
                retry_after="30",
            )

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        application = scope["app"]
        settings = application.state.settings
        key = getattr(application.state, "secret_key", None)
        if key is None:
            key = application.state.secret_key = secret_key(settings)
        engine: Engine = application.state.engine
        headers = Headers(scope=scope)
        cookies = cookie_parser(headers.get("cookie", ""))
        state = scope.setdefault("state", {})
        state["csrf_key"] = key
        state["csrf_ok"] = False
        principal: Principal = ANONYMOUS
        seed: str | None = None
        new_seed: str | None = None

        authorization = headers.get("authorization")
        if authorization:
            scheme, _, credential = authorization.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                await _reply(
                    send,
                    401,
                    "unauthenticated",
                    "use 'Authorization: Bearer <token>' with an Irbis API token",
                    www_authenticate="Bearer",
                )
                return
            found = await to_thread.run_sync(_lookup, engine, "token", credential)
            if found is None:
                await _reply(
                    send,
                    401,
                    "unauthenticated",
                    "this API token is unknown or was revoked",
                    www_authenticate='Bearer error="invalid_token"',
                )
                return
            principal = found
            state["auth_method"] = "token"
        else:
            raw = unsign(key, cookies.get(SESSION_COOKIE), purpose="session")
            if raw:
                found = await to_thread.run_sync(_lookup, engine, "session", raw)
                if found is not None:
                    principal, seed = found, raw
                    state["auth_method"] = "session"
                    state["session_token"] = raw
            if seed is None:
                seed = unsign(key, cookies.get(CSRF_COOKIE), purpose="csrf-seed")
                if seed is None:
                    seed = new_seed = new_token()
            has_cookie = SESSION_COOKIE in cookies or CSRF_COOKIE in cookies
            if scope["method"] not in SAFE_METHODS and has_cookie:
                ok, receive = await self._check_csrf(scope, receive, key, seed, headers)
                if not ok:
                    await _reply(
                        send,
                        403,
                        "csrf_failed",
                        "this form is stale or did not come from Irbis: reload the page and "
                        "try again",
                    )
                    return
                state["csrf_ok"] = True

        state["principal"] = principal
        state["user"] = None if principal.is_anonymous else principal
        state["csrf_seed"] = seed

        if new_seed is None:
            await self.app(scope, receive, send)
            return
        cookie = cookie_header(
            CSRF_COOKIE,
            sign(key, new_seed, purpose="csrf-seed"),
            secure=settings.api.secure_cookies,
        )

        async def send_with_cookie(message: Message) -> None:
            # only responses that embed a CSRF token set the seed cookie, so API and tile
            # responses stay cookie-free (and cacheable)
            if message["type"] == "http.response.start" and state.get("csrf_seed_used"):
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _check_csrf(
        self, scope: Scope, receive: Receive, key: bytes, seed: str, headers: Headers
    ) -> tuple[bool, Receive]:
        if matches(key, seed, headers.get(CSRF_HEADER)):
            return True, receive
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in FORM_TYPES:
            return False, receive
        limit = scope["app"].state.settings.uploads.max_bytes + 1_000_000
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False, receive
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                return False, receive
            chunks.append(body)
            if not message.get("more_body", False):
                break
        data = b"".join(chunks)

        def replay_factory() -> Receive:
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": data, "more_body": False}
                return await receive()

            return replay

        request = Request(scope, replay_factory())
        try:
            async with request.form(max_files=100, max_fields=1000) as form:
                value = form.get(CSRF_FIELD)
                ok = isinstance(value, str) and matches(key, seed, value)
        except Exception:
            ok = False
        return ok, replay_factory()
