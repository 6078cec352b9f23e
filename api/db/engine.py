"""Engines and sessions. Created from settings by the app factory or the CLI, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from api.settings import DatabaseSettings

#: Seconds to wait for a connection to PostgreSQL (and for a free one from the pool) before
#: giving up: while the database is down, a request fails fast with 503 instead of hanging.
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10


def make_engine(url: str, *, settings: DatabaseSettings | None = None, **kwargs: Any) -> Engine:
    """An engine that survives the database going away and coming back.

    - a statement timeout, so no request can hold the database forever;
    - a connect timeout, so no request waits long for a database that is down;
    - ``pool_pre_ping``: each connection is tested as it leaves the pool, and one that died
      with a restart of PostgreSQL is replaced (with every older one), so the service
      recovers by itself once the database is back.
    """
    timeout = settings.statement_timeout_ms if settings else 30_000
    pool_size = settings.pool_size if settings else 5
    connect_args: dict[str, Any] = {
        "options": f"-c statement_timeout={timeout}",
        "connect_timeout": CONNECT_TIMEOUT_S,
    }
    connect_args.update(kwargs.pop("connect_args", {}))
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_timeout": POOL_TIMEOUT_S,
        "pool_pre_ping": True,
    }
    options.update(kwargs)
    return create_engine(url, connect_args=connect_args, **options)


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


__all__ = ["database_state", "event", "make_engine", "session_factory", "set_actor", "transaction"]
