"""HEAD answered like GET, without a body (RFC 9110, section 9.3.2).

FastAPI's routes are registered for GET only (Starlette's own routes and mounts add HEAD; a
FastAPI route answers HEAD with 405), so a client that checks a tile, a download or a page with
HEAD (link checkers, caches, ``curl -I``) is refused. Two pure ASGI middlewares fix that
without adding HEAD to every route (which would also list a HEAD operation for each in the
OpenAPI document):

- :class:`HeadAsGet`, innermost, hands the router a copy of the request's scope with ``GET``
  as its method, so the GET route answers; the middlewares outside it see ``HEAD`` (the
  heavy-request bounds count HEAD as GET, :func:`api.heavy.is_heavy`);
- :class:`HeadWithoutBody`, outermost, sends the response's start (status and headers, as
  GET's, ``Content-Length`` included) and no body bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HeadAsGet:
    """Routes a HEAD request as a GET (innermost: the middlewares outside see HEAD)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            # a copy: the server and the middlewares outside keep the request's own method
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)


class HeadWithoutBody:
    """Sends no body bytes in answer to HEAD (outermost: the headers are GET's, complete)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_head(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # nothing to send until the last part
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app(scope, receive, send_head)
