"""Serving the app with uvicorn, with bounds on slow and greedy clients.

uvicorn bounds the size of a request's headers (h11's ``max_incomplete_event_size``), idle
keep-alive connections (``timeout_keep_alive``) and connections at once
(``limit_concurrency``), but not the time a client takes to send its headers: a client that
sends one header byte every few seconds holds its connection for ever. :class:`IrbisH11Protocol`
adds that bound (``IRBIS_SERVER_HEADER_TIMEOUT``): from the moment a connection opens, or a
response ends, the next request's headers must be complete within the timeout, or the
connection is closed. The body is bounded by :class:`api.bodylimits.BodyLimitMiddleware`
(size per route, and ``IRBIS_SERVER_BODY_TIMEOUT`` per chunk).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.settings import ServerSettings

_DEFAULT_HEADER_TIMEOUT: float | None = None


def _default_header_timeout() -> float:
    global _DEFAULT_HEADER_TIMEOUT
    if _DEFAULT_HEADER_TIMEOUT is None:
        _DEFAULT_HEADER_TIMEOUT = ServerSettings().header_timeout
    return _DEFAULT_HEADER_TIMEOUT


class IrbisH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers arrive too slowly.

    The timeout is the config's ``irbis_header_timeout`` attribute (see :func:`config`), else
    ``IRBIS_SERVER_HEADER_TIMEOUT`` from the environment (worker processes).
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        timeout = getattr(config, "irbis_header_timeout", None)
        self.header_timeout = float(timeout) if timeout else _default_header_timeout()
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:
            # no request in progress: the client is still sending (or not sending) headers
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:
            self._disarm_header_timer()  # a request's headers are complete

    def on_response_complete(self) -> None:
        before = self.cycle
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is before:
            self._arm_header_timer()  # waiting for the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


def config(app: Any, settings: ServerSettings, **kwargs: Any) -> uvicorn.Config:
    """A uvicorn config for ``app`` with Irbis's bounds on clients (``settings``)."""
    cfg = uvicorn.Config(
        app,
        http=IrbisH11Protocol,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.limit_concurrency,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        **kwargs,
    )
    cfg.irbis_header_timeout = settings.header_timeout  # type: ignore[attr-defined]
    return cfg
