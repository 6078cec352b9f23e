"""CSRF protection: a synchronizer token derived from the session (or a pre-login seed).

The token is an HMAC of the session token (or, before login, of a random seed kept in the
``irbis_csrf`` cookie) under the secret key: pages put it in a hidden ``csrf_token`` field or
in a ``<meta name="csrf-token">`` for scripts, which send it as ``X-CSRF-Token``. The
middleware checks it on every unsafe request that carries an Irbis cookie.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def token_for(key: bytes, seed: str) -> str:
    return hmac.new(key, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def matches(key: bytes, seed: str | None, candidate: str | None) -> bool:
    if not seed or not candidate:
        return False
    return hmac.compare_digest(token_for(key, seed), candidate.strip())


def csrf_token(request: Request) -> str:
    """The CSRF token to embed in a page served for ``request``."""
    state = request.scope.get("state", {})
    seed, key = state.get("csrf_seed"), state.get("csrf_key")
    if not seed or not key:
        return ""
    state["csrf_seed_used"] = True
    return token_for(key, seed)


def csrf_checked(request: Request) -> bool:
    """True when the middleware found a valid CSRF token on this (unsafe) request."""
    return bool(request.scope.get("state", {}).get("csrf_ok"))
