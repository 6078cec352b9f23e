"""Authentication: resolve who is asking and put it on ``request.state.principal``.

``Authorization: Bearer <token>`` (API tokens) or the signed session cookie (web login).
A bearer token that is unknown or revoked is answered with 401 at once; a stale cookie just
means anonymous. Unsafe requests that carry an Irbis cookie must carry the CSRF token too
(header ``X-CSRF-Token`` or form field ``csrf_token``), or they are refused with 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from anyio import to_thread
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks  # for type checkers only

from api.auth import accounts
from api.auth.cache import PrincipalCache
from api.auth.csrf import CSRF_FIELD, CSRF_HEADER, matches
from api.auth.principal import ANONYMOUS, Principal
from api.auth.secrets_store import secret_key
from api.auth.tokens import new_token, sign, unsign
from api.bodylimits import reply
from api.db.engine import transaction
from api.errors import RETRY_AFTER
from api.refusals import REFUSED_FLAG
from geo.messages import en

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "irbis_session"
CSRF_COOKIE = "irbis_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
#: Files that are the same for everyone: no login is resolved for them.
PUBLIC_FILE_PREFIXES = ("/static/", "/vendor/")


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


def principal_cache(application: Any) -> PrincipalCache:
    """The app's cache of resolved logins (``settings.api.principal_cache_seconds``)."""
    cache = getattr(application.state, "principal_cache", None)
    if cache is None:
        ttl = application.state.settings.api.principal_cache_seconds
        cache = application.state.principal_cache = PrincipalCache(ttl)
    return cache


async def _resolve(application: Any, kind: str, raw: str) -> Principal | None:
    """The principal of a credential: from the cache, else from the database (then kept)."""
    cache = principal_cache(application)
    key = cache.key(kind, raw)
    versions = getattr(application.state, "versions", None)
    # a notification not yet handled may be the ``auth`` one of a change made elsewhere
    if versions is None or not versions.unread():
        found, principal = cache.get(key)
        if found:
            return principal
    generation = cache.generation
    principal = await to_thread.run_sync(_lookup, application.state.engine, kind, raw)
    cache.put(key, principal, generation)
    return principal


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "chunked" in headers.get("transfer-encoding", "").lower()


async def refused_before_body(
    scope: Scope, send: Send, principal: Principal, headers: Headers
) -> bool:
    """Refuse a body sent to a route that needs a login (or a role) the caller lacks, before
    a byte of it is read; True when refused."""
    rule = scope.get("state", {}).get("body_rule")
    if rule is None or not rule.login or not _has_body(headers):
        return False
    scope["state"]["principal"] = principal  # whose refusal it is (api.refusals)
    if principal.is_anonymous:
        if rule.page:
            scope["state"][REFUSED_FLAG] = True  # a refusal, though not a 401 (api.refusals)
            target = "/login?next=" + quote(scope["path"])
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [
                        (b"location", target.encode()),
                        (b"content-length", b"0"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return True
        await reply(
            scope,
            send,
            401,
            "unauthenticated",
            en("log in, or send 'Authorization: Bearer <token>', to send this request"),
            close=True,
            www_authenticate="Bearer",
        )
        return True
    if rule.roles and not principal.has(*rule.roles):
        names = ", ".join(sorted(r.value for r in rule.roles))
        message = rule.forbidden or en(
            "only these roles may send this request: {names}", names=names
        )
        await reply(scope, send, 403, "forbidden", message, close=True)
        return True
    return False


class AuthMiddleware:
    """Pure ASGI middleware (no body copying except for CSRF checks of HTML form posts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS and scope["path"].startswith(PUBLIC_FILE_PREFIXES):
            state = scope.setdefault("state", {})
            state["principal"] = ANONYMOUS
            state["user"] = None
            await self.app(scope, receive, send)
            return
        try:
            await self._authenticate(scope, receive, send)
        except _Unavailable:
            await reply(
                scope,
                send,
                503,
                "service_unavailable",
                en("the database is unavailable, so accounts cannot be checked; try again shortly"),
                retry_after=RETRY_AFTER,
            )

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        application = scope["app"]
        settings = application.state.settings
        key = getattr(application.state, "secret_key", None)
        if key is None:
            key = application.state.secret_key = secret_key(settings)
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
            found = await _bearer(scope, application, authorization, send)
            if found is None:
                return
            principal = found
            state["auth_method"] = "token"
            if await refused_before_body(scope, send, principal, headers):
                return
        else:
            raw = unsign(key, cookies.get(SESSION_COOKIE), purpose="session")
            if raw:
                found = await _resolve(application, "session", raw)
                if found is not None:
                    principal, seed = found, raw
                    state["auth_method"] = "session"
                    state["session_token"] = raw
            if seed is None:
                seed = unsign(key, cookies.get(CSRF_COOKIE), purpose="csrf-seed")
                if seed is None:
                    seed = new_seed = new_token()
            if await refused_before_body(scope, send, principal, headers):
                return
            has_cookie = SESSION_COOKIE in cookies or CSRF_COOKIE in cookies
            if scope["method"] not in SAFE_METHODS and has_cookie:
                ok, receive = await self._check_csrf(scope, receive, key, seed, headers)
                if not ok:
                    await reply(
                        scope,
                        send,
                        403,
                        "csrf_failed",
                        en(
                            "this form is stale or did not come from Irbis: reload the page and "
                            "try again"
                        ),
                    )
                    return
                state["csrf_ok"] = True

        state["principal"] = principal
        state["user"] = None if principal.is_anonymous else principal
        state["csrf_seed"] = seed

        if new_seed is not None:
            send = _setting_seed(send, state, key, new_seed, settings.api.secure_cookies)
        await self.app(scope, receive, send)

    async def _check_csrf(
        self, scope: Scope, receive: Receive, key: bytes, seed: str, headers: Headers
    ) -> tuple[bool, Receive]:
        """Whether the request carries a valid CSRF token, and how to read its body now.

        Scripts send the token as ``X-CSRF-Token``. HTML forms send the field ``csrf_token``:
        a urlencoded form is small (bounded by the route's body limit) and read whole; of a
        multipart form only the first part is read, which must be the token (Irbis's
        templates put it first). What was read is replayed to the application, the rest of
        the body streams on unread.
        """
        if matches(key, seed, headers.get(CSRF_HEADER)):
            return True, receive
        ctype, options = parse_options_header(headers.get("content-type", ""))
        if ctype == b"application/x-www-form-urlencoded":
            chunks, finished = await _read_all(receive)
            if not finished:
                return False, receive
            data = b"".join(chunks)
            values = parse_qs(data.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD, [])
            ok = len(values) == 1 and matches(key, seed, values[0])
            return ok, _replay(chunks, receive, finished=True)
        if ctype == b"multipart/form-data" and options.get(b"boundary"):
            value, chunks, finished = await _first_multipart_field(receive, options[b"boundary"])
            ok = value is not None and matches(key, seed, value)
            return ok, _replay(chunks, receive, finished=finished)
        return False, receive


async def _bearer(
    scope: Scope, application: Any, authorization: str, send: Send
) -> Principal | None:
    """The principal of an ``Authorization: Bearer`` token, or None once refused (401)."""
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        await reply(
            scope,
            send,
            401,
            "unauthenticated",
            en("use 'Authorization: Bearer <token>' with an Irbis API token"),
            www_authenticate="Bearer",
        )
        return None
    found = await _resolve(application, "token", credential)
    if found is None:
        await reply(
            scope,
            send,
            401,
            "unauthenticated",
            en("this API token is unknown or was revoked"),
            www_authenticate='Bearer error="invalid_token"',
        )
    return found


def _setting_seed(
    send: Send, state: MutableMapping[str, Any], key: bytes, seed: str, secure: bool
) -> Send:
    """A ``send`` that sets the new CSRF seed cookie on responses that embed a CSRF token."""
    cookie = cookie_header(CSRF_COOKIE, sign(key, seed, purpose="csrf-seed"), secure=secure)

    async def send_with_cookie(message: Message) -> None:
        # only responses that embed a CSRF token set the seed cookie, so API and tile
        # responses stay cookie-free (and cacheable)
        if message["type"] == "http.response.start" and state.get("csrf_seed_used"):
            MutableHeaders(scope=message).append("set-cookie", cookie)
        await send(message)

    return send_with_cookie


async def _read_all(receive: Receive) -> tuple[list[bytes], bool]:
    """The body's chunks and whether it arrived whole (the body limit bounds its size)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks, True


#: The first part of a multipart form must end within this many bytes to be the CSRF field.
FIRST_PART_BYTES = 8 * 1024


class _FirstPart:
    """Callbacks of a streaming multipart parser that keep the first part's name and value."""

    def __init__(self) -> None:
        self.name: bytes | None = None
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.value = bytearray()
        self.headers_done = False
        self.part_done = False
        self.too_long = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value.extend(data[start:end])

    def on_header_end(self) -> None:
        if self.name is None and bytes(self.header_field).lower() == b"content-disposition":
            _, params = parse_options_header(bytes(self.header_value))
            self.name = params.get(b"name", b"")
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        self.headers_done = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part_done:
            return  # a later part, in the same chunk
        self.value.extend(data[start:end])
        if len(self.value) > FIRST_PART_BYTES:
            self.too_long = True

    def on_part_end(self) -> None:
        self.part_done = True

    def hopeless(self, size: int) -> bool:
        """The first part cannot be the CSRF field (too long, or another field)."""
        if self.too_long or (size > FIRST_PART_BYTES and not self.headers_done):
            return True
        return self.name is not None and self.name != CSRF_FIELD.encode()


async def _first_multipart_field(
    receive: Receive, boundary: bytes
) -> tuple[str | None, list[bytes], bool]:
    """Stream-parse a multipart body up to the end of its first part.

    Returns the part's value if it is the field ``csrf_token`` (else None), the chunks read
    and whether they are the whole body.
    """
    part = _FirstPart()
    parser = MultipartParser(boundary, callbacks=part.callbacks())
    chunks: list[bytes] = []
    finished = False
    size = 0
    while not part.part_done:
        message = await receive()
        if message["type"] != "http.request":
            return None, chunks, False
        body = message.get("body", b"")
        chunks.append(body)
        size += len(body)
        finished = not message.get("more_body", False)
        try:
            parser.write(body)
        except Exception:
            return None, chunks, finished
        if part.hopeless(size):
            return None, chunks, finished
        if finished:
            break
    if not part.part_done or part.name != CSRF_FIELD.encode():
        return None, chunks, finished
    return part.value.decode("utf-8", "replace"), chunks, finished


def _replay(chunks: list[bytes], receive: Receive, *, finished: bool) -> Receive:
    """A ``receive`` that first gives back what was read, then the rest of the stream."""
    pending = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": pending, "more_body": not finished}
        return await receive()

    return replay
