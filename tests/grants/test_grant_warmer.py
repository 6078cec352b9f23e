"""After a write, the portfolio and the grant pages readers asked for are computed again in the
background (:mod:`api.services.grants_warmer`): one thread, a burst of writes coalesced into
one round, the answers kept under the versions of their own snapshot, so the next reader finds
a warm answer that is never older than the data it knows of."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping

import pytest
from sqlalchemy import text

from api.db.engine import make_engine
from api.services import grants as gs
from api.services.grants_warmer import WATCHED, Recipe, Warmer
from api.versions import DataVersions

GRANT = "SOS-CA-EX-01"
METRES = gs.THREAT_DISTANCE_M


class _Versions:
    """Data versions that the test moves by hand (the warmer's view of the change listener)."""

    live = True

    def __init__(self) -> None:
        self.v = dict.fromkeys(WATCHED, 1)
        self.lock = threading.Lock()

    def bump(self, table: str) -> None:
        with self.lock:
            self.v[table] += 1

    def current(self, tables: tuple[str, ...]) -> Mapping[str, int]:
        with self.lock:
            return {t: self.v[t] for t in tables}


def _wait(cond, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_a_burst_of_writes_is_one_round_at_the_last_versions() -> None:
    versions = _Versions()
    seen: list[dict[str, int]] = []
    w = Warmer(versions, poll_s=0.01, quiet_s=0.3, max_wait_s=5.0)
    w.remember("answer", Recipe(("grants", "field_sites"), lambda known: seen.append(dict(known))))
    w.start()
    try:
        time.sleep(0.05)  # the first versions seen are the starting point, not a change
        assert w.rounds == 0
        for i in range(20):  # a burst: a write every 10 ms
            versions.bump("grants" if i % 2 else "field_sites")
            time.sleep(0.01)
        assert _wait(lambda: w.rounds == 1)
        time.sleep(0.5)
        assert w.rounds == 1 and seen == [{"grants": 11, "field_sites": 11}]
        versions.bump("grants")  # nobody asked for the answer since: not computed again
        assert _wait(lambda: w.rounds == 2)
        assert len(seen) == 1
        w.remember("answer", Recipe(("grants", "field_sites"), lambda k: seen.append(dict(k))))
        versions.bump("grants")  # asked for again (a reader), then a write: computed again
        assert _wait(lambda: w.rounds == 3)
        assert seen[-1] == {"grants": 13, "field_sites": 11}
    finally:
        w.stop()
    # this warmer's thread has ended (other apps of the session keep theirs)
    assert w._thread is not None and not w._thread.is_alive()


def _rename(db_tx, title: str) -> None:  # type: ignore[no-untyped-def]
    with db_tx.engine.begin() as conn:
        conn.execute(text("SELECT set_config('irbis.actor', 'warmer test', true)"))
        conn.execute(text("UPDATE grants SET title = :t WHERE code = :c"), {"t": title, "c": GRANT})


def test_a_reader_before_the_start_computation_is_warmed_after_the_next_write() -> None:
    """The computation at start waits for the process's first answer, so a reader has asked
    already: that answer is still computed again after the next write."""
    versions = _Versions()
    seen: list[dict[str, int]] = []
    w = Warmer(versions, poll_s=0.01, quiet_s=0.05, max_wait_s=2.0)
    w.start_after = threading.Event()
    w.remember("answer", Recipe(("grants",), lambda known: seen.append(dict(known))))
    w._prime = True
    w.start()
    try:
        w.start_after.set()  # the first answer: the computation at start follows
        assert _wait(lambda: len(seen) == 1)
        versions.bump("grants")
        assert _wait(lambda: len(seen) == 2), "not computed again after the write"
        assert seen[-1] == {"grants": 2}
    finally:
        w.stop()


def test_the_next_reader_finds_the_answers_warm_and_never_stale(db_tx) -> None:  # type: ignore[no-untyped-def]
    # the rollback engines' versions repeat from one test to the next: start from empty caches
    for cache in (gs.PORTFOLIO_CACHE, gs.PAGE_CACHE):
        cache.clear()
    reader = db_tx.reader_engine
    versions = DataVersions(db_tx.engine)  # not live: read from the database each time
    w = Warmer(versions)
    w.remember_portfolio(reader, gs.PortfolioFilter(), METRES, raw=True)
    w.remember_page(reader, GRANT, METRES)
    w.remember_page(reader, "NO-SUCH-GRANT", METRES)
    _rename(db_tx, "Warmed title")
    known = versions.current(gs.PORTFOLIO_TABLES)
    page_known = versions.current(gs.PAGE_TABLES)
    url = str(reader.url)
    json_key = (url, gs.version_tag(known), "json", gs.PortfolioFilter(), METRES)
    page_key = (url, gs.version_tag(page_known), "page", GRANT, METRES)
    assert gs.PORTFOLIO_CACHE.peek(json_key) is gs._MISS

    assert w.warm_now() == 2
    assert ("page", "NO-SUCH-GRANT", METRES) not in w.remembered()  # forgotten
    warm = gs.PORTFOLIO_CACHE.peek(json_key)
    assert isinstance(warm, bytes) and b"Warmed title" in warm
    page = gs.PAGE_CACHE.peek(page_key)
    assert isinstance(page, dict) and page["grant"]["title"] == "Warmed title"
    # the reader is answered from the warm cache: the very same object
    tag, body = gs.portfolio_answer(reader, known, gs.PortfolioFilter(), METRES, raw=True)
    assert body is warm and tag == gs.version_tag(known)

    # a write after the warming: the warm answer is not served for the new versions
    _rename(db_tx, "Renamed again")
    newer = versions.current(gs.PORTFOLIO_TABLES)
    assert newer != known
    _, fresh = gs.portfolio_answer(reader, newer, gs.PortfolioFilter(), METRES, raw=True)
    assert b"Renamed again" in fresh and b"Warmed title" not in fresh
    _, page = gs.page_answer(reader, versions.current(gs.PAGE_TABLES), GRANT, METRES)
    assert page["grant"]["title"] == "Renamed again"


def test_a_reader_waits_for_the_computation_in_flight(engine) -> None:  # type: ignore[no-untyped-def]
    cache: gs.VersionedCache[object] = gs.VersionedCache(4)
    calls: list[int] = []
    known = DataVersions(engine).current(("grants",))  # as a reader knows them

    def compute(conn, versions) -> object:  # type: ignore[no-untyped-def]
        calls.append(1)
        time.sleep(0.3)
        return {"at": versions}

    got: list[object] = []

    def read() -> None:
        got.append(gs.cached(cache, engine, ("grants",), known, ("x",), compute)[1])

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(got) == 3 and got[0] is got[1] is got[2]


def test_a_computation_that_outlives_stop_leaves_no_connection_open(migrated, settings) -> None:  # type: ignore[no-untyped-def]
    """The app closes its pools once the warmer is told to stop, without waiting for it; a
    computation still at work then opens a pool again, and the warmer's ``on_exit`` (the app
    closes its pools there once it has stopped) leaves none of its connections open."""
    engine = make_engine(migrated, settings=settings.database)
    closed, started, release = threading.Event(), threading.Event(), threading.Event()

    def compute(known: Mapping[str, int]) -> None:
        started.set()
        release.wait(10)  # still at work when the app stops
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    w = Warmer(_Versions(), poll_s=0.01)
    w.remember("answer", Recipe(("grants",), compute))
    w._prime = True
    w.on_exit = lambda: engine.dispose() if closed.is_set() else None
    w.start()
    assert started.wait(10)
    w.stop(timeout=0.05)  # as the app's lifespan does, then:
    closed.set()
    engine.dispose()
    assert w._thread is not None and w._thread.is_alive()
    release.set()
    w._thread.join(10)
    assert not w._thread.is_alive()
    assert engine.pool.checkedin() == 0  # without on_exit: the computation's connection


def test_a_new_process_computes_the_portfolio_at_start(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    gs.PORTFOLIO_CACHE.clear()
    with TestClient(app) as c:
        state = c.app.state
        key = (
            str(state.reader_engine.url),
            gs.version_tag(state.versions.current(gs.PORTFOLIO_TABLES)),
            "json",
            gs.PortfolioFilter(),
            state.settings.grants.threat_distance_m,
        )
        assert _wait(lambda: state.grants_warmer.rounds >= 1, 30), "no round at start"
        warm = gs.PORTFOLIO_CACHE.peek(key)
        assert isinstance(warm, bytes)
        assert c.get("/api/portfolio").content == warm
    state.grants_warmer._thread.join(10)
    assert not state.grants_warmer._thread.is_alive()  # stopped with the app


@pytest.mark.usefixtures("cleaned_up")  # the warmer works on a thread with its own connections
def test_the_app_warms_the_portfolio_after_a_write(client, login_as) -> None:  # type: ignore[no-untyped-def]
    warmer = client.app.state.grants_warmer
    assert client.get("/api/portfolio").status_code == 200
    assert client.get(f"/grants/{GRANT}").status_code == 200
    rounds = warmer.rounds
    admin = login_as("admin")
    title = f"Warm after write {secrets.token_hex(3)}"
    old = client.get(f"/api/grants/{GRANT}").json()["title"]
    r = admin.patch(
        f"/api/grants/{GRANT}", json={"title": title}, headers={"X-CSRF-Token": admin.csrf}
    )
    assert r.status_code == 200
    try:
        assert _wait(lambda: warmer.rounds > rounds), "no round after the write"
        versions = client.app.state.versions
        url = str(client.app.state.reader_engine.url)
        key = (
            url,
            gs.version_tag(versions.current(gs.PORTFOLIO_TABLES)),
            "json",
            gs.PortfolioFilter(),
            client.app.state.settings.grants.threat_distance_m,
        )
        # (the round counted may be one that began before the write: the next one follows it)
        assert _wait(lambda: gs.PORTFOLIO_CACHE.peek(key) is not gs._MISS, 30), "not warmed"
        warm = gs.PORTFOLIO_CACHE.peek(key)
        got = client.get("/api/portfolio")
        assert got.content == warm and title.encode() in got.content
        assert title in client.get(f"/grants/{GRANT}").text
    finally:
        admin.patch(
            f"/api/grants/{GRANT}", json={"title": old}, headers={"X-CSRF-Token": admin.csrf}
        )
