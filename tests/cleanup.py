"""What the tests leave in the shared test database: a guard, and a clean-up for the few tests
that must commit.

Tests write in a transaction that is rolled back (:mod:`tests.rollback`). :class:`Leftovers`
counts the rows of every table of the schema once the demo is loaded, again at the end of each
test module, and at the end of the run: a table that holds more rows than after the demo load
names the modules that grew it. A module that still commits for a reason is listed in
``EXEMPT`` with that reason; what it adds is allowed.

A test that truly needs a commit (work on a background thread with connections of its own, a
real server) takes the ``cleaned_up`` fixture (:func:`marks` before it, :func:`delete_since`
after): the rows it added (every row of a table with an ``id`` above the mark) are deleted, the
rows of the audit log its writes and those deletions made too. A module whose tests commit
(the live server's browsers and HTTP clients, servers and commands in processes of their own,
schemathesis, notebooks, apps with settings of their own, analysis runs shared by its tests)
is marked ``cleaned_up`` (``pytestmark``): the same is done once around the whole module, the
run-wide fixtures its tests take being set up before the mark; what it starts must have ended
by the module's end. What is committed once for the whole run (the shared planning grid, the
threat tests' people) is deleted by its fixture at the run's end (:func:`delete_plans`,
:func:`delete_users`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import (
    Engine,
    Table,
    and_,
    create_engine,
    delete,
    func,
    inspect,
    or_,
    select,
    table,
)
from sqlalchemy.pool import NullPool

from api.db.models import Base

#: Tables that are not the application's data.
NOT_DATA = frozenset({"spatial_ref_sys", "alembic_version"})

#: Test modules (or folders, ending in "/") that still commit to the test database, with the
#: reason; what they add is not counted against the run. Remove a module once it writes in a
#: rolled-back transaction (db_tx, tx_client, tx_login_as, tx_cli, tx_engine) or cleans up
#: (the ``cleaned_up`` fixture for a test, the ``cleaned_up`` mark for a module).
EXEMPT: dict[str, str] = {
    "tests/core/test_demo.py": (
        "`irbis load demo` twice, with its analyses, as an operator runs it: the first load "
        "adds the demo's modelled layers (analysis runs, the demo's solved plan), which the "
        "`demo` fixture does not make"
    ),
}


def exempt(module: str) -> bool:
    """Whether ``module`` (a path relative to the repository) is listed in :data:`EXEMPT`,
    itself or by its folder."""
    return any(module == k or (k.endswith("/") and module.startswith(k)) for k in EXEMPT)


def counting_engine(url: str) -> Engine:
    """An engine of the guard's own, that keeps no connection open between its counts."""
    return create_engine(url, poolclass=NullPool)


def data_tables(engine: Engine) -> list[str]:
    """The tables of the schema that hold the application's data."""
    names = inspect(engine).get_table_names(schema="public")
    return sorted(n for n in names if n not in NOT_DATA)


def row_counts(engine: Engine, tables: list[str]) -> dict[str, int]:
    """The number of rows of each table, in one statement."""
    counts = [select(func.count()).select_from(table(t)).scalar_subquery() for t in tables]
    with engine.connect() as conn:
        row = conn.execute(select(*counts)).one()
    return dict(zip(tables, (int(n) for n in row), strict=True))


@dataclass
class Leftovers:
    """Row counts after the demo load, at each module's end and at the run's end."""

    engine: Engine | None = None
    tables: list[str] = field(default_factory=list)
    baseline: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    grown_by: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    ending: str = ""  # the run's last module, counted once the session's fixtures are gone

    def start(self, engine: Engine) -> None:
        """Take the counts after the demo load, with ``engine`` (:func:`counting_engine` for
        the run's guard: it must outlive the fixtures)."""
        self.engine = engine
        self.tables = data_tables(engine)
        self.baseline = row_counts(engine, self.tables)
        self.last = dict(self.baseline)

    def module_ended(self, module: str) -> None:
        if self.engine is None:
            return
        now = row_counts(self.engine, self.tables)
        for t in self.tables:
            if now[t] != self.last[t]:
                self.grown_by[module][t] = now[t] - self.last[t]
        self.last = now

    def grown(self) -> dict[str, int]:
        """The tables that hold more rows than after the demo load, beyond what the exempt
        modules added: table -> rows more."""
        if self.engine is None:
            return {}
        now = row_counts(self.engine, self.tables)
        allowed: dict[str, int] = defaultdict(int)
        for module, deltas in self.grown_by.items():
            if exempt(module):
                for t, n in deltas.items():
                    allowed[t] += max(n, 0)
        return {
            t: now[t] - self.baseline[t]
            for t in self.tables
            if now[t] - self.baseline[t] > allowed[t]
        }

    def report(self, grown: dict[str, int]) -> str:
        lines = [
            "the tests left rows in the test database (tables that grew since the demo load: "
            + ", ".join(f"{t} +{n}" for t, n in sorted(grown.items()))
            + ")",
            "modules whose end found these tables grown (what a fixture made for the whole run "
            "counts at the end of the first module that took it; write in a rolled-back "
            "transaction: db_tx, tx_client, tx_login_as, tx_cli; or clean up and list the "
            "module in tests.cleanup.EXEMPT with the reason):",
        ]
        for module, deltas in sorted(self.grown_by.items()):
            mine = {t: n for t, n in deltas.items() if t in grown and n > 0}
            if mine and not exempt(module):
                lines.append(f"  {module}: " + ", ".join(f"{t} +{n}" for t, n in mine.items()))
        return "\n".join(lines)


LEFTOVERS = Leftovers()


def _with_ids() -> list[Table]:
    """The tables of the models with an integer ``id``, parents before children."""
    return [
        t
        for t in Base.metadata.sorted_tables
        if "id" in t.c and t.c.id.type.python_type is int and t.name not in NOT_DATA
    ]


def marks(engine: Engine) -> dict[str, int]:
    """The highest ``id`` of each table that has one (0 when empty), in one statement."""
    tables = _with_ids()
    maxima = [select(func.coalesce(func.max(t.c.id), 0)).scalar_subquery() for t in tables]
    with engine.connect() as conn:
        row = conn.execute(select(*maxima)).one()
    return {t.name: int(n) for t, n in zip(tables, row, strict=True)}


def delete_since(engine: Engine, since: dict[str, int]) -> None:
    """Delete every row added after ``since`` (:func:`marks`): children before parents, and
    last the audit rows of the test's writes and of these deletions."""
    with engine.begin() as conn:
        for t in reversed(_with_ids()):
            if t.name != "audit_log":
                conn.execute(delete(t).where(t.c.id > since[t.name]))
        audit = Base.metadata.tables["audit_log"]
        conn.execute(delete(audit).where(audit.c.id > since["audit_log"]))


def delete_plans(engine: Engine, grid_id: int) -> None:
    """Delete a planning grid made for the run, its units and the scenarios solved on it, with
    their audit rows (those of their making and of this deletion)."""
    scenarios = Base.metadata.tables["prioritisation_scenarios"]
    grids = Base.metadata.tables["planning_grids"]
    audit = Base.metadata.tables["audit_log"]
    with engine.begin() as conn:
        ids = [
            str(i)
            for i in conn.execute(
                delete(scenarios).where(scenarios.c.grid_id == grid_id).returning(scenarios.c.id)
            ).scalars()
        ]
        conn.execute(delete(grids).where(grids.c.id == grid_id))
        conn.execute(
            delete(audit).where(
                or_(
                    and_(audit.c.table_name == "prioritisation_scenarios", audit.c.row_id.in_(ids)),
                    and_(audit.c.table_name == "planning_grids", audit.c.row_id == str(grid_id)),
                )
            )
        )


def delete_users(engine: Engine, usernames: list[str]) -> None:
    """Delete users made for the run (their roles, grant links, sessions and tokens go with
    them), with the audit rows of their accounts (those of their making and of this deletion)."""
    users = Base.metadata.tables["users"]
    audit = Base.metadata.tables["audit_log"]
    with engine.begin() as conn:
        ids = [
            str(i)
            for i in conn.execute(
                delete(users).where(users.c.username.in_(usernames)).returning(users.c.id)
            ).scalars()
        ]
        conn.execute(
            delete(audit).where(
                or_(
                    and_(audit.c.table_name == "users", audit.c.row_id.in_(ids)),
                    and_(
                        audit.c.table_name.in_(["user_roles", "user_grants", "api_tokens"]),
                        or_(
                            audit.c.after["user_id"].astext.in_(ids),
                            audit.c.before["user_id"].astext.in_(ids),
                        ),
                    ),
                )
            )
        )
