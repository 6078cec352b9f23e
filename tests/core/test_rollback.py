"""The rolled-back test transaction (``db_tx``, ``tx_client``): what the app writes in a test is
visible to that test, invisible to every other connection, and gone afterwards; reads keep the
read-only role's privileges; a failed request undoes only its own writes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from api.auth.testing import make_user
from tests.rollback import VERSIONED_CACHES, bind


def _users_named(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM users WHERE username = :n"), {"n": name}
            ).scalar_one()
        )


def test_commits_of_bound_engines_are_undone_with_the_test(engine: Engine, demo) -> None:
    conn = engine.connect()
    trans = conn.begin()
    tx = bind(conn, "irbis_reader")
    name = make_user(tx.engine, "rollback-probe", roles=["analyst"])  # commits (a savepoint)
    assert _users_named(tx.engine, name) == 1
    assert _users_named(engine, name) == 0  # no other connection sees it
    trans.rollback()
    conn.close()
    assert _users_named(engine, name) == 0


def test_the_app_writes_and_reads_in_the_test_transaction(db_tx, tx_login_as, engine) -> None:
    analyst = tx_login_as("analyst", username="rollback-analyst")
    r = analyst.post(
        "/api/account/tokens", json={"name": "probe"}, headers={"X-CSRF-Token": analyst.csrf}
    )
    assert r.status_code in (200, 201), r.text
    assert [t["name"] for t in analyst.get("/api/account/tokens").json()] == ["probe"]
    with db_tx.connection.begin_nested():
        tokens = db_tx.connection.execute(
            text(
                "SELECT count(*) FROM api_tokens t JOIN users u ON u.id = t.user_id"
                " WHERE u.username = 'rollback-analyst'"
            )
        ).scalar_one()
    assert tokens == 1
    assert _users_named(engine, "rollback-analyst") == 0


def test_a_user_made_in_one_test_is_not_in_the_next(engine, tx_login_as) -> None:
    """Run after the test above (same username): it would fail on a unique name if the
    first test's user had been committed."""
    tx_login_as("analyst", username="rollback-analyst")
    assert _users_named(engine, "rollback-analyst") == 0


def test_reads_take_the_read_only_role(db_tx) -> None:
    with db_tx.reader_engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == "irbis_reader"
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("SELECT password_hash FROM users LIMIT 1"))
    with db_tx.engine.connect() as conn:  # the writer again, and the transaction still usable
        assert conn.execute(text("SELECT current_user")).scalar_one() == "irbis"
        conn.execute(text("SELECT password_hash FROM users LIMIT 1"))


def test_a_failed_transaction_undoes_only_its_own_writes(db_tx) -> None:
    make_user(db_tx.engine, "kept-user")
    with pytest.raises(RuntimeError), db_tx.engine.begin() as conn:
        conn.execute(text("UPDATE users SET display_name = 'changed' WHERE username = 'kept-user'"))
        raise RuntimeError
    with db_tx.engine.connect() as conn:
        row = conn.execute(
            text("SELECT display_name FROM users WHERE username = 'kept-user'")
        ).one()
    assert row.display_name != "changed"


def test_autocommit_reads_and_transaction_local_settings(db_tx) -> None:
    auto = db_tx.engine.execution_options(isolation_level="AUTOCOMMIT")
    make_user(db_tx.engine, "seen-by-autocommit")
    assert _users_named(auto, "seen-by-autocommit") == 1
    with db_tx.engine.begin() as conn:
        conn.execute(text("SELECT set_config('statement_timeout', '1234', true)"))
    with db_tx.engine.connect() as conn:  # a SET LOCAL ends with its transaction
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() != "1234ms"


def test_clients_entered_in_the_test_keep_the_bound_engines(tx_app, db_tx, engine) -> None:
    with TestClient(tx_app) as c:  # no second lifespan replacing the engines
        assert tx_app.state.engine is db_tx.engine
        assert c.get("/health").status_code == 200
    assert tx_app.state.engine is db_tx.engine


def test_answers_kept_by_data_version_in_a_test(tx_login_as, tx_client) -> None:
    """A grant registered in the test's transaction moves the grants' data versions; the
    portfolio read after it is kept under those versions."""
    admin = tx_login_as("admin")
    body = {
        "code": "ROLLBACK-CACHE-1",
        "title": "Rolled back",
        "grantee_organisation": "Nobody",
        "countries": ["KGZ"],
        "species": ["Panthera uncia"],
        "amount": 1000,
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    }
    r = admin.post("/api/grants", json=body, headers={"X-CSRF-Token": admin.csrf})
    assert r.status_code == 201, r.text
    assert tx_client.get("/api/portfolio").status_code == 200
    assert sum(len(c) for c in VERSIONED_CACHES) > 0


def test_are_forgotten_when_the_test_ends() -> None:
    """Run after the test above: the versions it reached are rolled back and will be reached
    again by other writes, so nothing kept under them may be served later."""
    assert sum(len(c) for c in VERSIONED_CACHES) == 0
