"""The connection pools of ``api.db.engine.make_engine``: a fixed set of connections kept open
(no overflow opened and closed per request under load), no round trip when a connection
leaves the pool, and a connection PostgreSQL closed or that has grown old replaced.

The outage as a whole (PostgreSQL restarted under a running server) is tests/core/test_outage.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.db.engine import make_engine
from api.settings import DatabaseSettings, Settings

PID = text("SELECT pg_backend_pid()")


@pytest.fixture
def observer(migrated: str, settings: Settings) -> Iterator[Engine]:
    """An engine of its own, to look at the other engines' backends from outside."""
    eng = make_engine(migrated, settings=settings.database, isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


def _engine(migrated: str, settings: Settings, **changes: object) -> Engine:
    return make_engine(migrated, settings=settings.database.model_copy(update=changes))


def _pids_held_at_once(engine: Engine, n: int) -> set[int]:
    """The backends of ``n`` connections taken at the same time, all returned afterwards."""
    held: list[Connection] = []
    try:
        for _ in range(n):
            held.append(engine.connect())
        return {int(c.execute(PID).scalar_one()) for c in held}
    finally:
        for c in held:
            c.close()


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRBIS_DATABASE_POOL_SIZE", "7")
    monkeypatch.setenv("IRBIS_DATABASE_POOL_RECYCLE_S", "90")
    db = DatabaseSettings()
    assert (db.pool_size, db.pool_recycle_s) == (7, 90)
    engine = make_engine(db.url, settings=db)
    try:
        assert engine.pool.size() == 7
        assert engine.pool._recycle == 90  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    monkeypatch.setenv("IRBIS_DATABASE_POOL_RECYCLE_S", "0")
    with pytest.raises(ValueError, match="pool_recycle_s"):
        DatabaseSettings()


def test_a_burst_reuses_the_same_connections(migrated: str, settings: Settings) -> None:
    """16 requests at once (the tile benchmark's load) fit the default pool, and every
    connection is kept as it is returned: the next burst gets the same backends (a pool of 10
    with overflow closed the 6 beyond its size and opened new ones)."""
    assert DatabaseSettings.model_fields["pool_size"].default >= 16
    engine = _engine(
        migrated, settings, pool_size=DatabaseSettings.model_fields["pool_size"].default
    )
    try:
        first = _pids_held_at_once(engine, 16)
        again = _pids_held_at_once(engine, 16)
        assert len(first) == 16 and again == first
    finally:
        engine.dispose()


def test_no_connection_beyond_the_pool(migrated: str, settings: Settings) -> None:
    """A request beyond the pool waits for a connection to come back (bounded by the pool
    timeout) rather than opening one more."""
    engine = make_engine(
        migrated,
        settings=settings.database.model_copy(update={"pool_size": 2}),
        pool_timeout=0.3,
    )
    try:
        with engine.connect(), engine.connect():
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                engine.connect()
            assert time.monotonic() - started >= 0.25
        held = engine.connect()
        threading.Timer(0.2, held.close).start()
        with engine.connect(), engine.connect() as waited:  # the second gets ``held``'s
            assert waited.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def _activity(observer: Engine, pid: int) -> tuple[str, object] | None:
    with observer.connect() as conn:
        row = conn.execute(
            text("SELECT query, state_change FROM pg_stat_activity WHERE pid = :pid"),
            {"pid": pid},
        ).one_or_none()
    return None if row is None else (str(row[0]), row[1])


def test_taking_a_connection_sends_nothing(
    migrated: str, settings: Settings, observer: Engine
) -> None:
    """No statement goes to PostgreSQL as a pooled connection is handed out (a pre-ping would
    show as the backend's last statement)."""
    engine = _engine(migrated, settings, pool_size=1)
    try:
        with engine.connect() as conn:
            pid = int(conn.execute(PID).scalar_one())
        before = _activity(observer, pid)
        assert before is not None
        for _ in range(3):
            with engine.connect() as conn:
                assert _activity(observer, pid) == before
    finally:
        engine.dispose()


def _wait_gone(observer: Engine, pid: int) -> None:
    deadline = time.monotonic() + 10
    while _activity(observer, pid) is not None:
        assert time.monotonic() < deadline, f"backend {pid} did not end"
        time.sleep(0.05)


def test_a_connection_postgresql_closed_is_replaced(
    migrated: str, settings: Settings, observer: Engine
) -> None:
    """A pooled connection whose backend ended (a restart, ``pg_terminate_backend``) is
    replaced as it leaves the pool: the statement on it runs on a new backend."""
    engine = _engine(migrated, settings, pool_size=2)
    try:
        pids = _pids_held_at_once(engine, 2)
        with observer.connect() as conn:
            for pid in pids:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        for pid in pids:
            _wait_gone(observer, pid)
        after = _pids_held_at_once(engine, 2)
        assert len(after) == 2 and not after & pids
    finally:
        engine.dispose()


def test_an_old_connection_is_replaced(migrated: str, settings: Settings) -> None:
    engine = _engine(migrated, settings, pool_size=1, pool_recycle_s=1)
    try:
        with engine.connect() as conn:
            first = conn.execute(PID).scalar_one()
        with engine.connect() as conn:
            assert conn.execute(PID).scalar_one() == first
        time.sleep(1.1)
        with engine.connect() as conn:
            assert conn.execute(PID).scalar_one() != first
    finally:
        engine.dispose()


def test_a_connection_out_when_the_app_stops_is_closed_as_its_thread_ends(
    migrated: str, settings: Settings
) -> None:
    """The app's :class:`~api.db.engine.Pools` closes its pools when it stops; a thread still
    holding a connection then hands it back afterwards and calls ``close_if_stopped`` as it
    ends (as the app's start-up check and the grants warmer do): the connection is closed,
    not left open in a pool nobody closes again (``Engine.dispose()`` swaps the pool, and the
    connection went back to the old one)."""
    from api.db.engine import Pools

    engine, reader = _engine(migrated, settings), _engine(migrated, settings)
    pools = Pools(engine, reader)
    try:
        held = engine.connect()
        held.execute(PID)
        raw = held.connection.dbapi_connection
        assert raw is not None
        pools.close()  # the app stops while the thread holds its connection
        held.close()  # the thread hands it back
        assert not raw.closed  # idle in the pool, still open
        pools.close_if_stopped()  # the thread ends
        assert raw.closed
        assert engine.pool.checkedin() == 0
    finally:
        engine.dispose()
        reader.dispose()


def test_a_thread_ending_while_the_app_runs_leaves_the_pools_alone(
    migrated: str, settings: Settings
) -> None:
    from api.db.engine import Pools

    engine = _engine(migrated, settings)
    pools = Pools(engine)
    try:
        with engine.connect() as conn:
            conn.execute(PID)
            raw = conn.connection.dbapi_connection
        pools.close_if_stopped()
        assert raw is not None and not raw.closed and engine.pool.checkedin() == 1
    finally:
        engine.dispose()
