"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo.errors import InvalidInput

_HASHER = PasswordHasher()
MIN_LENGTH = 10


#: The hash verified for names nobody has, made once with argon2-cffi's parameters of today
#: (``PasswordHasher()``: argon2id, 64 MiB, 3 passes, 4 lanes) from a password nobody has. A
#: verification recomputes the hash with the parameters written in it, so verifying against
#: this one costs what verifying against a user's own hash costs; that is all it is for.
#: ``tests/auth/test_passwords.py`` fails once the library's parameters move.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$BOuWSkGC3h6s3JZDlGh7dg$C0sSrtF558fEkSc3p17XOgCeGzYIAYiNWWsKtbSUEqE"


@cache
def dummy_hash() -> str:
    """A hash that nobody's password matches, verified when the user does not exist so that
    a login for an unknown name takes as long as one for a known name.

    :data:`DUMMY_HASH`, as long as its parameters are the hasher's. Should they move (a newer
    argon2-cffi), one is made with the new ones instead, once (a hash takes a third of a second
    of CPU: the app's lifespan asks for it beside the start, not on a request's path)."""
    if not _HASHER.check_needs_rehash(DUMMY_HASH):
        return DUMMY_HASH
    return _HASHER.hash("irbis-no-such-user")


def hash_password(password: str) -> str:
    """Hash ``password`` (argon2id, salted); refuse passwords shorter than 10 characters."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the ``stored`` hash (constant-time). No hash (``None``,
    or an empty one) matches nothing: the dummy hash is verified instead, and its answer
    dropped."""
    try:
        return _HASHER.verify(stored or dummy_hash(), password) and bool(stored)
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
