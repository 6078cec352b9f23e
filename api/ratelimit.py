"""Rate limits and login back-off, on the ``limits`` library.

Counters live in the storage named by ``IRBIS_RATELIMIT_STORAGE_URI``: ``memory://`` keeps them
in the process (enough for one worker); several workers or hosts share them through a common
store such as ``redis://host:6379`` or ``memcached://host:11211`` (the store's client library
must be installed; see the ``limits`` documentation).

- :class:`RateLimitMiddleware` limits writes (any POST, PUT, PATCH or DELETE) per account, or
  per client address for anonymous callers, and API token creation per account; beyond the
  limit it answers 429 with ``Retry-After`` before the body is read.
- :class:`RateLimits.login_wait` / ``login_failed`` / ``login_succeeded`` throttle password
  guessing: each (account, client address) pair, and each address over all accounts, may fail
  a few times freely, then every further failure doubles a wait (up to a maximum). Nothing is
  ever locked for everyone: the right password from an address that is not waiting logs in,
  however hard others hammer the account. Unknown and known accounts are throttled alike.
- :meth:`RateLimits.refusal_hold` counts a client's refused writes and heavy requests and
  says how long the next refusal waits (:mod:`api.refusals`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from api.bodylimits import SAFE_METHODS, reply
from api.concurrency import ClientSlots
from api.settings import RateLimitSettings
from geo import messages
from geo.messages import en

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_PATHS = frozenset({"/api/account/tokens", "/account/tokens"})


def client_address(scope: Scope) -> str:
    """The client's address (uvicorn puts a trusted proxy's X-Forwarded-For there)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class WindowCounts:
    """Counts per key in a window from the key's first count, in this process.

    What ``MemoryStorage.incr`` does for the refusal counters, at a fraction of the cost: the
    ``limits`` memory store starts a timer thread for every count that comes after its last
    timer has run (10 ms), and that thread sweeps every key; a client refused a few times a
    second paid about 0.6 ms of CPU for each refusal. Expired keys are dropped when the table
    has doubled since the last sweep.
    """

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = 1024

    def incr(self, key: str, window: float) -> int:
        """Count one for ``key``; its count in the current window."""
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + window
            count += 1
            self._counts[key] = (count, ends)
            if len(self._counts) > self._sweep_at:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
                self._sweep_at = max(1024, 2 * len(self._counts))
        return count

    def __len__(self) -> int:
        return len(self._counts)


class RateLimits:
    """The limits of one application (one per app, on ``app.state.ratelimits``)."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self.enabled = settings.enabled
        storage = storage_from_string(settings.storage_uri)
        if not isinstance(storage, Storage):
            raise ValueError(
                "IRBIS_RATELIMIT_STORAGE_URI names an asynchronous storage; use the "
                "synchronous form (memory://, redis://, memcached://)"
            )
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.login = parse_many(settings.login)
        self.tokens = parse_many(settings.tokens)
        self.writes = parse_many(settings.writes)
        #: Memory storage answers at once; a network store is asked from a worker thread.
        self.local = isinstance(self.storage, MemoryStorage)
        #: Held refusals waiting now, per client (``refusal_waiting_max`` each).
        self.refusals_waiting = ClientSlots(settings.refusal_waiting_max)
        #: Refusals per client when counted in this process (``memory://``).
        self.refusals = WindowCounts()

    # ---- request rates -----------------------------------------------------------------

    def hit(self, items: list[RateLimitItem], group: str, key: str) -> int:
        """Count one request of ``key`` in ``group``: 0 when allowed, else seconds to wait."""
        if not self.enabled:
            return 0
        for item in items:
            if not self.limiter.hit(item, group, key):
                stats = self.limiter.get_window_stats(item, group, key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return 0

    # ---- login back-off -----------------------------------------------------------------

    def _wait(self, key: str) -> int:
        if self.storage.get(key) <= 0:
            return 0
        return max(1, math.ceil(self.storage.get_expiry(key) - time.time()))

    def login_wait(self, account: str, client: str) -> int:
        """Seconds ``client`` must wait before trying ``account`` again (0: go ahead)."""
        if not self.enabled:
            return 0
        return max(
            self._wait(f"irbis/login-wait/{account}/{client}"),
            self._wait(f"irbis/login-wait-client/{client}"),
        )

    def _fail(self, counter: str, wait: str, free: int) -> None:
        s = self.settings
        failures = self.storage.incr(counter, s.login_failure_window_seconds)
        if failures <= free:
            return
        delay = min(
            s.login_backoff_seconds * 2 ** (failures - free - 1), s.login_backoff_max_seconds
        )
        self.storage.clear(wait)
        self.storage.incr(wait, delay)

    def login_failed(self, account: str, client: str) -> None:
        if not self.enabled:
            return
        s = self.settings
        self._fail(
            f"irbis/login-failures/{account}/{client}",
            f"irbis/login-wait/{account}/{client}",
            s.login_free_failures,
        )
        self._fail(
            f"irbis/login-failures-client/{client}",
            f"irbis/login-wait-client/{client}",
            s.client_free_failures,
        )

    # ---- refusals (api.refusals) ----------------------------------------------------------

    def refusal_hold(self, key: str) -> float:
        """Count one refusal of ``key``: seconds its answer waits after its request came (0:
        none), doubling with each refusal beyond the free ones in the window."""
        if not self.enabled:
            return 0.0
        s = self.settings
        if self.local:
            refused = self.refusals.incr(key, s.refusal_window_seconds)
        else:
            refused = self.storage.incr(f"irbis/refusals/{key}", s.refusal_window_seconds)
        beyond = refused - s.refusals_free
        if beyond <= 0:
            return 0.0
        return min(s.refusal_hold_seconds * 2 ** min(beyond - 1, 16), s.refusal_hold_max_seconds)

    def login_succeeded(self, account: str, client: str) -> None:
        """A success forgets the pair's failures (not the address's over other accounts)."""
        if not self.enabled:
            return
        self.storage.clear(f"irbis/login-failures/{account}/{client}")
        self.storage.clear(f"irbis/login-wait/{account}/{client}")


def ratelimits_for(app: Any) -> RateLimits:
    """The application's :class:`RateLimits`, made on first use."""
    limits = getattr(app.state, "ratelimits", None)
    if limits is None:
        limits = app.state.ratelimits = RateLimits(app.state.settings.ratelimit)
    return limits


def too_many_message(group: str, wait: int) -> messages.Message:
    """What a client refused for too many writes (or API tokens created) is told."""
    if group == "tokens":
        return en(
            "too many API tokens created in a short time: wait {wait} seconds and try again",
            wait=wait,
        )
    return en("too many changes sent in a short time: wait {wait} seconds and try again", wait=wait)


class RateLimitMiddleware:
    """Pure ASGI: writes per account (or address) and token creation per account, 429 beyond.

    It runs inside the authentication middleware (it needs the principal) and before any
    route reads the body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        limits = ratelimits_for(scope["app"])
        if not limits.enabled or (scope["method"] == "POST" and scope["path"] == "/login"):
            # login attempts are limited by the login route, which answers with the form
            await self.app(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal")
        user_id = getattr(principal, "user_id", None)
        key = f"user:{user_id}" if user_id is not None else f"addr:{client_address(scope)}"
        checks = [(limits.writes, "writes")]
        if scope["method"] == "POST" and scope["path"].rstrip("/") in TOKEN_PATHS:
            checks.append((limits.tokens, "tokens"))
        for items, group in checks:
            if limits.local:
                wait = limits.hit(items, group, key)
            else:
                wait = await to_thread.run_sync(limits.hit, items, group, key)
            if wait:
                await reply(
                    scope,
                    send,
                    429,
                    "too_many_requests",
                    too_many_message(group, wait),
                    close=True,
                    retry_after=str(wait),
                )
                return
        await self.app(scope, receive, send)
