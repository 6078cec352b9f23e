"""Login back-off and rate limits against the real app: no lock-out, no account enumeration,
429 with Retry-After.

Each test's app has rate limits of its own and runs in the test's transaction, rolled back at
its end (:func:`tests.rollback.bound_app`)."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth.testing import TEST_PASSWORD, csrf_from, login, make_user
from api.settings import RateLimitSettings, Settings
from tests.rollback import RolledBack, bound_app
from tests.windows import HOUR, MINUTE, clear_of_window_edge


def _scalar(engine: Any, sql: str) -> Any:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


@pytest.fixture
def app_with(settings: Settings, db_tx: RolledBack, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``app_with(**ratelimit_settings)``: the real app with these rate-limit settings, bound
    to the test's transaction (:func:`tests.rollback.bound_app`): its users, sessions and
    tokens are rolled back with it."""
    from api.app import create_app

    with ExitStack() as stack:

        def make(**kw: Any) -> Any:
            own = settings.model_copy(deep=True)
            own.ratelimit = RateLimitSettings(**kw)
            own.database.listen = False  # nothing is committed: no notification will come
            own.var_dir = tmp_path / "var"
            return stack.enter_context(bound_app(create_app(own), db_tx))

        yield make


def _attempt(c: TestClient, username: str, password: str) -> Any:
    token = csrf_from(c.get("/login").text)
    return c.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def _error(r: Any) -> str:
    m = re.search(r'class="error"[^>]*>([^<]*)<', r.text)
    return m.group(1).strip() if m else r.text[:200]


def test_failures_back_off_per_account_and_client_and_never_lock_the_owner_out(
    app_with, clients, tx_engine
) -> None:
    app = app_with(login_free_failures=3, login_backoff_seconds=1.0)
    name = make_user(tx_engine)
    attacker = clients(app, "203.0.113.9")
    owner = clients(app, "198.51.100.4")
    audit_before = _scalar(tx_engine, "SELECT count(*) FROM audit_log WHERE table_name = 'users'")
    for _ in range(4):  # three free failures, the fourth starts the back-off
        assert _attempt(attacker, name, "not it at all").status_code == 401
    # now even the right password from the attacker's address waits
    r = _attempt(attacker, name, TEST_PASSWORD)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "wait" in _error(r)
    # the owner, from another address, logs in while the account is being hammered
    assert _attempt(owner, name, TEST_PASSWORD).status_code == 303
    # after the wait the attacker's address may try again; the next failure waits twice as long
    time.sleep(int(r.headers["Retry-After"]) + 0.1)
    assert _attempt(attacker, name, "still not it").status_code == 401
    r = _attempt(attacker, name, TEST_PASSWORD)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 2
    time.sleep(2.1)
    assert _attempt(attacker, name, TEST_PASSWORD).status_code == 303
    # guesses write nothing: no failure counters in the users table, no audit rows
    after = _scalar(tx_engine, "SELECT count(*) FROM audit_log WHERE table_name = 'users'")
    assert after == audit_before


def test_unknown_and_known_accounts_get_the_same_answers(app_with, clients, tx_engine) -> None:
    app = app_with(login_free_failures=2, login_backoff_seconds=30.0)
    known = make_user(tx_engine)
    unknown = f"nobody-{known[2:]}"
    answers = {}
    for name, address in ((known, "192.0.2.1"), (unknown, "192.0.2.2")):
        c = clients(app, address)
        seq = []
        for _ in range(4):
            r = _attempt(c, name, "a wrong password")
            seq.append((r.status_code, _error(r), r.headers.get("Retry-After")))
        answers[name] = seq
    assert answers[known] == answers[unknown]
    assert [s for s, _, _ in answers[known]] == [401, 401, 401, 429]


def test_unknown_accounts_cost_a_password_check_too(app_with, clients, tx_engine) -> None:
    # sixteen failures from one address: no back-off and no refusal hold to time as well
    app = app_with(
        login_free_failures=1000, client_free_failures=1000, login="1000/minute", refusals_free=1000
    )
    known = make_user(tx_engine)
    c = clients(app, "192.0.2.50")
    token = csrf_from(c.get("/login").text)

    def timed(name: str) -> float:
        start = time.perf_counter()
        r = c.post("/login", data={"username": name, "password": "wrong!", "csrf_token": token})
        assert r.status_code == 401
        return time.perf_counter() - start

    for _ in range(2):
        timed(known)  # warm up
    k = statistics.median(timed(known) for _ in range(7))
    u = statistics.median(timed(f"nobody-{known[2:]}") for _ in range(7))
    # argon2 verification dominates both: an unknown name is not answered markedly faster
    assert u > 0.5 * k, (u, k)


def test_login_attempts_per_client_are_limited_with_retry_after(
    app_with, clients, tx_engine
) -> None:
    app = app_with(login="3/minute")
    name = make_user(tx_engine)
    c = clients(app, "192.0.2.77")
    clear_of_window_edge(MINUTE)
    assert _attempt(c, name, TEST_PASSWORD).status_code == 303
    assert _attempt(c, name, TEST_PASSWORD).status_code == 303
    assert _attempt(c, name, TEST_PASSWORD).status_code == 303
    r = _attempt(c, name, TEST_PASSWORD)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    # another address is not affected
    assert _attempt(clients(app, "192.0.2.78"), name, TEST_PASSWORD).status_code == 303


def test_token_creation_and_writes_are_limited_with_retry_after(
    app_with, clients, tx_engine
) -> None:
    app = app_with(tokens="2/hour", writes="6/minute")
    name = make_user(tx_engine)
    c = clients(app, "192.0.2.90")
    clear_of_window_edge(HOUR)
    clear_of_window_edge(MINUTE, need_s=20)
    csrf = login(c, name)
    for i in range(2):
        r = c.post("/api/account/tokens", json={"name": f"t{i}"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
    r = c.post("/api/account/tokens", json={"name": "t3"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 429 and r.json()["code"] == "too_many_requests"
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    # other writes of the account: 3 done, 3 more allowed, then 429
    for _ in range(3):
        r = c.delete("/api/account/tokens/2147483647", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404
    r = c.delete("/api/account/tokens/2147483647", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 429 and "Retry-After" in r.headers
    # another account is not affected
    other = clients(app, "192.0.2.91")
    other_csrf = login(other, make_user(tx_engine))
    r = other.post("/api/account/tokens", json={"name": "ok"}, headers={"X-CSRF-Token": other_csrf})
    assert r.status_code == 201
    # anonymous writes count per address
    anonymous = clients(app, "192.0.2.92")
    statuses = [anonymous.delete("/api/account/tokens/1").status_code for _ in range(7)]
    assert statuses == [401] * 6 + [429]


def test_rate_limits_can_be_turned_off(app_with, clients, tx_engine) -> None:
    app = app_with(enabled=False, login="1/minute", login_free_failures=0)
    name = make_user(tx_engine)
    c = clients(app, "192.0.2.99")
    for _ in range(3):
        assert _attempt(c, name, "wrong password").status_code == 401
    assert _attempt(c, name, TEST_PASSWORD).status_code == 303


def test_an_asynchronous_storage_uri_is_refused_clearly() -> None:
    from api.ratelimit import RateLimits

    with pytest.raises(ValueError, match="synchronous form"):
        RateLimits(RateLimitSettings(storage_uri="async+memory://"))
