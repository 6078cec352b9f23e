"""Repeated refusals cost the client that earns them: each is answered later than the last.

A refusal is a 401, 403, 413 or 429 answer (or the login page redirect that an anonymous form
post gets instead of a 401) to a write (POST, PUT, PATCH, DELETE) or to a heavy request
(:func:`api.heavy.is_heavy`), or the 401 of any other read that carries an ``Authorization``
header (a token that is unknown, revoked or malformed: each costs a lookup of the accounts).
Such answers are cheap, and most are sent before the request's body is read
(:mod:`api.early_refusals` answers those its headers decide before the rest of the stack);
but a client that sends again as soon as it is refused, on many connections, would have the
server answer it as fast as it can ask, taking the interpreter from everyone else (the tiles
included).

:class:`RefusalHoldMiddleware` (pure ASGI, outside every middleware that refuses, inside the
trusted proxy's address rewriting) counts each client's refusals in the rate-limit store
(:meth:`api.ratelimit.RateLimits.refusal_hold`): the first ``IRBIS_RATELIMIT_REFUSALS_FREE``
in ``IRBIS_RATELIMIT_REFUSAL_WINDOW_SECONDS`` are answered at once, each further one no
sooner than a hold after its request came, starting at ``IRBIS_RATELIMIT_REFUSAL_HOLD_SECONDS``
and doubling up to ``IRBIS_RATELIMIT_REFUSAL_HOLD_MAX_SECONDS`` (a 429 of a heavy request that
:mod:`api.heavy` already held for as long is not held again). Waiting costs a sleeping
coroutine; the body is not read meanwhile, and the held answer closes the connection, so what
the client still sends is dropped. At most ``IRBIS_RATELIMIT_REFUSAL_WAITING_MAX`` refusals
of one client wait at once; beyond, they are answered at once and their connection closed.

A client is a logged-in account, or else the client address (body size refusals come before
the login is known: they count for the address). Requests that are served are never held,
nor are reads that are not heavy and carry no token: an honest client, and the tiles of
everyone, do not wait. The counts live in the rate-limit store (shared by the workers with
``redis://``; with ``memory://`` in a table of the process, :class:`api.ratelimit.WindowCounts`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from anyio import to_thread
from starlette.datastructures import MutableHeaders

from api.bodylimits import SAFE_METHODS
from api.heavy import is_heavy
from api.ratelimit import RateLimits, client_address, ratelimits_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The statuses that refuse a request for who sends it, how much or how often.
REFUSED = frozenset({401, 403, 413, 429})
#: The status that refuses a read for its token (unknown, revoked or malformed).
TOKEN_REFUSED = frozenset({401})
#: Set on the request's state by a middleware that refuses with another status (the
#: authentication middleware's redirect of an anonymous form post to the login page).
REFUSED_FLAG = "refused"


def client_of(scope: Scope) -> str:
    """The refusal counter's key: the account when one is known, else the address."""
    principal = scope.get("state", {}).get("principal")
    user_id = getattr(principal, "user_id", None)
    return f"user:{user_id}" if user_id is not None else f"addr:{client_address(scope)}"


class RefusalHoldMiddleware:
    """Pure ASGI: refusals of writes and heavy requests answered after a growing hold."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = REFUSED
        if scope["method"] in SAFE_METHODS and not is_heavy(
            scope["method"], scope["path"], scope.get("query_string", b"")
        ):
            if not any(name == b"authorization" for name, _ in scope["headers"]):
                await self.app(scope, receive, send)
                return
            refused = TOKEN_REFUSED  # a read with a token: only a token refused is counted
        limits = ratelimits_for(scope["app"])
        if not limits.enabled:
            await self.app(scope, receive, send)
            return
        came = time.monotonic()
        state = scope.setdefault("state", {})

        async def holding_send(message: Message) -> None:
            if message["type"] == "http.response.start" and (
                message["status"] in refused or state.get(REFUSED_FLAG)
            ):
                message = await _hold(limits, client_of(scope), came, message)
            await send(message)

        await self.app(scope, receive, holding_send)


async def _hold(limits: RateLimits, key: str, came: float, start: Message) -> Message:
    """Count the refusal; wait until its hold has passed since ``came``; the response start
    to send (closing the connection when held, or when too many of the client's wait)."""
    if limits.local:
        hold = limits.refusal_hold(key)
    else:
        hold = await to_thread.run_sync(limits.refusal_hold, key)
    left = came + hold - time.monotonic()
    if left <= 0:
        return start
    if limits.refusals_waiting.acquire(key):
        try:
            await anyio.sleep(left)
        finally:
            limits.refusals_waiting.release(key)
    closing = dict(start)
    closing["headers"] = list(start.get("headers", []))
    MutableHeaders(scope=closing)["connection"] = "close"
    return closing
