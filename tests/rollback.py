"""Engines bound to one test connection, inside a transaction that is rolled back.

The app's code opens transactions on engines (``engine.begin()``, ``Session(engine)``,
``transaction(engine)``) and commits them. A test that must leave nothing behind gives the app
two engines (writer and read-only) whose connections are all the test's one connection, and
whose ``BEGIN``/``COMMIT``/``ROLLBACK`` are a ``SAVEPOINT``/``RELEASE``/``ROLLBACK TO`` inside
the test's transaction (the way Django's ``TestCase`` nests atomic blocks). At teardown the
test's transaction is rolled back: every write of the test, through the API or not, is gone.

The read-only engine takes the read-only role (``SET ROLE``) while it holds the connection, so
anonymous reads are still made with that role's privileges and see the test's writes.

Data versions (``layer_versions``) are rolled back with the rest, so the numbers a test reached
will be reached again by later writes: what the process keeps by data version (the grants'
answers) is forgotten when the transaction ends (:func:`forget_versioned_answers`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from api.services import grants
from api.versions import DataVersions

#: The name the dialect below is registered under (``postgresql+<name>://``).
DRIVER = "irbis_rollback"

#: The setting holding the time the app's current transaction began (:func:`transaction_clock`).
CLOCK_SETTING = "irbis.test_transaction_time"


@dataclass
class _Open:
    owner: int  # id() of the pooled connection that began it
    name: str
    outcome: str | None = None  # "commit" or "rollback" once its owner has ended it


@dataclass
class Savepoints:
    """The savepoints open on the test's connection, shared by the engines bound to it.

    A transaction ended while one begun after it is still open (never the case in the app
    today: its connections nest) is ended when that one ends; ``out_of_order`` counts them.
    """

    seq: int = 0
    stack: list[_Open] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    out_of_order: int = 0
    clock: bool = False  # each app transaction gets its own time (:func:`transaction_clock`)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def begin(self, conn: Any) -> None:
        with self.lock:
            if self.clock and not self.stack:
                _run(conn, f"SELECT set_config('{CLOCK_SETTING}', clock_timestamp()::text, true)")
            self.seq += 1
            name = f"app_tx_{self.seq}"
            _run(conn, f"SAVEPOINT {name}")
            self.stack.append(_Open(id(conn), name))

    def end(self, conn: Any, outcome: str) -> None:
        with self.lock:
            mine = [o for o in self.stack if o.owner == id(conn) and o.outcome is None]
            if not mine:  # nothing begun (a pool reset, or the dialect's first connect)
                return
            mine[-1].outcome = outcome
            if mine[-1] is not self.stack[-1]:
                self.out_of_order += 1
            while self.stack and self.stack[-1].outcome is not None:
                done = self.stack.pop()
                if done.outcome == "rollback":
                    _run(conn, f"ROLLBACK TO SAVEPOINT {done.name}")
                _run(conn, f"RELEASE SAVEPOINT {done.name}")
            if not self.stack:
                # What ends with a real transaction (SET LOCAL, set_config(..., true)) would
                # otherwise outlive the released savepoint: back to the session's values.
                _run(conn, "SET statement_timeout TO DEFAULT")
                _run(conn, "SELECT set_config('irbis.actor', '', true)")

    def take_role(self, conn: Any, role: str) -> None:
        with self.lock:
            self.roles.append(role)
            _run(conn, f"SET ROLE {role}")

    def give_back_role(self, conn: Any) -> None:
        with self.lock:
            self.roles.pop()
            _run(conn, f"SET ROLE {self.roles[-1]}" if self.roles else "RESET ROLE")


def _run(conn: Any, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
    finally:
        cur.close()


class SavepointDialect(PGDialect_psycopg):
    """psycopg's dialect whose transactions are savepoints of the test's transaction."""

    savepoints: Savepoints
    supports_statement_cache = True  # nothing here changes how statements compile

    def do_begin(self, dbapi_connection: Any) -> None:
        self.savepoints.begin(dbapi_connection)

    def do_commit(self, dbapi_connection: Any) -> None:
        self.savepoints.end(dbapi_connection, "commit")

    def do_rollback(self, dbapi_connection: Any) -> None:
        self.savepoints.end(dbapi_connection, "rollback")

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        """Statements of an ``AUTOCOMMIT`` engine run in savepoints like the others (psycopg
        cannot switch to autocommit inside the test's transaction)."""

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return "READ COMMITTED"

    def do_close(self, dbapi_connection: Any) -> None:
        """The test's connection belongs to the test: disposing an engine does not close it."""

    def do_terminate(self, dbapi_connection: Any) -> None:
        """As :meth:`do_close`."""


registry.register(f"postgresql.{DRIVER}", __name__, "SavepointDialect")


def _bound_engine(conn: Connection, savepoints: Savepoints, role: str | None) -> Engine:
    dbapi = conn.connection.dbapi_connection
    url = make_url(str(conn.engine.url)).set(drivername=f"postgresql+{DRIVER}")
    engine = create_engine(
        url, creator=lambda: dbapi, poolclass=StaticPool, pool_reset_on_return=None
    )
    dialect = engine.dialect
    assert isinstance(dialect, SavepointDialect)
    dialect.savepoints = savepoints
    own = role or str(conn.execute(text("SELECT current_user")).scalar_one())

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        savepoints.take_role(dbapi_conn, own)

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        savepoints.give_back_role(dbapi_conn)

    return engine


@dataclass
class RolledBack:
    """The test's connection in its transaction, and the two engines bound to it."""

    connection: Connection
    engine: Engine
    reader_engine: Engine
    savepoints: Savepoints


def bind(conn: Connection, reader_role: str) -> RolledBack:
    """Engines whose transactions are savepoints inside ``conn``'s open transaction: the
    writer with ``conn``'s role, the reader with ``reader_role``."""
    savepoints = Savepoints()
    return RolledBack(
        connection=conn,
        engine=_bound_engine(conn, savepoints, None),
        reader_engine=_bound_engine(conn, savepoints, reader_role),
        savepoints=savepoints,
    )


@asynccontextmanager
async def _no_lifespan(app: object) -> AsyncIterator[None]:
    yield


@contextmanager
def bound_app(app: FastAPI, rolled_back: RolledBack) -> Iterator[FastAPI]:
    """``app`` started (its lifespan run once), with its engines (so its sessions,
    dependencies and middlewares) swapped for ``rolled_back``'s: every request runs in the
    test's transaction. Clients entered while it is bound do not run the lifespan again; its
    own engines are put back before it stops."""
    with TestClient(app):
        state, router = app.state, app.router
        real = (state.engine, state.reader_engine, state.versions, router.lifespan_context)
        state.engine, state.reader_engine = rolled_back.engine, rolled_back.reader_engine
        state.versions = DataVersions(rolled_back.engine)
        router.lifespan_context = _no_lifespan
        try:
            yield app
        finally:
            state.engine, state.reader_engine, state.versions, router.lifespan_context = real
    assert rolled_back.savepoints.out_of_order == 0, "the app ended transactions out of order"


#: Audit rows take the time the app's transaction began, as ``now()`` does for a real one.
_CLOCK_SQL = f"""
CREATE FUNCTION irbis_test_transaction_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.at := COALESCE(NULLIF(current_setting('{CLOCK_SETTING}', true), '')::timestamptz, NEW.at);
  RETURN NEW;
END
$$;
CREATE TRIGGER irbis_test_transaction_time BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION irbis_test_transaction_time();
"""


def transaction_clock(rolled_back: RolledBack) -> None:
    """Give each transaction of the app its own time in the audit log.

    The audit trigger stamps rows with ``now()``, the time the *test's* transaction began, so
    every change made through the bound engines would carry one time, and what groups changes
    by transaction (a grant's history) would see one transaction. Here the outermost savepoint
    of each app transaction records ``clock_timestamp()``, and a trigger (made inside the
    test's transaction, gone with it) stamps the audit rows with it: what a committed
    transaction's ``now()`` would have given. Rows written by the test outside the app's
    transactions keep the time of the last one (or the test's start)."""
    rolled_back.connection.exec_driver_sql(_CLOCK_SQL)
    rolled_back.savepoints.clock = True


#: What the process keeps by data version: answers computed in a rolled-back transaction.
VERSIONED_CACHES = (
    grants.PORTFOLIO_CACHE,
    grants.PAGE_CACHE,
    grants.GAP_CACHE,
    grants.FIGURE_CACHE,
)


def forget_versioned_answers() -> None:
    """Empty the caches keyed by data version: after a rollback, the versions the test's
    writes reached will name other data."""
    for cache in VERSIONED_CACHES:
        cache.clear()
