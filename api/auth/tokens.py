"""Random tokens (API tokens, session tokens) and HMAC signatures of cookie values."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "irb_"


def new_token(prefix: str = "") -> str:
    """A new random token (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The sha256 of a token, as stored in the database."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign(key: bytes, value: str, *, purpose: str) -> str:
    """``value.signature``: an HMAC-SHA256 of ``value`` for one ``purpose``."""
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign(key: bytes, signed: str | None, *, purpose: str) -> str | None:
    """The value of a signed string, or None if the signature does not match."""
    if not signed or "." not in signed:
        return None
    value, _, mac = signed.rpartition(".")
    expected = sign(key, value, purpose=purpose).rpartition(".")[2]
    return value if hmac.compare_digest(mac, expected) else None
