"""A password change, on the web or with `irbis users set-password`, ends every session and
revokes every API token of that user."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.auth.testing import TEST_PASSWORD, login, make_token, make_user
from api.cli import app as cli

NEW_PASSWORD = "a brand new passphrase"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_web_password_change_revokes_tokens_and_sessions(tx_app, db_tx, tx_login_as) -> None:
    c = tx_login_as("grantee")
    token = make_token(db_tx.engine, c.username)
    with TestClient(tx_app) as other:  # a second session of the same user (another browser)
        login(other, c.username)
        assert other.get("/api/account").status_code == 200
        assert c.get("/api/account", headers=_bearer(token)).status_code == 200
        r = c.post(
            "/account/password",
            data={
                "current": TEST_PASSWORD,
                "new": NEW_PASSWORD,
                "again": NEW_PASSWORD,
                "csrf_token": c.csrf,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        with TestClient(tx_app) as anon:
            assert anon.get("/api/account", headers=_bearer(token)).status_code == 401
        assert other.get("/api/account").status_code == 401
        assert c.get("/api/account").status_code == 401
    with TestClient(tx_app) as fresh:
        login(fresh, c.username, NEW_PASSWORD)
        assert fresh.get("/api/account").json()["username"] == c.username


def test_wrong_current_password_changes_nothing(tx_app, db_tx, tx_login_as) -> None:
    c = tx_login_as("grantee")
    token = make_token(db_tx.engine, c.username)
    for data, message in (
        ({"current": "not my password", "new": NEW_PASSWORD, "again": NEW_PASSWORD}, "wrong"),
        ({"current": TEST_PASSWORD, "new": NEW_PASSWORD, "again": "something else!"}, "differ"),
        ({"current": TEST_PASSWORD, "new": "short", "again": "short"}, "at least"),
    ):
        r = c.post("/account/password", data={**data, "csrf_token": c.csrf})
        assert r.status_code == 400 and message in r.text
        assert r.headers["cache-control"] == "no-store"
    assert c.get("/api/account").status_code == 200
    with TestClient(tx_app) as anon:
        assert anon.get("/api/account", headers=_bearer(token)).status_code == 200


def test_password_change_needs_the_form_token(tx_login_as) -> None:
    c = tx_login_as("grantee")
    r = c.post("/account/password", data={"current": TEST_PASSWORD, "new": NEW_PASSWORD})
    assert r.status_code == 403
    assert c.get("/api/account").status_code == 200


def test_cli_set_password_revokes_tokens_and_sessions(tx_app, tx_cli) -> None:  # type: ignore[no-untyped-def]
    name = make_user(tx_cli.engine, roles=["analyst"])
    token = make_token(tx_cli.engine, name)
    with TestClient(tx_app) as c:
        login(c, name)
        assert c.get("/api/account").status_code == 200
        r = CliRunner().invoke(
            cli, ["users", "set-password", name, "--password-stdin"], input=NEW_PASSWORD + "\n"
        )
        assert r.exit_code == 0, r.output
        assert c.get("/api/account").status_code == 401
        assert c.get("/api/account", headers=_bearer(token)).status_code == 401
