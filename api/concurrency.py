"""Per-client limits on requests that may cost the database much (filtered reads).

A client is a logged-in account, or else an address (``request.client.host``; behind a
reverse proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` so that it
is the caller's). The counts live in this process: with several workers, each allows
``settings.features.max_filtered_per_client`` on its own.
"""

from __future__ import annotations

import threading
from collections import Counter

from fastapi import Request
from starlette.exceptions import HTTPException

from api.auth.principal import get_principal
from geo.messages import en


class ClientSlots:
    """At most ``limit`` requests at once per client key (0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        """Take a slot for ``key``; False when its ``limit`` are all taken."""
        with self._lock:
            if self.limit and self._busy[key] >= self.limit:
                return False
            self._busy[key] += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._busy[key] -= 1
            if self._busy[key] <= 0:
                del self._busy[key]

    def busy(self, key: str) -> int:
        with self._lock:
            return self._busy[key]


_create_lock = threading.Lock()


def filter_slots(request: Request) -> ClientSlots:
    """The app's slots for filtered requests (``settings.features.max_filtered_per_client``)."""
    state = request.app.state
    slots = getattr(state, "filter_slots", None)
    if slots is None:
        with _create_lock:
            slots = getattr(state, "filter_slots", None)
            if slots is None:
                limit = state.settings.features.max_filtered_per_client
                slots = state.filter_slots = ClientSlots(limit)
    return slots


def client_key(request: Request) -> str:
    """Who is asking, for per-client limits: the account, or else the address."""
    principal = get_principal(request)
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    return f"addr:{request.client.host if request.client else 'unknown'}"


def too_many(limit: int, retry_after: int) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail=en(
            "at most {limit} filtered requests may run at once for one client; "
            "wait for the others to finish, then try again",
            limit=limit,
        ),
        headers={"Retry-After": str(retry_after)},
    )
