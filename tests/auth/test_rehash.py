"""A password hashed with weaker argon2 parameters than today's is re-hashed at the next
successful login, and only then; the password keeps working and nothing else changes."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.auth.testing import TEST_PASSWORD, csrf_from, login, make_token, make_user


def _hash_of(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT password_hash FROM users WHERE username = :u"), {"u": name}
            ).scalar_one()
        )


def test_a_weak_hash_is_replaced_at_login(tx_app, db_tx) -> None:  # type: ignore[no-untyped-def]
    app, engine = tx_app, db_tx.engine
    name = make_user(engine, roles=["grantee"])
    token = make_token(engine, name)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(TEST_PASSWORD)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET password_hash = :h WHERE username = :u"), {"h": weak, "u": name}
        )
    with TestClient(app) as c:
        csrf = csrf_from(c.get("/login").text)
        wrong = c.post(
            "/login",
            data={"username": name, "password": "not the password!", "csrf_token": csrf},
        )
        assert wrong.status_code == 401
        assert _hash_of(engine, name) == weak  # a failed login changes nothing
        login(c, name)
    stored = _hash_of(engine, name)
    assert stored != weak
    today = PasswordHasher()
    assert today.verify(stored, TEST_PASSWORD) and not today.check_needs_rehash(stored)
    with TestClient(app) as again:
        login(again, name)  # the same password still logs in
        assert again.get("/api/account").status_code == 200
        # re-hashing is not a password change: the user's API tokens keep working
        bearer = {"Authorization": f"Bearer {token}"}
        assert again.get("/api/account", headers=bearer).status_code == 200
    assert _hash_of(engine, name) == stored  # a current hash is left alone
