"""The guard that the tests leave nothing in the test database, and the clean-up of the tests
that must commit (:mod:`tests.cleanup`), on the real database inside a rolled-back
transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from api.auth.testing import make_token, make_user
from api.db import models as m
from tests import cleanup
from tests.rollback import RolledBack


def test_the_guard_names_the_tables_that_grew_and_the_module(db_tx: RolledBack) -> None:
    left = cleanup.Leftovers()
    left.start(db_tx.engine)
    assert left.grown() == {}
    make_user(db_tx.engine, roles=["analyst"])
    left.module_ended("tests/x/test_leaky.py")
    left.module_ended("tests/x/test_clean.py")
    grown = left.grown()
    assert grown["users"] == 1 and grown["audit_log"] >= 1
    assert "grants" not in grown and "threats" not in grown
    report = left.report(grown)
    assert "users +1" in report
    assert "tests/x/test_leaky.py: " in report and "test_clean" not in report


def test_what_an_exempt_module_adds_is_allowed(
    db_tx: RolledBack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cleanup.EXEMPT, "tests/x/test_committing.py", "a reason")
    left = cleanup.Leftovers()
    left.start(db_tx.engine)
    make_user(db_tx.engine)
    left.module_ended("tests/x/test_committing.py")
    assert left.grown() == {}
    make_user(db_tx.engine)  # in the next module, not exempt
    left.module_ended("tests/x/test_leaky.py")
    assert left.grown()["users"] == 2  # all it holds more than after the demo load
    report = left.report(left.grown())
    leaky = next(line for line in report.splitlines() if "tests/x/test_leaky.py: " in line)
    assert "users +1" in leaky and "test_committing" not in report
    monkeypatch.setitem(cleanup.EXEMPT, "tests/y/", "a reason for the whole folder")
    assert cleanup.exempt("tests/y/test_any.py")  # listed by its folder
    assert not cleanup.exempt("tests/core/test_leftovers.py")


def test_delete_since_removes_what_was_added_and_its_audit(db_tx: RolledBack) -> None:
    tables = cleanup.data_tables(db_tx.engine)
    before = cleanup.row_counts(db_tx.engine, tables)
    since = cleanup.marks(db_tx.engine)
    make_user(db_tx.engine, roles=["grantee"], grants=["SOS-CA-EX-01"])
    assert cleanup.row_counts(db_tx.engine, tables) != before
    cleanup.delete_since(db_tx.engine, since)
    assert cleanup.row_counts(db_tx.engine, tables) == before


def test_delete_plans_removes_a_grid_its_scenarios_and_their_audit(db_tx: RolledBack) -> None:
    tables = cleanup.data_tables(db_tx.engine)
    before = cleanup.row_counts(db_tx.engine, tables)
    with db_tx.engine.begin() as conn:
        grid = conn.execute(
            insert(m.PlanningGrid).values(
                name="leftover",
                resolution=3,
                countries=["KGZ"],
                features=[],
                n_units=0,
                parameters={},
                inputs={},
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(m.PrioritisationScenario).values(
                name="leftover",
                grid_id=grid,
                objective="min_set",
                status="solved",
                parameters={},
                inputs={},
                results={},
            )
        )
    assert cleanup.row_counts(db_tx.engine, tables)["audit_log"] == before["audit_log"] + 2
    cleanup.delete_plans(db_tx.engine, int(grid))
    assert cleanup.row_counts(db_tx.engine, tables) == before


def test_delete_users_removes_them_and_their_accounts_audit(db_tx: RolledBack) -> None:
    tables = cleanup.data_tables(db_tx.engine)
    before = cleanup.row_counts(db_tx.engine, tables)
    names = [
        make_user(db_tx.engine, roles=["grantee"], grants=["SOS-CA-EX-01"]),
        make_user(db_tx.engine, roles=["advocate", "analyst"]),
    ]
    make_token(db_tx.engine, names[0])
    cleanup.delete_users(db_tx.engine, names)
    assert cleanup.row_counts(db_tx.engine, tables) == before
