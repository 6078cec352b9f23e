"""Accounts: passwords, sessions, CSRF, API tokens, the secret key and `irbis users`."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.auth import accounts
from api.auth.passwords import hash_password, verify_password
from api.auth.secrets_store import secret_key
from api.auth.testing import TEST_PASSWORD, csrf_from, login, make_token, make_user
from api.auth.tokens import token_hash
from api.cli import app as cli
from api.db.engine import transaction
from api.settings import Settings
from geo.errors import Conflict, InvalidInput


def _scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_passwords_are_argon2_and_verified() -> None:
    h = hash_password("a long enough secret")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "a long enough secret")
    assert not verify_password(h, "a long enough secreT")
    assert not verify_password(None, "anything at all")
    with pytest.raises(InvalidInput):
        hash_password("short")


def test_user_rows_and_audit_never_hold_the_password(db_tx) -> None:
    name = make_user(db_tx.engine, roles=["analyst"])
    stored = _scalar(db_tx.engine, "SELECT password_hash FROM users WHERE username = :u", u=name)
    assert stored.startswith("$argon2id$") and TEST_PASSWORD not in stored
    audit = _scalar(
        db_tx.engine,
        "SELECT count(*) FROM audit_log WHERE table_name = 'users' AND actor = 'tests' "
        "AND after->>'username' = :u AND NOT (after ? 'password_hash')",
        u=name,
    )
    assert audit == 1
    roles = _scalar(
        db_tx.engine,
        "SELECT count(*) FROM audit_log WHERE table_name = 'user_roles' AND actor = 'tests' "
        "AND after->>'role' = 'analyst' AND (after->>'user_id')::int = "
        "(SELECT id FROM users WHERE username = :u)",
        u=name,
    )
    assert roles == 1


def test_reader_role_cannot_read_credentials(settings, engine) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ProgrammingError

    reader = create_engine(settings.database.read_url)
    try:
        for table in ("users", "api_tokens", "sessions"):
            with reader.connect() as conn, pytest.raises(ProgrammingError):
                conn.execute(text(f"SELECT * FROM {table}"))
    finally:
        reader.dispose()


def test_duplicate_and_bad_usernames_are_refused(db_tx) -> None:
    name = make_user(db_tx.engine)
    with transaction(db_tx.engine, actor="tests") as s, pytest.raises(Conflict):
        accounts.create_user(s, name, TEST_PASSWORD)
    with transaction(db_tx.engine, actor="tests") as s, pytest.raises(InvalidInput):
        accounts.create_user(s, "Bad Name!", TEST_PASSWORD)
    with (
        transaction(db_tx.engine, actor="tests") as s,
        pytest.raises(InvalidInput, match="unknown role"),
    ):
        accounts.create_user(s, "someone-new", TEST_PASSWORD, roles=["wizard"])


def test_login_sets_a_signed_httponly_lax_cookie_and_logout_ends_the_session(
    tx_client, db_tx
) -> None:
    name = make_user(db_tx.engine, roles=["advocate"])
    page = tx_client.get("/login")
    r = tx_client.post(
        "/login",
        data={"username": name, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "irbis_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # settings.api.secure_cookies is off in tests
    me = tx_client.get("/api/account").json()
    assert me["username"] == name and me["roles"] == ["advocate"] and not me["sees_sensitive"]
    # a tampered cookie is anonymous
    raw = tx_client.cookies.get("irbis_session")
    tx_client.cookies.set("irbis_session", raw[:-2] + ("00" if raw[-2:] != "00" else "11"))
    assert tx_client.get("/api/account").status_code == 401
    tx_client.cookies.set("irbis_session", raw)
    token = csrf_from(tx_client.get("/account/tokens").text)
    assert (
        tx_client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    tx_client.cookies.set("irbis_session", raw)  # replaying the old cookie does not work
    assert tx_client.get("/api/account").status_code == 401


def test_wrong_password_and_deactivated_user_cannot_log_in(tx_client, db_tx) -> None:
    name = make_user(db_tx.engine)
    token = csrf_from(tx_client.get("/login").text)
    r = tx_client.post(
        "/login", data={"username": name, "password": "wrong password!", "csrf_token": token}
    )
    assert r.status_code == 401 and "wrong password" in r.text
    with transaction(db_tx.engine, actor="tests") as s:
        accounts.deactivate(s, accounts.get_user(s, name))
    r = tx_client.post(
        "/login", data={"username": name, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 401


def test_forms_without_the_csrf_token_are_refused(tx_client, db_tx) -> None:
    name = make_user(db_tx.engine)
    tx_client.get("/login")  # the pre-login CSRF cookie
    r = tx_client.post("/login", data={"username": name, "password": TEST_PASSWORD})
    assert r.status_code == 403
    r = tx_client.post(
        "/login", data={"username": name, "password": TEST_PASSWORD, "csrf_token": "0" * 64}
    )
    assert r.status_code == 403
    login(tx_client, name)
    # logged in: a cookie-authenticated write without the token is refused
    assert tx_client.post("/account/tokens", data={"name": "x"}).status_code == 403
    assert tx_client.post("/api/account/tokens", json={"name": "x"}).status_code == 403


def test_login_without_any_cookie_is_refused(tx_app, db_tx) -> None:
    from fastapi.testclient import TestClient

    name = make_user(db_tx.engine)
    with TestClient(tx_app) as c:
        r = c.post("/login", data={"username": name, "password": TEST_PASSWORD})
    assert r.status_code == 403


def test_login_next_is_local_only(tx_client, db_tx) -> None:
    name = make_user(db_tx.engine)
    token = csrf_from(tx_client.get("/login").text)
    r = tx_client.post(
        "/login",
        data={
            "username": name,
            "password": TEST_PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_api_tokens_are_hashed_used_and_revoked(tx_login_as, tx_client, db_tx) -> None:
    c = tx_login_as("analyst")
    r = c.post("/api/account/tokens", json={"name": "QGIS"}, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 201
    new = r.json()
    assert new["token"].startswith("irb_") and new["prefix"] == new["token"][:10]
    stored = _scalar(db_tx.engine, "SELECT token_hash FROM api_tokens WHERE id = :i", i=new["id"])
    assert stored == token_hash(new["token"]) and new["token"] not in stored
    bearer = {"Authorization": f"Bearer {new['token']}"}
    assert tx_client.get("/api/account", headers=bearer).json()["username"] == c.username
    listed = c.get("/api/account/tokens").json()
    assert [t["name"] for t in listed] == ["QGIS"] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    r = c.delete(f"/api/account/tokens/{new['id']}", headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 204
    r = tx_client.get("/api/account", headers=bearer)
    assert r.status_code == 401 and "revoked" in r.json()["description"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    # someone else's token cannot be revoked
    other = tx_login_as("analyst")
    t2 = make_token(db_tx.engine, other.username)
    tid = _scalar(db_tx.engine, "SELECT id FROM api_tokens WHERE token_hash = :h", h=token_hash(t2))
    assert (
        c.delete(f"/api/account/tokens/{tid}", headers={"X-CSRF-Token": c.csrf}).status_code == 404
    )
    revoked = _scalar(
        db_tx.engine,
        "SELECT count(*) FROM audit_log WHERE table_name = 'api_tokens' "
        "AND action = 'update' AND actor = :u AND after->>'revoked_at' IS NOT NULL",
        u=c.username,
    )
    assert revoked == 1


def test_malformed_authorization_is_401(tx_client) -> None:
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "irb_x"):
        r = tx_client.get("/api/account", headers={"Authorization": value})
        assert r.status_code == 401, value


def test_tokens_page_creates_and_revokes(tx_login_as) -> None:
    c = tx_login_as("grantee")
    r = c.post("/account/tokens", data={"name": "field laptop", "csrf_token": c.csrf})
    assert r.status_code == 201 and "field laptop" in r.text
    shown = r.text.split('id="new-token">')[1].split("<")[0]
    assert shown.startswith("irb_")
    tid = c.get("/api/account/tokens").json()[0]["id"]
    r = c.post(f"/account/tokens/{tid}/revoke", data={"csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/api/account/tokens").json()[0]["revoked_at"] is not None


def test_anonymous_pages_redirect_to_login(tx_client) -> None:
    r = tx_client.get("/account/tokens", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert tx_client.get("/api/account").status_code == 401


def test_secret_key_is_generated_once_and_private(tmp_path) -> None:
    s = Settings.for_database("postgresql+psycopg://x@127.0.0.1/x")
    s.var_dir = tmp_path
    k1 = secret_key(s)
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(s) == k1 and len(k1) >= 40
    s.api.secret_key = "from-the-environment-0123456789"
    assert secret_key(s) == b"from-the-environment-0123456789"


def test_cli_users_commands(tx_cli) -> None:  # type: ignore[no-untyped-def]
    engine = tx_cli.engine  # the commands write in the test's transaction, rolled back after
    run = CliRunner().invoke
    name = f"cli-{os.getpid()}"
    r = run(
        cli,
        ["users", "create", name, "-r", "admin", "--password-stdin"],
        input="a long admin password\n",
    )
    assert r.exit_code == 0, r.output
    r = run(cli, ["users", "set-roles", name, "grantee,advocate"])
    assert r.exit_code == 0 and "advocate, grantee" in r.output
    r = run(cli, ["users", "link-grant", name, "SOS-CA-EX-01"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["users", "list"])
    line = next(ln for ln in r.output.splitlines() if ln.startswith(name))
    assert "advocate,grantee" in line and "SOS-CA-EX-01" in line
    r = run(cli, ["users", "token", name, "--name", "script"])
    assert r.exit_code == 0 and r.output.strip().startswith("irb_")
    r = run(cli, ["users", "link-grant", name, "NO-SUCH-GRANT"])
    assert r.exit_code == 1 and "no grant" in r.output
    r = run(cli, ["users", "set-roles", name, "wizard"])
    assert r.exit_code == 1 and "unknown role" in r.output
    r = run(cli, ["users", "deactivate", name])
    assert r.exit_code == 0
    assert _scalar(engine, "SELECT active FROM users WHERE username = :u", u=name) is False
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE u.username = :u AND t.revoked_at IS NULL",
            u=name,
        )
        == 0
    )
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM audit_log WHERE table_name = 'user_grants' "
            "AND actor LIKE 'cli:%'",
        )
        >= 1
    )


def test_login_with_control_characters_is_refused_not_crashed(tx_client) -> None:
    token = csrf_from(tx_client.get("/login").text)
    r = tx_client.post(
        "/login", data={"username": "adm\x00in", "password": "x" * 12, "csrf_token": token}
    )
    assert r.status_code == 401


def test_unreachable_account_store_is_503_not_500(settings) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import DatabaseSettings

    s = settings.model_copy(deep=True)
    s.database = DatabaseSettings(url="postgresql+psycopg://irbis:irbis@127.0.0.1:1/nowhere")
    with TestClient(create_app(s)) as c:
        r = c.get("/api/account", headers={"Authorization": "Bearer irb_x"})
    assert r.status_code == 503 and r.json()["code"] == "service_unavailable"
    assert r.headers["retry-after"] == "10"  # as every other 503 of an unavailable database


def test_out_of_range_ids_are_400_not_500(tx_login_as) -> None:
    c = tx_login_as("analyst")
    h = {"X-CSRF-Token": c.csrf}
    assert c.delete("/api/account/tokens/11567532256119", headers=h).status_code == 400
    assert c.delete("/api/grants/SOS-CA-EX-01/sites/99999999999", headers=h).status_code == 400


def test_api_responses_set_no_cookie_and_pages_with_forms_do(tx_client) -> None:
    assert "set-cookie" not in tx_client.get("/api/grants/SOS-CA-EX-01/sites").headers
    assert "set-cookie" not in tx_client.get("/health").headers
    assert "irbis_csrf=" in tx_client.get("/login").headers["set-cookie"]


def test_cli_set_password_ends_sessions_and_token_revoke(tx_cli, tx_client):  # type: ignore[no-untyped-def]
    engine, client = tx_cli.engine, tx_client  # the app and the commands: one transaction
    name = make_user(engine, roles=["analyst"])
    login(client, name)
    assert client.get("/api/account").status_code == 200
    r = CliRunner().invoke(
        cli, ["users", "set-password", name, "--password-stdin"], input="a brand new password\n"
    )
    assert r.exit_code == 0, r.output
    assert client.get("/api/account").status_code == 401  # the old session ended
    login(client, name, "a brand new password")
    token = make_token(engine, name)
    tid = _scalar(engine, "SELECT id FROM api_tokens WHERE token_hash = :h", h=token_hash(token))
    r = CliRunner().invoke(cli, ["users", "token", name, "--revoke", str(tid)])
    assert r.exit_code == 0, r.output
    assert (
        client.get("/api/account", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_secret_key_is_the_same_for_processes_starting_together(tmp_path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    s = Settings.for_database("postgresql+psycopg://x@127.0.0.1/x")
    s.var_dir = tmp_path
    with ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(secret_key, [s] * 8))
    assert len(keys) == 1 and list(tmp_path.iterdir()) == [tmp_path / "secret_key"]
