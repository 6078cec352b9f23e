"""Engines and sessions. Created from settings by the app factory or the CLI, never at import."""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from api.settings import DatabaseSettings

#: Seconds to wait for a connection to PostgreSQL (and for a free one from the pool) before
#: giving up: while the database is down, a request fails fast with 503 instead of hanging.
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10


def make_engine(url: str, *, settings: DatabaseSettings | None = None, **kwargs: Any) -> Engine:
    """An engine that survives the database going away and coming back.

    - a statement timeout, so no request can hold the database forever;
    - a connect timeout, so no request waits long for a database that is down;
    - a pool of ``settings.pool_size`` connections kept open, with no overflow: connections
      opened for a burst beyond the pool and closed again as they came back cost a new
      PostgreSQL backend for every dozen requests at 16 at once;
    - a connection is tested as it leaves the pool without a round trip (:func:`_check_alive`):
      one that PostgreSQL closed (a restart, a terminated backend) is replaced, and a failed
      statement on a dead connection replaces every older one, so the service recovers by
      itself once the database is back; connections older than ``settings.pool_recycle_s``
      are replaced too (a firewall or proxy may drop idle ones without a word).
    """
    timeout = settings.statement_timeout_ms if settings else 30_000
    pool_size = settings.pool_size if settings else 5
    recycle = settings.pool_recycle_s if settings else 1800
    connect_args: dict[str, Any] = {
        "options": f"-c statement_timeout={timeout}",
        "connect_timeout": CONNECT_TIMEOUT_S,
    }
    connect_args.update(kwargs.pop("connect_args", {}))
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT_S,
        "pool_recycle": recycle,
    }
    options.update(kwargs)
    engine = create_engine(url, connect_args=connect_args, **options)
    event.listen(engine, "checkout", _check_alive)
    return engine


def _check_alive(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """Refuse a pooled connection that PostgreSQL has closed, without a round trip.

    An idle connection's socket has nothing to read: when PostgreSQL ends a session (a
    restart, ``pg_terminate_backend``) it sends its last message and closes the socket, which
    then polls readable. Such a connection is refused (``DisconnectionError``) and the pool
    replaces it with a new one before handing it out. This costs a ``poll`` system call
    where ``pool_pre_ping`` costs a statement sent and answered before every checkout."""
    fileno = dbapi_connection.fileno()
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise exc.DisconnectionError("the database closed this connection")


class Pools:
    """The connection pools of an app's engines, closed when it stops, and again by any thread
    that outlives it (a start-up check, a computation still at work) as that thread ends.

    They are closed in place: ``Engine.dispose()`` would swap in a new pool, and a connection
    out at that moment would go back to the old one, which nobody closes again (it would stay
    open until collected)."""

    def __init__(self, *engines: Engine) -> None:
        self._pools = tuple(e.pool for e in engines)
        self.stopped = threading.Event()

    def close(self) -> None:
        """The app stops: every connection in the pools is closed."""
        self.stopped.set()
        self._dispose()

    def close_if_stopped(self) -> None:
        """A thread ends: what it handed back is closed if the app has stopped meanwhile."""
        if self.stopped.is_set():
            self._dispose()

    def _dispose(self) -> None:
        for pool in self._pools:
            pool.dispose()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def set_actor(session: Session, actor: str | None) -> None:
    """Name who is writing, for the audit log (transaction-local)."""
    session.execute(text("SELECT set_config('irbis.actor', :actor, true)"), {"actor": actor or ""})


@contextmanager
def transaction(engine: Engine, *, actor: str | None = None) -> Iterator[Session]:
    """One all-or-nothing unit of work: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        set_actor(session, actor)
        yield session


def database_state(engine: Engine) -> dict[str, object]:
    """What /health reports about the database."""
    try:
        with engine.connect() as conn:
            postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
            try:
                rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:
                rev = None
        return {"status": "up", "postgis": postgis, "revision": rev}
    except Exception as exc:  # the database may be down: report it, never raise
        return {"status": "down", "error": type(exc).__name__}


__all__ = [
    "Pools",
    "database_state",
    "event",
    "make_engine",
    "session_factory",
    "set_actor",
    "transaction",
]
