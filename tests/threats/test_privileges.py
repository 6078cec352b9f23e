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
