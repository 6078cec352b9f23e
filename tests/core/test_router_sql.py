"""Routers hold no SQL: statements are built in layers/ (published data) or in a service.

A router parses the request, calls a function and renders; a statement written in a router
would escape the registry's privacy rules and the S608 lint's reach.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTERS = ROOT / "api" / "routers"

#: SQL written as text: the keywords of a statement, in capitals as SQL is written here.
SQL_TEXT = re.compile(
    r"\bSELECT\s|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b|\bWITH\s+\w+\s+AS\s*\("
)
#: Calls that run or wrap SQL text.
SQL_CALLS = {"text", "exec_driver_sql"}


def _strings(node: ast.AST) -> list[str]:
    """The text of a string constant (an f-string's literal parts are constants too)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return []


def sql_in(source: str) -> list[str]:
    """Where ``source`` writes SQL as text: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"{node.lineno}: imports {a.name}" for a in node.names if a.name == "text"]
        elif isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name in SQL_CALLS:
                found.append(f"{node.lineno}: calls {name}()")
        for s in _strings(node):
            if SQL_TEXT.search(s):
                found.append(f"{node.lineno}: SQL in a string: {s.strip()[:60]!r}")
    return found


def test_the_check_finds_sql_written_as_text() -> None:
    assert sql_in("from sqlalchemy import text\n") == ["1: imports text"]
    assert sql_in("conn.exec_driver_sql(q)\n") == ["1: calls exec_driver_sql()"]
    assert sql_in('sa.text("x")\n') == ["1: calls text()"]
    assert sql_in('q = f"SELECT count(*) FROM {t}"\n') == [
        "1: SQL in a string: 'SELECT count(*) FROM'"
    ]
    assert sql_in('q = "DELETE FROM sites WHERE id = 1"\n')
    assert sql_in('q = "WITH t AS (SELECT 1) TABLE t"\n')
    # names that merely end in "text", and words in messages, are not SQL
    clean = 'cost_text(p)\nmsg = "Select a file from the list"\nx = select(Grant.code)\n'
    assert sql_in(clean) == []


def test_no_router_writes_sql() -> None:
    modules = sorted(ROUTERS.glob("*.py"))
    assert len(modules) > 10  # the routers were found
    found = {
        str(path.relative_to(ROOT)): hits
        for path in modules
        if (hits := sql_in(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "SQL belongs in layers/ or api/services/, not in routers: " + str(found)
