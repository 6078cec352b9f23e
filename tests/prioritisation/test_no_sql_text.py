"""Prioritisation builds its SQL: no statement written as text in its service or its layer."""

from __future__ import annotations

from pathlib import Path

from tests.core.test_router_sql import sql_in

ROOT = Path(__file__).resolve().parents[2]


def test_prioritisation_writes_no_sql_as_text() -> None:
    found = {
        name: hits
        for name in ("api/services/prioritisation.py", "layers/prioritisation.py")
        if (hits := sql_in((ROOT / name).read_text(encoding="utf-8")))
    }
    assert found == {}, "build statements with SQLAlchemy Core: " + str(found)
