"""Reporters' identities stay out of the read-only role's reach, also after the set-up runs
again on a migrated database (``make run`` and ``make test`` run scripts/database.sh)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from api.db.engine import make_engine
from api.settings import REPO_ROOT, Settings


def _setup_sql(database: str) -> str:
    script = (REPO_ROOT / "scripts" / "database.sh").read_text(encoding="utf-8")
    block = re.search(r'run_sql "\$db" "(.*?)"\ndone', script, re.S)
    assert block, "scripts/database.sh no longer has a per-database block"
    return block.group(1).replace("$db", database)


def test_setup_again_keeps_reporters_private(engine: Engine, settings: Settings) -> None:
    database = engine.url.database
    with engine.begin() as conn:
        for statement in filter(str.strip, _setup_sql(database).split(";")):
            conn.execute(text(statement))
    reader = make_engine(settings.database.read_url)
    try:
        with reader.connect() as conn:
            conn.execute(text("SELECT id, title, public_reporter FROM threat_reports")).all()
            for sql in (
                "SELECT reporter_name FROM threat_reports",
                "SELECT reporter_id FROM threat_reports",
                "SELECT actor_name FROM threat_report_events",
            ):
                with pytest.raises(ProgrammingError, match="permission denied"):
                    conn.execute(text(sql)).all()
                conn.rollback()
    finally:
        reader.dispose()


#: Every table or column naming people (usernames, emails, password, token and session hashes,
#: uploaders, reporters, recorders): none may be read by the read-only role.
IDENTITY_TABLES = ("users", "api_tokens", "sessions", "audit_log", "field_site_versions")
IDENTITY_COLUMNS = {
    "analysis_runs": ("created_by",),
    "field_sites": ("uploaded_by",),
    "occurrences": ("recorded_by",),
    "planning_grids": ("created_by",),
    "prioritisation_scenarios": ("created_by",),
    "threat_reports": ("reporter_name", "reporter_id"),
    "threat_report_events": ("actor_name",),
}


def _reader(settings: Settings) -> Engine:
    return make_engine(settings.database.read_url)


@pytest.mark.parametrize("table", IDENTITY_TABLES)
def test_reader_cannot_read_identity_tables(engine: Engine, settings: Settings, table) -> None:
    reader = _reader(settings)
    try:
        with (
            reader.connect() as conn,
            pytest.raises(ProgrammingError, match="permission denied"),
        ):
            conn.execute(text(f"SELECT * FROM {table} LIMIT 1")).all()
    finally:
        reader.dispose()


@pytest.mark.parametrize(
    ("table", "column"), [(t, c) for t, cols in IDENTITY_COLUMNS.items() for c in cols]
)
def test_reader_cannot_read_identity_columns(
    engine: Engine, settings: Settings, table, column
) -> None:
    reader = _reader(settings)
    try:
        with reader.connect() as conn:
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(f"SELECT {column} FROM {table} LIMIT 1")).all()
            conn.rollback()
            # the rest of the table stays readable for public pages
            conn.execute(text(f"SELECT id FROM {table} LIMIT 1")).all()
    finally:
        reader.dispose()


def test_no_identity_column_granted_to_reader(engine: Engine) -> None:
    """The catalogue agrees: no column holding identities is selectable by the reader,
    whether granted on the table or on the column."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public'"
                " AND has_column_privilege('irbis_reader',"
                " format('%I.%I', table_schema, table_name), column_name, 'SELECT')"
            )
        ).all()
    readable = {(t, c) for t, c in rows}
    assert ("threats", "name") in readable  # the check sees grants at all
    leaks = {(t, c) for t, c in readable if t in IDENTITY_TABLES}
    leaks |= {(t, c) for t, cols in IDENTITY_COLUMNS.items() for c in cols if (t, c) in readable}
    names = {"username", "email", "password_hash", "token_hash", "actor", "before", "after"}
    leaks |= {(t, c) for t, c in readable if c in names}
    assert not leaks


def test_logged_in_reads_still_see_uploaders(client, tx_login_as) -> None:
    """Analysts read uploaders' names through the writer; the public, through the reader."""
    analyst = tx_login_as("analyst")
    r = analyst.get("/collections/field_sites/items", params={"limit": 3})
    assert r.status_code == 200 and all(
        "uploaded_by" in f["properties"] for f in r.json()["features"]
    )
    r = client.get("/collections/field_sites/items", params={"limit": 3})
    assert r.status_code == 200 and all(
        "uploaded_by" not in f["properties"] for f in r.json()["features"]
    )
