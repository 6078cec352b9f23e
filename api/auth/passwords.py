"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo.errors import InvalidInput

_HASHER = PasswordHasher()
MIN_LENGTH = 10


@cache
def dummy_hash() -> str:
    """A hash that nobody's password matches, verified when the user does not exist so that
    a login for an unknown name takes as long as one for a known name.

    Made once, when first needed (a hash takes a while: not at import, on a server's start
    path); the app's lifespan makes it in the background as the server starts."""
    return _HASHER.hash("irbis-no-such-user")


def hash_password(password: str) -> str:
    """Hash ``password`` (argon2id, salted); refuse passwords shorter than 10 characters."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the ``stored`` hash (constant-time)."""
    try:
        return _HASHER.verify(stored or dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was hashed with other parameters than today's (argon2-cffi's
    defaults move with the library): such a hash is replaced at the next successful login."""
    return _HASHER.check_needs_rehash(stored)


def rehash(password: str) -> str:
    """A hash of a password that has just been verified, with today's parameters (no length
    rule: the password was accepted when it was set)."""
    return _HASHER.hash(password)
