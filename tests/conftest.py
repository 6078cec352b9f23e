"""Test fixtures: a real PostGIS test database, migrated once per run, and a real app.

The database comes from IRBIS_TEST_DATABASE_URL (``make test`` creates it). A test that takes
``db_tx``, ``tx_client`` or ``tx_login_as`` (or ``db_session``) runs inside a transaction that
is rolled back, the app included (:mod:`tests.rollback`); the others (``client``, ``login_as``,
``live_server``: several processes or threads, notifications) commit to the test database,
and take ``cleaned_up`` (a test) or are marked ``cleaned_up`` (a module): what they added is
deleted after them. The commands of ``irbis`` run in the test's transaction with ``tx_cli``.
At the run's end the tables hold as many rows as after the demo load, but for what the
modules listed in ``tests.cleanup.EXEMPT`` add (:mod:`tests.cleanup`).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.db import migrate
from api.db.engine import make_engine
from api.demo import data as dd
from api.services import prioritisation as prio
from api.settings import Settings
from tests import cleanup
from tests.cli import bind_cli
from tests.rollback import RolledBack, bind, bound_app, forget_versioned_answers

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

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
    # bounds no test reaches by accident (the live server's browsers and schemathesis
    # included); tests/api/test_refusals.py shows that the defaults bound
    s.heavy.rate = "100000/minute"
    s.heavy.anonymous_filter_rate = "100000/minute"
    s.ratelimit.refusals_free = 100_000
    return s


#: Fixtures that reach the test database: a test using any of them is marked ``db``
#: (``pytest -m "not db"`` runs the rest with no database at all).
DB_FIXTURES = frozenset(
    {
        "migrated",
        "engine",
        "demo",
        "db_session",
        "db_tx",
        "app",
        "client",
        "tx_app",
        "tx_settings",
        "tx_client",
        "live_server",
        "login_as",
        "tx_login_as",
        "tx_cli",
        "tx_engine",
    }
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
    seed = zlib.crc32(request.node.nodeid.encode())
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _require_database(url: str) -> None:
    """Stop the run at once, with what to do, when the test database does not answer."""
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

    counts = load_demo(engine, settings, progress=False)
    cleanup.LEFTOVERS.start(cleanup.counting_engine(settings.database.url))
    return counts


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    """At the run's end the test database holds what the demo load left, but for what the
    modules of ``tests.cleanup.EXEMPT`` add: the tables that grew are named, and the modules
    at whose end they had grown (:class:`tests.cleanup.Leftovers`)."""
    yield
    left = cleanup.LEFTOVERS
    if left.ending:
        left.module_ended(left.ending)
    grown = left.grown()
    if grown:
        pytest.fail(left.report(grown), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Counts the tables' rows at the end of each test module (:mod:`tests.cleanup`)."""
    module = item.nodeid.split("::")[0]
    if nextitem is None:  # the run's end: the guard above counts once the fixtures are gone
        cleanup.LEFTOVERS.ending = module
    yield
    if nextitem is not None and nextitem.nodeid.split("::")[0] != module:
        cleanup.LEFTOVERS.module_ended(module)


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


def _reader_role() -> str:
    return make_url(TEST_READER_URL).username or "irbis_reader"


@pytest.fixture(scope="session")
def _can_take_reader_role(engine: Engine) -> None:
    """The writer must be allowed to ``SET ROLE`` to the read-only role (``db_tx``)."""
    role = _reader_role()
    with engine.connect() as conn:
        member = conn.execute(
            text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": role}
        ).scalar_one()
    if not member:
        pytest.fail(
            f"the test role may not take the read-only role {role}: "
            f"run scripts/database.sh (it grants {role} to the writer)",
            pytrace=False,
        )


@pytest.fixture
def db_tx(
    engine: Engine, demo: dict[str, int], _can_take_reader_role: None
) -> Iterator[RolledBack]:
    """The test's connection inside a transaction rolled back at teardown, with a writer and
    a read-only engine bound to it (:mod:`tests.rollback`): whatever the test writes through
    them, or through ``tx_client``/``tx_login_as``, is gone after it."""
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield bind(conn, _reader_role())
    finally:
        trans.rollback()
        conn.close()
        forget_versioned_answers()


@pytest.fixture
def tx_app(settings: Settings, db_tx: RolledBack, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The real app whose engines (so its sessions, dependencies and middlewares) are the
    ones of ``db_tx``: every request runs in the test's transaction. Its files (evidence,
    caches, its secret key) go to the test's own folder: they do not outlive the test either
    (``tx_settings.var_dir``)."""
    from api.app import create_app

    own = settings.model_copy(deep=True)
    own.database.listen = False  # nothing is committed: no notification will come
    own.var_dir = tmp_path / "var"
    with bound_app(create_app(own), db_tx) as app:
        yield app


@pytest.fixture
def tx_settings(tx_app) -> Settings:  # type: ignore[no-untyped-def]
    """The settings of ``tx_app`` (its own ``var_dir``)."""
    own: Settings = tx_app.state.settings
    return own


@pytest.fixture
def tx_client(tx_app):  # type: ignore[no-untyped-def]
    """A TestClient of ``tx_app`` (anonymous)."""
    from fastapi.testclient import TestClient

    return TestClient(tx_app)


@pytest.fixture
def tx_login_as(tx_app, db_tx: RolledBack):  # type: ignore[no-untyped-def]
    """:func:`login_as` for ``tx_app``: the users are made in the test's transaction."""
    from fastapi.testclient import TestClient

    from api.auth.testing import login, make_user

    def _login(role: str, grants: tuple[str, ...] | list[str] = (), username: str | None = None):  # type: ignore[no-untyped-def]
        c = TestClient(tx_app)
        c.username = None  # type: ignore[attr-defined]
        c.csrf = ""  # type: ignore[attr-defined]
        if role == "anonymous":
            return c
        name = make_user(db_tx.engine, username, roles=role.split(","), grants=grants)
        c.csrf = login(c, name)  # type: ignore[attr-defined]
        c.username = name  # type: ignore[attr-defined]
        return c

    return _login


@pytest.fixture
def tx_engine(db_tx: RolledBack) -> Engine:
    """The writer engine of ``db_tx``: what a test writes or reads through it is in the
    test's transaction (it sees the app's and the commands' writes, and is rolled back)."""
    return db_tx.engine


@pytest.fixture
def cleaned_up(engine: Engine, demo: dict[str, int]) -> Iterator[None]:
    """For a test that must commit (work on a thread or in a process with connections of its
    own): every row it added is deleted after it, with the audit rows (:mod:`tests.cleanup`)."""
    with _deleting_what_is_added(engine):
        yield


@contextlib.contextmanager
def _deleting_what_is_added(engine: Engine) -> Iterator[None]:
    """Every row added inside the block is deleted at its end, with the audit rows, and the
    answers cached for the data versions it changed are forgotten."""
    since = cleanup.marks(engine)
    try:
        yield
    finally:
        cleanup.delete_since(engine, since)
        forget_versioned_answers()


def _items(request: pytest.FixtureRequest) -> list[pytest.Item]:
    """The tests of ``request``'s module that run."""
    return [i for i in request.session.items if i.getparent(pytest.Module) is request.node]


def _session_fixtures(request: pytest.FixtureRequest) -> list[str]:
    """The session-scoped fixtures the tests of ``request``'s module take (not parametrized),
    in the order they first appear."""
    names: dict[str, None] = {}
    for item in _items(request):
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        for name in info.names_closure:
            defs = info.name2fixturedefs.get(name)
            if defs and defs[-1].scope == "session" and not defs[-1].params and name not in params:
                names.setdefault(name, None)
    return list(names)


@pytest.fixture(scope="module", autouse=True)
def _module_cleaned_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """For a module marked ``cleaned_up`` (its tests commit: servers, processes, runs shared by
    its tests): every row added while it ran is deleted at its end, with the audit rows
    (:mod:`tests.cleanup`), as ``cleaned_up`` does for one test.

    What the run makes once for all modules (the demo, the shared grid and plan, the live
    server, the threat tests' people) is made before the mark, so it outlives the module: the
    session-scoped fixtures its tests take are set up first. Whatever the module starts (a
    server, a process, a thread) must be stopped by its end: a write that lands after the
    deletion is left behind."""
    if request.node.get_closest_marker("cleaned_up") is None or not any(
        item.get_closest_marker("db") for item in _items(request)
    ):  # nothing to clean, or only the tests that need no database run (-m "not db")
        yield
        return
    engine: Engine = request.getfixturevalue("engine")
    request.getfixturevalue("demo")
    for name in _session_fixtures(request):
        # a skip is kept: the tests that take the fixture are skipped, as they would be
        with contextlib.suppress(pytest.skip.Exception):
            request.getfixturevalue(name)
    with _deleting_what_is_added(engine):
        yield


@pytest.fixture
def tx_cli(settings: Settings, db_tx: RolledBack, monkeypatch: pytest.MonkeyPatch) -> RolledBack:
    """Commands of ``irbis`` invoked in the test (``CliRunner``) run on the engines of
    ``db_tx`` (:func:`tests.cli.bind_cli`): what they write is rolled back with the test."""
    bind_cli(monkeypatch, db_tx, settings.database.url)
    return db_tx


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


@pytest.fixture(scope="session")
def resort(engine: Engine, demo: dict[str, int]) -> str:
    """The name of a demo threat that is a ski resort (a prioritisation's locked-out area)."""
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT name FROM threats WHERE kind = 'ski_resort' LIMIT 1")
            ).scalar_one()
        )


@pytest.fixture(scope="session")
def grid_id(engine: Engine, settings: Settings, demo: dict[str, int]) -> Iterator[int]:
    """One planning grid (H3 resolution 3) over the demo, built once for the whole run: the
    prioritisation tests and the browser's share it. Committed (the live server's browsers
    read it), and deleted with its scenarios at the run's end."""
    params = prio.GridParams(name=f"test r3 {uuid.uuid4().hex[:8]}", resolution=3)
    made = prio.build_grid(engine, params, actor="tests", data_dir=settings.data_dir)
    yield made
    cleanup.delete_plans(engine, made)


@pytest.fixture(scope="session")
def solved_scenario(engine: Engine, grid_id: int, resort: str) -> int:
    """One plan solved on the shared grid for the whole run (the resort locked out, three
    perturbed runs, three replacement units): the tests that read a solved plan share it."""
    params = prio.ScenarioParams(
        name="Map test plan",
        grid_id=grid_id,
        lock_out_threats=[resort],
        portfolio_runs=3,
        replacement_units=3,
    )
    return prio.run_scenario(engine, params, actor="tests")


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


@pytest.fixture
def clients() -> Iterator[Callable[[Any, str], TestClient]]:
    """``clients(app, "10.0.0.1")``: a TestClient of ``app`` that connects from that address
    (what per-client limits tell clients apart by), closed after the test."""
    from fastapi.testclient import TestClient

    made: list[TestClient] = []

    def make(app: Any, address: str) -> TestClient:
        c = TestClient(app, client=(address, 40000))
        c.__enter__()
        made.append(c)
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)
