"""The moment a fresh process has answered its first request.

Work a process does for itself after it starts (the grants warmer's portfolio,
:mod:`api.services.grants_warmer`) would compete for the CPU with the first requests, which
find a cold process already: it waits for :class:`FirstAnswer`'s event (or a few seconds). A
health probe is not a request to wait for: a load balancer asks for ``/health`` before it sends
anything else.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths whose answers are not counted (probes).
PROBES = frozenset({"/health"})


class FirstAnswer:
    """Sets ``event`` once the last part of an answer to an HTTP request (not a probe) is
    sent. Outermost, so that every answer counts, the fast paths' too; past the first answer
    it only checks the event."""

    def __init__(self, app: ASGIApp, *, event: threading.Event) -> None:
        self.app = app
        self.event = event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.event.is_set() or scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.event.set()

        await self.app(scope, receive, sending)
