"""Helpers for tests: real users in the database, logged in for real.

>>> from api.auth.testing import make_user, login  # doctest: +SKIP
>>> make_user(engine, "gr1", roles=["grantee"], grants=["SOS-CA-EX-01"])  # doctest: +SKIP
>>> login(client, "gr1")  # the TestClient now carries the session cookie  # doctest: +SKIP
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from api.auth import accounts
from api.db.engine import transaction

TEST_PASSWORD = "correct horse battery staple"


def make_user(
    engine: Engine,
    username: str | None = None,
    *,
    roles: Iterable[str] = ("public",),
    grants: Iterable[str] = (),
    password: str = TEST_PASSWORD,
) -> str:
    """Create an active user (a random name unless given) and return the username."""
    username = username or f"t-{secrets.token_hex(5)}"
    with transaction(engine, actor="tests") as session:
        accounts.create_user(
            session, username, password, roles=list(roles), grant_codes=list(grants)
        )
    return username


def make_token(engine: Engine, username: str, name: str = "tests") -> str:
    """A clear API token for ``username``."""
    with transaction(engine, actor=username) as session:
        user = accounts.get_user(session, username)
        return accounts.create_api_token(session, user, name).token


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a page."""
    m = re.search(r'name="csrf[-_]token"\s+(?:value|content)="([0-9a-f]+)"', html)
    if not m:
        raise AssertionError("no CSRF token in the page")
    return m.group(1)


def login(client: Any, username: str, password: str = TEST_PASSWORD) -> str:
    """Log ``client`` (a TestClient or httpx.Client) in through /login; return a CSRF token
    valid for the new session (for the ``X-CSRF-Token`` header)."""
    page = client.get("/login")
    token = csrf_from(page.text)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    if r.status_code != 303:
        raise AssertionError(f"login of {username} failed: {r.status_code} {r.text[:200]}")
    return csrf_from(client.get("/account/tokens").text)
