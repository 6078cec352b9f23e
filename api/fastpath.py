"""Cached public tiles answered in front of the middleware stack.

A map asks for the same public tiles over and over, from anyone. Once a tile is in the tile
cache (:func:`api.ogc.tile_cache`) and the data versions are known in memory
(:meth:`api.versions.DataVersions.fresh`), answering it needs none of what the full stack does
per request (a profile of a cached tile under ``wrk -t2 -c16``: routing, dependency
injection and the middlewares took about half the time of a request; see
``docs/benchmarks.md``). :class:`CachedTileMiddleware` (pure ASGI, outermost) answers such a
request itself, with the response the full stack would send: the same bytes (gzipped the
same way, :func:`api.ogc.tile_body`), the same ``ETag``, ``Cache-Control`` and ``Vary``
(:func:`api.ogc.tile_headers`), the same 304, and the same security headers
(:data:`api.security_headers.HEADERS` and the base Content-Security-Policy).
``tests/scaling/test_cached_tiles.py`` compares the two answers header by header, so a header
the stack adds and this module does not fails it.

It answers only what is the same for everyone and asks nothing of the stack it skips:

- ``GET /collections/{id}/tiles/{tms}/{z}/{row}/{col}`` with no query or only ``?v=``;
- no ``Authorization`` header and no session cookie (a login may see more: analysts get
  precise sensitive locations; a bad token must get its 401), so the principal is anonymous
  and the tile is the public one (its cache key says so);
- no request body (the body limits refuse one), a ``Host`` the app accepts (else the full
  stack's 400);
- versions fresh in memory (after a write in this process, or while the change listener is
  away, the full stack reads them again), and the tile in the cache;
- no ``?v=`` or one this process knows: the current version's, or one found out of date
  before (a token it has never seen may come from a process that has answered a write this
  one has not heard of yet: the stack reads the versions first, :func:`api.ogc.version_asked`).

Everything else goes through the full stack, which fills the cache for the next request.

:class:`StaticFilesMiddleware` does the same for the files under ``/static`` and ``/vendor``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.staticfiles import StaticFiles

from api import ogc
from api.auth.middleware import SESSION_COOKIE
from api.security_headers import HEADERS, policy
from geo.errors import NotFound
from layers.registry import get_layer
from layers.tiles import MVT_MEDIA_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TILE_PATH = re.compile(
    r"/collections/([^/]+)/tiles/([^/]+)/([0-9]{1,2})/([0-9]{1,9})/([0-9]{1,9})"
)
_QUERY = re.compile(rb"(?:v=([0-9A-Za-z_-]{1,64}))?")
_SESSION = SESSION_COOKIE.encode()
#: The headers :class:`api.security_headers.SecurityHeadersMiddleware` adds to a tile.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *((name.lower().encode(), value.encode()) for name, value in HEADERS.items()),
    (b"content-security-policy", policy().encode()),
)


def _host_allowed(state: Any, host: bytes | None) -> bool:
    """Whether the full stack would accept ``host`` (exact names only; else it decides)."""
    api = state.settings.api
    if api.public_url:
        return True
    if host is None or host.startswith(b"["):
        return False
    name, _, port = host.decode("latin-1").lower().partition(":")
    if port and not port.isdigit():
        return False
    return name in api.allowed_hosts or "*" in api.allowed_hosts


class CachedTileMiddleware:
    """Answers anonymous requests for cached public tiles (see the module's docstring).

    ``served`` counts the requests it answered (the rest went through the full stack)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state
        self.served = 0
        state.cached_tiles = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):  # HEAD: no body sent
            answer = self._answer(scope)
            if answer is not None:
                self.served += 1
                start, body = answer
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[Message, bytes] | None:
        """The response to send, or None to let the full stack answer."""
        path = _TILE_PATH.fullmatch(scope["path"])
        query = _QUERY.fullmatch(scope.get("query_string", b""))
        if path is None or query is None:
            return None
        read = _anonymous_headers(scope)
        if read is None:
            return None
        host, if_none_match, accept_encoding = read
        state = self.state
        known = getattr(state, "versions", None)
        cache = getattr(state, "tile_cache", None)
        if known is None or cache is None or not known.fresh() or not _host_allowed(state, host):
            return None
        collection, tms_id, z, row, col = path.groups()
        try:
            spec = get_layer(collection)
        except NotFound:
            return None
        version = known.of(spec.tables)
        asked = query.group(1).decode("ascii") if query.group(1) is not None else None
        if ogc.catching_up(state, asked, version):  # the stack reads the versions first
            return None
        # the key of the public tile, as api.routers.ogc_tiles.tile makes it (private=False)
        etag = ogc.make_etag("mvt", spec.id, version, False, tms_id, int(z), int(col), int(row))
        data = cache.get(etag)
        if data is None:
            return None
        headers = ogc.tile_headers(etag, version, asked, private=False)
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if ogc.etag_matches(if_none_match, etag):
            start = {"type": "http.response.start", "status": 304, "headers": raw}
            raw.extend(SECURITY_HEADERS)
            return start, b""
        body, packed = ogc.tile_body(cache, etag, data, accept_encoding.decode("latin-1"))
        if packed:
            raw.append((b"content-encoding", b"gzip"))
        raw.append((b"content-length", str(len(body)).encode()))
        raw.append((b"content-type", MVT_MEDIA_TYPE.encode()))
        raw.extend(SECURITY_HEADERS)
        return {"type": "http.response.start", "status": 200, "headers": raw}, body


#: Headers after which a request is not answered here (the stack decides).
_NOT_ANONYMOUS = (b"authorization", b"transfer-encoding")


def _anonymous_headers(scope: Scope) -> tuple[bytes | None, str | None, bytes] | None:
    """``Host``, ``If-None-Match`` and ``Accept-Encoding`` of a request with no credentials
    and no body, or None for any other request."""
    host = if_none_match = None
    accept_encoding = b""
    for name, value in scope["headers"]:
        if name in _NOT_ANONYMOUS:
            return None
        if name == b"cookie" and _SESSION in value:
            return None
        if name == b"content-length" and value.strip() not in (b"", b"0"):
            return None
        if name == b"host":
            host = value
        elif name == b"if-none-match" and if_none_match is None:
            if_none_match = value.decode("latin-1")
        elif name == b"accept-encoding" and not accept_encoding:
            accept_encoding = value
    return host, if_none_match, accept_encoding


class StaticFilesMiddleware:
    """Answers anonymous GET and HEAD requests for files under ``/static`` and ``/vendor``.

    A page loads a dozen scripts, stylesheets, images and fonts; each went through every
    middleware (session, locale, limits, refusals) although none changes a file's answer to
    an anonymous caller. Here such a request is answered by the very apps the stack mounts,
    wrapped in the same gzip and security-header middlewares with the same options
    (``wrap``, see :func:`api.app.create_app`), so the answer is the stack's, header by header
    (``tests/scaling/test_static_fast_path.py`` compares them). Only a request with no query
    (``?lang=`` sets a cookie), no ``Authorization`` header, no session cookie, no body, an
    accepted ``Host``, and a path that names a regular file the mount serves comes here; a
    missing file, a refused one and everything else go through the full stack.

    ``served`` counts the requests it answered."""

    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        mounts: Mapping[str, tuple[StaticFiles, Callable[[str], bool]]],
        wrap: Callable[[ASGIApp], ASGIApp],
    ) -> None:
        self.app = app
        self.state = state
        self.served = 0
        self._mounts = {
            prefix: (files, serves, wrap(files)) for prefix, (files, serves) in mounts.items()
        }
        state.static_files = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            answer = self._answer(scope)
            if answer is not None:
                self.served += 1
                stack, child = answer
                await stack(child, receive, send)
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[ASGIApp, Scope] | None:
        """The app to answer with and its scope (as the mount would make it), or None."""
        if scope.get("query_string"):
            return None
        path = scope["path"]
        prefix, _, rest = path[1:].partition("/")
        mount = self._mounts.get("/" + prefix)
        if mount is None or not rest:
            return None
        read = _anonymous_headers(scope)
        if read is None or not _host_allowed(self.state, read[0]):
            return None
        files, serves, stack = mount
        root = scope.get("root_path", "")
        child = {
            **scope,
            "app_root_path": scope.get("app_root_path", root),
            "root_path": root + "/" + prefix,
            # the stack routes HEAD as GET (api.head): the same gzip decision, the same headers
            "method": "GET",
        }
        relative = files.get_path(child)
        if not serves(relative.replace(os.sep, "/")):
            return None
        _, found = files.lookup_path(relative)
        if found is None or not stat.S_ISREG(found.st_mode):
            return None
        return stack, child
