"""The hash verified for logins of names nobody has: as costly to verify as a user's own, and
matched by no password."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, extract_parameters
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.auth import passwords
from api.auth.passwords import DUMMY_HASH, dummy_hash, hash_password, verify_password
from api.auth.testing import csrf_from, make_user


@pytest.fixture(autouse=True)
def fresh_dummy() -> Iterator[None]:
    """Each test starts from a dummy hash not yet looked up, and leaves none behind."""
    dummy_hash.cache_clear()
    yield
    dummy_hash.cache_clear()


def test_the_stored_dummy_hash_has_the_parameters_of_a_users_hash() -> None:
    """A verification recomputes the hash with the parameters written in it: the same
    parameters as a user's hash of today, the same cost. This fails once argon2-cffi's defaults
    move; then :data:`DUMMY_HASH` is made again with ``PasswordHasher().hash(...)``."""
    users = extract_parameters(hash_password("a long enough secret"))
    assert extract_parameters(DUMMY_HASH) == users
    assert dummy_hash() == DUMMY_HASH


def test_no_password_passes_for_a_name_nobody_has() -> None:
    for password in ("irbis-no-such-user", "", "a long enough secret"):
        assert not verify_password(None, password)
        assert not verify_password("", password)


def test_a_new_dummy_hash_is_made_when_the_parameters_move(monkeypatch: pytest.MonkeyPatch) -> None:
    newer = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2)
    monkeypatch.setattr(passwords, "_HASHER", newer)
    made = dummy_hash()
    assert made != DUMMY_HASH
    assert extract_parameters(made) == extract_parameters(newer.hash("a long enough secret"))
    assert dummy_hash() is made  # once
    assert not verify_password(None, "irbis-no-such-user")


def test_an_account_with_an_empty_hash_cannot_log_in(tx_app, db_tx) -> None:  # type: ignore[no-untyped-def]
    """Through the login form of the real app: an account whose stored hash is empty (a row
    edited by hand) is refused with the dummy hash's own password, as with any other."""

    name = make_user(db_tx.engine, roles=["grantee"])
    with db_tx.engine.begin() as conn:
        conn.execute(text("UPDATE users SET password_hash = '' WHERE username = :u"), {"u": name})
    with TestClient(tx_app) as c:
        for password in ("irbis-no-such-user", ""):
            csrf = csrf_from(c.get("/login").text)
            r = c.post(
                "/login",
                data={"username": name, "password": password, "csrf_token": csrf},
                follow_redirects=False,
            )
            assert r.status_code in (401, 422), r.status_code
        assert c.get("/api/account").status_code == 401
