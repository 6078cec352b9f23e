"""Security and caching headers on every response: a pure ASGI middleware.

Without ``IRBIS_API_PUBLIC_URL``, absolute links are made from the request's ``Host``: a
request for a host not in ``IRBIS_API_ALLOWED_HOSTS`` is then refused with 400 (Starlette's
``TrustedHostMiddleware``), so no response links to a host a client made up.

Responses that depend on who is asking (account, login, tokens, uploads, reports, and any
page seen logged in) get ``Cache-Control: no-store`` (:func:`must_not_store`).

Every response gets ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``,
``Permissions-Policy`` and a ``Content-Security-Policy``. Irbis's pages embed folium/Leaflet
maps, whose set-up code is inline ``<script>`` blocks: rather than allowing any inline script,
the middleware reads each HTML page it passes on and lists the SHA-256 of each of its inline
scripts in ``script-src`` (one policy per response). Only styles keep ``'unsafe-inline'``:
folium writes ``<style>`` blocks and ``style`` attributes, and Leaflet positions everything
with inline styles. Scripts come from Irbis itself (``/static``, ``/vendor``) or are hashed;
no ``eval``, no inline event handlers, no other origin.

The policy (the hashes aside) is :data:`BASE_POLICY`; a page needing more (none does) would
have to say so here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The Content-Security-Policy of every response; ``script-src`` gets the hashes of the
#: inline scripts of an HTML page.
BASE_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    # the report form may ask where the reporter stands; nothing else needs a device API
    "Permissions-Policy": (
        "geolocation=(self), camera=(), microphone=(), payment=(), usb=(), interest-cohort=()"
    ),
}

#: Pages and API paths about the caller themselves: never stored by any cache.
USER_PATHS = ("/login", "/logout", "/account", "/api/account", "/sites/upload", "/reports")
NO_STORE = "no-store"

_INLINE_SCRIPT = re.compile(
    rb"<script(?![^>]*\ssrc\s*=)(?:\s[^>]*)?>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)
#: HTML bodies larger than this are passed on unread, with no inline script allowed.
MAX_HTML_BYTES = 16 * 1024 * 1024


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions for the inline scripts of ``html``, in order, without repeats."""
    out: list[str] = []
    for m in _INLINE_SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode("ascii")
        expr = f"'sha256-{digest}'"
        if expr not in out:
            out.append(expr)
    return out


def _user_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in USER_PATHS)


def must_not_store(scope: Scope, headers: MutableHeaders) -> bool:
    """Whether a response depends on who asked: a page about the caller, a response that
    sets a cookie, any page seen logged in (its header names the user), and any other
    response to a logged-in caller that does not say how it may be cached."""
    if _user_path(scope.get("path", "")) or "set-cookie" in headers:
        return True
    principal = scope.get("state", {}).get("principal")
    if principal is None or principal.is_anonymous:
        return False
    html = headers.get("content-type", "").startswith("text/html")
    return html or "cache-control" not in headers


def policy(script_sources: Iterable[str] = ()) -> str:
    """The Content-Security-Policy header value, allowing the given inline scripts."""
    directives = dict(BASE_POLICY)
    extra = " ".join(script_sources)
    if extra:
        directives["script-src"] = f"{directives['script-src']} {extra}"
    return "; ".join(f"{k} {v}" for k, v in directives.items())


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._guarded: tuple[tuple[str, ...], ASGIApp] | None = None

    def _inner(self, scope: Scope) -> ASGIApp:
        """The app, behind Starlette's host check unless a public URL makes links safe."""
        api = scope["app"].state.settings.api
        if api.public_url:
            return self.app
        hosts = tuple(api.allowed_hosts)
        if self._guarded is None or self._guarded[0] != hosts:
            guard = TrustedHostMiddleware(self.app, allowed_hosts=list(hosts), www_redirect=False)
            self._guarded = (hosts, guard)
        return self._guarded[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if must_not_store(scope, headers):
                    headers["Cache-Control"] = NO_STORE
                html = headers.get("content-type", "").startswith("text/html")
                identity = headers.get("content-encoding", "identity") == "identity"
                if not (html and identity):
                    headers.setdefault("Content-Security-Policy", policy())
                    await send(message)
                    return
                start = message  # held until the body is read and its scripts hashed
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if more and size <= MAX_HTML_BYTES:
                return
            body = b"".join(chunks)
            headers = MutableHeaders(scope=start)
            hashes = script_hashes(body) if size <= MAX_HTML_BYTES else []
            headers["Content-Security-Policy"] = policy(hashes)
            await send(start)
            start = None
            chunks.clear()
            await send({"type": "http.response.body", "body": body, "more_body": more})

        await self._inner(scope)(scope, receive, send_wrapper)
