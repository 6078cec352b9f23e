"""Test fixtures: a real PostGIS test database, migrated once per run, and a real app.

The database comes from IRBIS_TEST_DATABASE_URL (``make test`` creates it). Each test that
takes ``db_session`` runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from api.db import migrate
from api.db.engine import make_engine
from api.demo import data as dd
from api.settings import Settings

TEST_URL = os.environ.get(
    "IRBIS_TEST_DATABASE_URL", "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis_test"
)
TEST_READER_URL = os.environ.get(
    "IRBIS_TEST_DATABASE_READER_URL",
    "postgresql+psycopg://irbis_reader:irbis_reader@127.0.0.1:5432/irbis_test",
)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def reset_database(url: str) -> None:
    """Drop everything the test role owns (PostGIS, owned by the superuser, stays), whatever
    revision or branch of the schema the database was left at."""
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(text("DROP OWNED BY CURRENT_USER"))
            conn.execute(
                text(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO irbis_reader"
                )
            )
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = Settings.for_database(TEST_URL, TEST_READER_URL)
    s.var_dir = tmp_path_factory.mktemp("var")
    return s


#: Fixtures that reach the test database: a test using any of them is marked ``db``
#: (``pytest -m "not db"`` runs the rest with no database at all).
DB_FIXTURES = frozenset(
    {"migrated", "engine", "demo", "db_session", "app", "client", "live_server", "login_as"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


# Property-based tests draw the same examples on every run and keep no example database, so a
# run on a fresh clone is the run on this machine.
hypothesis_settings.register_profile("irbis", derandomize=True, database=None)
hypothesis_settings.load_profile(os.environ.get("IRBIS_HYPOTHESIS_PROFILE", "irbis"))


@pytest.fixture(autouse=True)
def _seeded_randomness(request: pytest.FixtureRequest) -> None:
    """Every test draws the same random numbers on every run, whatever runs before it."""
    import random
    import zlib

    import numpy as np

    seed = zlib.crc32(request.node.nodeid.encode())
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _require_database(url: str) -> None:
    """Stop the run at once, with what to do, when the test database does not answer."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    eng = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with eng.connect():
            pass
    except OperationalError as exc:
        where = make_url(url).render_as_string(hide_password=True)
        pytest.exit(
            f"the test database {where} does not answer ({type(exc.orig).__name__}). "
            "`make test` installs and starts PostgreSQL and creates it; or set "
            "IRBIS_TEST_DATABASE_URL, or run only the tests that need none: pytest -m 'not db'",
            returncode=3,
        )
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> str:
    """The test database, emptied and migrated to head once per run."""
    _require_database(settings.database.url)
    reset_database(settings.database.url)
    migrate.upgrade(settings.database.url, "head")
    return settings.database.url


@pytest.fixture(scope="session")
def engine(migrated: str, settings: Settings) -> Iterator[Engine]:
    eng = make_engine(migrated, settings=settings.database)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def demo(engine: Engine, settings: Settings) -> dict[str, int]:
    """The demo data loaded once into the test database."""
    from api.demo import load_demo

    return load_demo(engine, settings, progress=False)


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()


@pytest.fixture
def app(settings: Settings, demo: dict[str, int]):  # type: ignore[no-untyped-def]
    from api.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(settings: Settings, demo: dict[str, int]) -> Iterator[str]:
    """The real app served by uvicorn on 127.0.0.1 in a thread, for browsers and GDAL."""
    import uvicorn

    from api.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh page that records console errors in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def kok_jailau(engine: Engine, demo: dict[str, int]) -> int:
    """The id of the demo's Kok-Jailau threat."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM threats WHERE name = :n"), {"n": dd.KOK_JAILAU["name"]}
            ).scalar_one()
        )


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# --------------------------------------------------------------------------------------------
# Accounts: real users, logged in for real (api.auth.testing)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def login_as(app, engine):  # type: ignore[no-untyped-def]
    """``login_as(role, grants=(), username=None)``: a TestClient logged in through /login as a
    new user with ``role`` (comma-separate several). The client has ``.username`` and
    ``.csrf`` (send it as ``X-CSRF-Token`` on cookie-authenticated writes). ``role="anonymous"``
    gives a client that is not logged in."""
    from fastapi.testclient import TestClient

    from api.auth.testing import login, make_user

    clients: list[TestClient] = []

    def _login(role: str, grants: tuple[str, ...] | list[str] = (), username: str | None = None):  # type: ignore[no-untyped-def]
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        c.username = None  # type: ignore[attr-defined]
        c.csrf = ""  # type: ignore[attr-defined]
        if role == "anonymous":
            return c
        name = make_user(engine, username, roles=role.split(","), grants=grants)
        c.csrf = login(c, name)  # type: ignore[attr-defined]
        c.username = name  # type: ignore[attr-defined]
        return c

    yield _login
    for c in clients:
        c.__exit__(None, None, None)
