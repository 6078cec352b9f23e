"""``irbis grants add|edit|close|list|import`` on the real database, in the test's transaction
(rolled back at its end: ``tx_cli``)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app as cli


@pytest.fixture
def run(tx_cli):  # type: ignore[no-untyped-def]
    def _run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, ["grants", *args])

    return _run


def _row(engine, code: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status, amount, title, currency, rate FROM grants WHERE code = :c"),
            {"c": code},
        ).first()


def test_add_edit_close_list(run, tx_cli) -> None:  # type: ignore[no-untyped-def]
    code = f"CLI-{secrets.token_hex(3).upper()}"
    r = run(
        "add", code, "--title", "Ibex and snow leopard of Zorkul", "--organisation", "Tabiat",
        "--country", "TJK", "--species", "Panthera uncia", "--ecosystem", "mountain",
        "--amount", "1650000", "--currency", "TJS", "--rate", "11", "--rate-date", "2024-02-01",
        "--start", "2024-04-01", "--end", "2026-03-31", "--call", "Call 4",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "150,000.00 USD" in r.output
    r = run("edit", code, "--title", "Zorkul snow leopards", "--status", "active")
    assert r.exit_code == 0, r.output
    assert _row(tx_cli.engine, code).title == "Zorkul snow leopards"
    r = run("close", code, "--terminated")
    assert r.exit_code == 0 and _row(tx_cli.engine, code).status == "terminated"
    r = run("list")
    assert r.exit_code == 0 and code in r.output and "SOS-CA-EX-01" in r.output
    with tx_cli.engine.connect() as conn:
        actors = (
            conn.execute(
                text(
                    "SELECT DISTINCT actor FROM audit_log WHERE table_name = 'grants'"
                    " AND row_id = (SELECT id::text FROM grants WHERE code = :c)"
                ),
                {"c": code},
            )
            .scalars()
            .all()
        )
    assert actors and all(a.startswith("cli:") for a in actors)


def test_add_refuses_bad_input_and_stores_nothing(run, tx_cli) -> None:  # type: ignore[no-untyped-def]
    code = f"CLI-{secrets.token_hex(3).upper()}"
    base = ["add", code, "--title", "t", "--organisation", "o", "--country", "KAZ",
            "--species", "Gazella subgutturosa", "--start", "2024-01-01"]  # fmt: skip
    r = run(*base, "--amount", "-5", "--end", "2025-01-01")
    assert r.exit_code == 1 and "amount" in r.output
    r = run(*base, "--amount", "5000", "--end", "2023-01-01")
    assert r.exit_code == 1 and "before the start" in r.output
    assert _row(tx_cli.engine, code) is None
    r = run("close", "NO-SUCH-GRANT")
    assert r.exit_code == 1 and "no grant" in r.output


def test_import_reports_per_row_and_is_idempotent(run, tx_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = f"CLI-{secrets.token_hex(3).upper()}"
    f = tmp_path / "grants.csv"
    f.write_text(
        "code,title,grantee_organisation,countries,species,amount,start_date,end_date\n"
        f"{code},Goitered gazelle in Ustyurt,Saiga Alliance,UZB;KAZ,Gazella subgutturosa,"
        "90000,2024-01-01,2025-06-30\n",
        encoding="utf-8",
    )
    r = run("import", str(f))
    assert r.exit_code == 0, r.output
    assert "created" in r.output
    r = run("import", str(f))
    assert r.exit_code == 0 and "unchanged" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f.read_text(encoding="utf-8").replace(code, "CLI-NEW-ONE").replace("90000", "-1"),
        encoding="utf-8",
    )
    r = run("import", str(bad))
    assert r.exit_code == 1 and "nothing was imported" in r.output
    assert _row(tx_cli.engine, "CLI-NEW-ONE") is None
