"""The grant history reads its record's trail with :func:`layers.history.audit_trail` (and the
links to its species beside it): the same audit rows, in the same order per table and by
time, and so the same history, as one query over the audit log for both tables."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import Session

from api.auth.principal import Principal, Role
from api.db.models import AuditLog
from api.services import grants as gs
from tests.rollback import RolledBack, transaction_clock

ADMIN = Principal(user_id=1, username="history-test", roles=frozenset({Role.admin}))


def reference_rows(session: Session, grant_id: int) -> list[gs.AuditRow]:
    """Every audit row of the grant and its species links in one query, newest first."""
    a = AuditLog
    stmt = (
        select(a.table_name, a.action, a.actor, a.at, a.before, a.after)
        .where(
            or_(
                and_(a.table_name == "grants", a.row_id == str(grant_id)),
                and_(a.table_name == "grant_species", a.row_id.startswith(f"{grant_id}:")),
            )
        )
        .order_by(a.at.desc(), a.id.desc())
    )
    return [gs.AuditRow(*r) for r in session.execute(stmt)]


def _per_table(rows: list[gs.AuditRow], table: str) -> list[gs.AuditRow]:
    return [r for r in rows if r.table_name == table]


@pytest.fixture
def edited_grant(db_tx: RolledBack, tx_login_as) -> str:  # type: ignore[no-untyped-def]
    transaction_clock(db_tx)  # one time per request, as committed transactions have
    admin = tx_login_as("admin")
    code = f"HA-{secrets.token_hex(3).upper()}"
    csrf = {"X-CSRF-Token": admin.csrf}
    body = {
        "code": code,
        "title": "Audit trail grant",
        "grantee_organisation": "Ilbirs Foundation",
        "countries": ["KGZ"],
        "species": ["Panthera uncia"],
        "amount": 30000,
        "start_date": "2024-01-01",
        "end_date": "2025-12-31",
    }
    assert admin.post("/api/grants", json=body, headers=csrf).status_code == 201
    for change in (
        {"title": "Audit trail grant, renamed"},
        {"species": ["Panthera uncia", "Gazella subgutturosa"], "amount": 32000},
        {"species": ["Gazella subgutturosa"]},
    ):
        assert admin.patch(f"/api/grants/{code}", json=change, headers=csrf).status_code == 200
    return code


def test_the_history_reads_the_same_rows(db_tx, edited_grant: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    codes = [edited_grant, "SOS-CA-EX-01", "SOS-CA-EX-02"]
    with Session(db_tx.engine) as session:
        found = session.execute(
            text("SELECT code, id FROM grants WHERE code = ANY(:c)"), {"c": codes}
        )
        ids: dict[str, int] = {str(c): int(i) for c, i in found}
        rows = {
            c: (gs.history_rows(session, ids[c]), reference_rows(session, ids[c])) for c in codes
        }
    for code, (got, ref) in rows.items():
        assert got, code
        assert sorted(got, key=repr) == sorted(ref, key=repr), code  # the same rows
        assert [r.at for r in got] == [r.at for r in ref], code  # newest first
        for table in ("grants", "grant_species"):  # and in the log's order per table
            assert _per_table(got, table) == _per_table(ref, table), (code, table)
    assert len(_per_table(rows[edited_grant][0], "grant_species")) == 3  # +1, +1, -1

    # the history built from them is the one built from the single query
    built = {c: gs.grant_history(db_tx.engine, ADMIN, c) for c in codes}
    monkeypatch.setattr(gs, "history_rows", reference_rows)
    assert built == {c: gs.grant_history(db_tx.engine, ADMIN, c) for c in codes}
    changes: list[dict[str, Any]] = built[edited_grant]
    assert any(
        e["changed"].get("title", {}).get("to") == "Audit trail grant, renamed" for e in changes
    )
    removed = [sp["scientific_name"] for e in changes for sp in e["species"]["removed"]]
    added = [sp["scientific_name"] for e in changes for sp in e["species"]["added"]]
    assert removed == ["Panthera uncia"] and "Gazella subgutturosa" in added
