"""Heavy requests: at most a few at once and so many a minute per client, refused up front.

A heavy request is one that may cost the database or the interpreter much whoever sends it:
a read of items with a CQL2 ``filter`` or a ``bbox``, a collection download, an analysis (run,
or its features, table and raster), a dossier or grant report PDF, the portfolio export
(:data:`HEAVY_ROUTES`). :class:`HeavyRequestMiddleware` (pure ASGI, inside the authentication
middleware, which tells who is asking) bounds them per client, before routing, parsing or a
database connection:

- at most ``IRBIS_HEAVY_CONCURRENT`` (2) running at once per client; beyond, 429;
- at most ``IRBIS_HEAVY_ANONYMOUS_FILTERS`` (1) reads with a CQL2 ``filter`` running at once
  per client that is not logged in; beyond, 429. Parsing and translating a filter is pure
  Python and holds the interpreter, so what one address may keep it busy with is bounded
  before the filter is even read;
- at most ``IRBIS_HEAVY_ANONYMOUS_FILTERS_TOTAL`` (4) reads with a CQL2 ``filter`` by clients
  that are not logged in running at once in the process, whatever their addresses (an
  attacker with many addresses runs no more than that); beyond, 503 (the server is busy:
  the client is not at fault) with ``Retry-After``, suggesting to log in;
- at most ``IRBIS_HEAVY_RATE`` (``limits`` notation) started per client; beyond, 429;
- of those, at most ``IRBIS_HEAVY_ANONYMOUS_FILTER_RATE`` (30 a minute) reads with a CQL2
  ``filter`` started per client that is not logged in; beyond, 429. The time they hold the
  interpreter is what the tiles of everyone else wait for.

A client is a logged-in account, or else the client address (the connection's, or, from a
trusted reverse proxy, the one its ``X-Forwarded-For`` names: ``IRBIS_SERVER_TRUSTED_PROXIES``).
Accounts with one of ``IRBIS_HEAVY_EXEMPT_ROLES`` (analysts, administrators) are not bounded.
Each 429 carries ``Retry-After`` and a JSON body saying what to do, and closes the connection.
It is sent ``min(Retry-After, IRBIS_HEAVY_HOLD_SECONDS)`` after the request came, not at once:
a client that ignores ``Retry-After`` and asks again at once cannot make the server answer it
(and so take the interpreter from everyone else) more often than that; waiting costs a
sleeping coroutine. At most ``IRBIS_HEAVY_HOLD_MAX`` refusals per client wait at once, the
rest are answered at once (then :mod:`api.refusals` may hold them, as any repeated refusal).

Running counts live in the process (each worker counts its own); rates live in the rate-limit
store, shared between processes when it is ``redis://`` or ``memcached://``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import to_thread
from limits import RateLimitItem, parse_many

from api.bodylimits import reply
from api.concurrency import ClientSlots
from api.querystring import given
from api.ratelimit import client_address, ratelimits_for
from api.settings import Settings
from geo import messages
from geo.messages import en

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The key of every anonymous filtered read of the process (``anonymous_filters_total``).
ANONYMOUS_FILTERS = "anonymous filters"
#: Query parameters that make a read of items heavy.
ITEM_BOUNDS = frozenset({"filter", "bbox"})
_FILTER = frozenset({"filter"})


@dataclass(frozen=True)
class HeavyRoute:
    """``method path`` is heavy; with ``params``, only when one of them is given."""

    method: str
    pattern: str
    params: frozenset[str] = frozenset()


#: Every heavy route (a new costly public route belongs here).
HEAVY_ROUTES: tuple[HeavyRoute, ...] = (
    HeavyRoute("GET", r"/collections/[^/]+/items", ITEM_BOUNDS),
    HeavyRoute("GET", r"/collections/[^/]+/download"),
    HeavyRoute("POST", r"/analyses"),
    HeavyRoute("GET", r"/analyses/[^/]+/(?:features|table\.csv|raster\.tif)"),
    HeavyRoute("POST", r"/prioritisation/(?:grids|scenarios)"),
    HeavyRoute("GET", r"/threats/[^/]+/dossier\.pdf"),
    HeavyRoute("GET", r"/grants/[^/]+/report\.pdf"),
    HeavyRoute("GET", r"/api/portfolio\.[^/]+"),
)

_COMPILED = tuple((r, re.compile(r.pattern)) for r in HEAVY_ROUTES)


def has_filter(query_string: bytes) -> bool:
    """Whether the query string carries a non-empty ``filter``."""
    return given(query_string, _FILTER)


def is_heavy(method: str, path: str, query_string: bytes) -> bool:
    """Whether the request ``method path?query_string`` is heavy."""
    if method == "HEAD":
        method = "GET"
    for route, pattern in _COMPILED:
        if route.method != method or not pattern.fullmatch(path):
            continue
        if not route.params:
            return True
        return given(query_string, route.params)
    return False


def filters_message(limit: int) -> messages.Message:
    """What a client that is not logged in, refused a read with a filter, is told (an address
    may be shared by many people, an account is not: it may log in)."""
    if limit == 1:
        return en(
            "at most 1 read with a filter may run at once for a client that is not logged in: "
            "wait for yours to finish, then try again (or log in: an account has an allowance "
            "of its own)"
        )
    return en(
        "at most {limit} reads with a filter may run at once for a client that is not logged "
        "in: wait for yours to finish, then try again (or log in: an account has an allowance "
        "of its own)",
        limit=limit,
    )


def filter_rate_message(wait: int) -> messages.Message:
    """What a client that is not logged in, refused for too many reads with a filter in a
    short time, is told."""
    return en(
        "too many reads with a filter in a short time for a client that is not logged in: "
        "wait {wait} seconds and try again (or log in: an account has an allowance of its own)",
        wait=wait,
    )


def rate_message(wait: int, anonymous: bool) -> messages.Message:
    """What a client refused for too many heavy requests in a short time is told (one that is
    not logged in: that it may log in)."""
    if anonymous:
        return en(
            "too many heavy requests (filtered or bbox reads, downloads, analyses, PDFs) in a "
            "short time: wait {wait} seconds and try again (or log in: an account has an "
            "allowance of its own)",
            wait=wait,
        )
    return en(
        "too many heavy requests (filtered or bbox reads, downloads, analyses, PDFs) in a "
        "short time: wait {wait} seconds and try again",
        wait=wait,
    )


class HeavyLimits:
    """The bounds of one application, from its settings."""

    def __init__(self, settings: Settings) -> None:
        s = settings.heavy
        self.enabled = s.enabled
        self.concurrent = s.concurrent
        self.slots = ClientSlots(s.concurrent)
        self.anonymous_filters = s.anonymous_filters
        self.filter_slots = ClientSlots(s.anonymous_filters)
        #: One key for every anonymous filtered read of the process.
        self.all_filter_slots = ClientSlots(s.anonymous_filters_total)
        self.rate: list[RateLimitItem] = parse_many(s.rate) if s.rate.strip() else []
        self.filter_rate: list[RateLimitItem] = (
            parse_many(s.anonymous_filter_rate) if s.anonymous_filter_rate.strip() else []
        )
        self.exempt = frozenset(s.exempt_roles)
        self.hold_seconds = s.hold_seconds
        self.held = ClientSlots(s.hold_max)
        #: A running heavy read ends within the anonymous statement timeout, usually.
        self.busy_retry_after = max(1, settings.features.anonymous_statement_timeout_ms // 1000)

    def client(self, scope: Scope) -> str | None:
        """The client key of the request, or None when its caller is not bounded."""
        principal = scope.get("state", {}).get("principal")
        user_id = getattr(principal, "user_id", None)
        if user_id is None:
            return f"addr:{client_address(scope)}"
        roles = {str(r) for r in getattr(principal, "roles", ())}
        return None if roles & self.exempt else f"user:{user_id}"


class HeavyRequestMiddleware:
    """Pure ASGI: per-client concurrency and rate of heavy requests, 429 beyond.

    Runs inside the authentication middleware (it needs the principal) and before routing;
    it reads no body.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limits = HeavyLimits(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.limits.enabled
            or not is_heavy(scope["method"], scope["path"], scope.get("query_string", b""))
        ):
            await self.app(scope, receive, send)
            return
        limits = self.limits
        key = limits.client(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not limits.slots.acquire(key):
            await self._refuse(
                scope,
                send,
                key,
                en(
                    "at most {limit} heavy requests (filtered or bbox reads, downloads, "
                    "analyses, PDFs) may run at once for one client: wait for yours to finish, "
                    "then try again",
                    limit=limits.concurrent,
                ),
                limits.busy_retry_after,
            )
            return
        filtered = (
            limits.anonymous_filters > 0
            and key.startswith("addr:")
            and has_filter(scope.get("query_string", b""))
        )
        if filtered and not limits.filter_slots.acquire(key):
            limits.slots.release(key)
            await self._refuse(
                scope, send, key, filters_message(limits.anonymous_filters), limits.busy_retry_after
            )
            return
        if filtered and not limits.all_filter_slots.acquire(ANONYMOUS_FILTERS):
            limits.slots.release(key)
            limits.filter_slots.release(key)
            await self._refuse(
                scope,
                send,
                key,
                en(
                    "the server is busy with other filtered reads from visitors who are not "
                    "logged in: try again in a moment (or log in: an account has an allowance "
                    "of its own)"
                ),
                limits.busy_retry_after,
                status=503,
            )
            return
        try:
            wait = await self._rate_wait(scope, limits.rate, "heavy", key)
            message = rate_message(wait, key.startswith("addr:"))
            if not wait and filtered:
                wait = await self._rate_wait(scope, limits.filter_rate, "anonymous-filter", key)
                message = filter_rate_message(wait)
            if not wait:
                await self.app(scope, receive, send)
                return
        finally:
            limits.slots.release(key)
            if filtered:
                limits.filter_slots.release(key)
                limits.all_filter_slots.release(ANONYMOUS_FILTERS)
        await self._refuse(scope, send, key, message, wait)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        key: str,
        description: messages.Message,
        wait: int,
        *,
        status: int = 429,
    ) -> None:
        """429 (or ``status``) with ``Retry-After: wait``, sent after ``min(wait,
        hold_seconds)`` unless the client already has ``hold_max`` refusals waiting (then at
        once)."""
        limits = self.limits
        hold = min(float(wait), limits.hold_seconds)
        if hold > 0 and limits.held.acquire(key):
            try:
                await anyio.sleep(hold)
            finally:
                limits.held.release(key)
        code = "too_many_requests" if status == 429 else "busy"
        await reply(scope, send, status, code, description, close=True, retry_after=str(wait))

    @staticmethod
    async def _rate_wait(scope: Scope, rate: list[RateLimitItem], name: str, key: str) -> int:
        if not rate:
            return 0
        store = ratelimits_for(scope["app"])
        if store.local:
            return store.hit(rate, name, key)
        return await to_thread.run_sync(store.hit, rate, name, key)
