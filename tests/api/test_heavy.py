"""Heavy requests bounded per client (api.heavy), against the real app and database: running
ones beyond the limit and starts beyond the rate answer 429 with Retry-After before any work,
other clients and light requests of the same client are not affected."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text

from api.auth.testing import make_token, make_user
from api.heavy import has_filter, is_heavy
from api.settings import HeavySettings, ServerSettings, Settings
from tests.windows import HOUR, MINUTE, clear_of_window_edge

pytestmark = pytest.mark.cleaned_up  # its servers' apps commit (locks held across connections)

BBOX = {"bbox": "40,30,100,60", "limit": "1"}
TILE = "/collections/countries/tiles/WebMercatorQuad/3/2/5"
ATTACKER, OTHER = "203.0.113.9", "198.51.100.7"


def configured(settings: Settings, heavy: HeavySettings, **server: Any) -> Settings:
    update: dict[str, Any] = {"heavy": heavy}
    if server:
        update["server"] = ServerSettings(**server)
    return settings.model_copy(update=update)


@pytest.fixture
def app_with(settings: Settings, demo: dict[str, int]) -> Callable[..., Any]:
    """``app_with(heavy, **server)``: the real app with these heavy-request settings."""
    from api.app import create_app

    return lambda heavy, **server: create_app(configured(settings, heavy, **server))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[str]:
    """``app`` on uvicorn at 127.0.0.1 (a free port) while the block runs: its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(app_with: Callable[..., Any]) -> Iterator[str]:
    """The real app on uvicorn (127.0.0.1, trusted as a proxy: X-Forwarded-For names the
    client), at most 2 heavy requests at once per client and no rate."""
    app = app_with(
        HeavySettings(concurrent=2, rate="", hold_seconds=0), trusted_proxies=["127.0.0.1"]
    )
    with _serving(app) as base:
        yield base


def test_which_requests_are_heavy() -> None:
    q = b"bbox=1,2,3,4"
    assert is_heavy("GET", "/collections/places/items", b"filter=population%3E1")
    assert is_heavy("GET", "/collections/places/items", q)
    assert is_heavy("HEAD", "/collections/places/items", q)
    assert is_heavy("GET", "/collections/places/download", b"")
    assert is_heavy("GET", "/analyses/3/table.csv", b"")
    assert is_heavy("POST", "/analyses", b"")
    assert is_heavy("GET", "/threats/5/dossier.pdf", b"")
    assert not is_heavy("GET", "/collections/places/items", b"limit=5")
    assert not is_heavy("GET", "/collections/places/items", b"filter=&bbox=")
    assert not is_heavy("GET", "/collections/places/items/5", q)
    assert not is_heavy("GET", TILE, q)
    assert not is_heavy("GET", "/analyses", b"")
    assert not is_heavy("GET", "/analyses/3", b"")


def test_which_requests_carry_a_filter() -> None:
    assert has_filter(b"filter=population%3E1&limit=5")
    assert has_filter(b"limit=5&filte%72=population%3E1")  # the name percent-encoded
    assert not has_filter(b"filter=&limit=5")
    assert not has_filter(b"filter=%20%20")
    assert not has_filter(b"filter-lang=cql2-text&bbox=1,2,3,4")


def _waiting_reads(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%glaciers%'"
                )
            ).scalar_one()
        )


def _filtered_read_held(
    served: str, engine: Any, lock: Any, statuses: list[int]
) -> threading.Thread:
    """With ``glaciers`` locked on ``lock`` (in its transaction), the attacker's filtered read of
    glaciers on a thread, once it waits in the database; its status goes to ``statuses``."""
    lock.execute(text("LOCK TABLE glaciers IN ACCESS EXCLUSIVE MODE"))
    held = threading.Thread(
        target=lambda: statuses.append(
            httpx.get(
                f"{served}/collections/glaciers/items",
                params={"filter": "scalerank >= 0", "limit": "1"},
                headers={"X-Forwarded-For": ATTACKER},
                timeout=60,
            ).status_code
        )
    )
    held.start()
    deadline = time.monotonic() + 20
    while _waiting_reads(engine) < 1:
        assert time.monotonic() < deadline, "the filtered read never reached the database"
        time.sleep(0.05)
    return held


def test_beyond_two_running_heavy_requests_a_client_gets_429_and_others_are_served(
    served: str, engine: Any
) -> None:
    """Two bbox reads of glaciers from one client are blocked by a lock on the table; while
    they run, the same client's third heavy request is refused at once, while its light
    requests and another client's heavy ones are served. Once they end, it may again."""
    attacker = {"X-Forwarded-For": ATTACKER}
    url = f"{served}/collections/glaciers/items"
    statuses: list[int] = []
    with engine.connect() as lock:
        lock.begin()
        lock.execute(text("LOCK TABLE glaciers IN ACCESS EXCLUSIVE MODE"))
        held = [
            threading.Thread(
                target=lambda: statuses.append(
                    httpx.get(url, params=BBOX, headers=attacker, timeout=60).status_code
                )
            )
            for _ in range(2)
        ]
        for t in held:
            t.start()
        deadline = time.monotonic() + 20
        while _waiting_reads(engine) < 2:
            assert time.monotonic() < deadline, "the two reads never reached the database"
            time.sleep(0.05)

        t0 = time.perf_counter()
        r = httpx.get(url, params=BBOX, headers=attacker, timeout=10)
        assert time.perf_counter() - t0 < 2
        assert r.status_code == 429, r.text[:300]
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["connection"] == "close"
        body = r.json()
        assert body["code"] == "too_many_requests"
        assert "at most 2 heavy requests" in body["description"]
        assert "wait" in body["description"]
        # every heavy route counts, a download as much as a read
        d = httpx.get(f"{served}/collections/places/download", headers=attacker, timeout=10)
        assert d.status_code == 429
        # light requests of the same client are not bounded
        assert httpx.get(f"{served}{TILE}", headers=attacker, timeout=10).status_code == 200
        plain = httpx.get(
            f"{served}/collections/places/items", params={"limit": "1"}, headers=attacker
        )
        assert plain.status_code == 200
        # another client's heavy requests are served
        other = httpx.get(
            f"{served}/collections/places/items",
            params=BBOX,
            headers={"X-Forwarded-For": OTHER},
            timeout=10,
        )
        assert other.status_code == 200, other.text[:300]
        assert other.json()["type"] == "FeatureCollection"
        lock.rollback()
    for t in held:
        t.join(60)
    assert statuses == [200, 200]
    again = httpx.get(url, params=BBOX, headers=attacker, timeout=30)
    assert again.status_code == 200 and again.json()["type"] == "FeatureCollection"


def test_a_client_not_logged_in_runs_one_filtered_read_at_once(served: str, engine: Any) -> None:
    """An anonymous filtered read of glaciers is blocked by a lock on the table; while it
    runs, the same address's second filtered read (of another layer) is refused at once,
    before its filter is parsed, while its bbox read, another address's filter and the same
    address logged in are served. Once the first ends, a filter runs again."""
    attacker = {"X-Forwarded-For": ATTACKER}
    places = f"{served}/collections/places/items"
    statuses: list[int] = []
    with engine.connect() as lock:
        lock.begin()
        held = _filtered_read_held(served, engine, lock, statuses)

        # a filter that does not even parse: refused before the parser sees it
        t0 = time.perf_counter()
        r = httpx.get(places, params={"filter": "((( not cql"}, headers=attacker, timeout=10)
        assert time.perf_counter() - t0 < 2
        assert r.status_code == 429, r.text[:300]
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["connection"] == "close"
        body = r.json()
        assert body["code"] == "too_many_requests"
        assert "at most 1 read with a filter may run at once" in body["description"]
        assert "not logged in" in body["description"] and "log in" in body["description"]
        # a download with a filter is a read with a filter too
        download = httpx.get(
            f"{served}/collections/places/download",
            params={"filter": "scalerank > 1"},
            headers=attacker,
            timeout=10,
        )
        assert download.status_code == 429
        assert "with a filter" in download.json()["description"]
        # the same address's other heavy read (within the 2 heavy ones) is served
        bbox = httpx.get(places, params=BBOX, headers=attacker, timeout=10)
        assert bbox.status_code == 200, bbox.text[:300]
        # another address's filter, and the same address logged in, are served
        flt = {"filter": "population > 100000", "limit": "1"}
        other = httpx.get(places, params=flt, headers={"X-Forwarded-For": OTHER}, timeout=10)
        assert other.status_code == 200, other.text[:300]
        token = make_token(engine, make_user(engine, roles=["grantee"]))
        as_user = httpx.get(
            places,
            params=flt,
            headers={**attacker, "Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert as_user.status_code == 200, as_user.text[:300]
        lock.rollback()
    held.join(60)
    assert statuses == [200]
    again = httpx.get(places, params=flt, headers=attacker, timeout=30)
    assert again.status_code == 200 and again.json()["type"] == "FeatureCollection"


def test_beyond_the_rate_a_client_gets_429_until_the_window_passes(
    app_with: Callable[..., Any], clients: Callable[[Any, str], TestClient], engine: Any
) -> None:
    # per hour: limits' sliding window counter rounds the last window's weighted count down,
    # so just after a minute's turn one more of a per-minute rate may start
    app = app_with(HeavySettings(rate="3/hour", hold_seconds=0))
    attacker, other = clients(app, ATTACKER), clients(app, OTHER)
    path = "/collections/places/items"
    clear_of_window_edge(HOUR)
    for _ in range(3):
        assert attacker.get(path, params=BBOX).status_code == 200
    r = attacker.get(path, params={"filter": "population > 100000"})
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 3600
    assert r.json()["description"].startswith("too many heavy requests")
    assert f"wait {wait} seconds" in r.json()["description"]
    assert "log in" in r.json()["description"]
    # light requests from the address, and another address, are not affected
    assert attacker.get(TILE).status_code == 200
    assert attacker.get(path, params={"limit": "1"}).status_code == 200
    assert other.get(path, params=BBOX).status_code == 200
    # an account from the same address has an allowance of its own ...
    user = make_user(engine, roles=["grantee"])
    as_user = {"Authorization": f"Bearer {make_token(engine, user)}"}
    assert attacker.get(path, params=BBOX, headers=as_user).status_code == 200
    # ... and an analyst is not bounded
    analyst = {
        "Authorization": f"Bearer {make_token(engine, make_user(engine, roles=['analyst']))}"
    }
    for _ in range(5):
        assert attacker.get(path, params=BBOX, headers=analyst).status_code == 200
    assert attacker.get(path, params=BBOX).status_code == 429


def test_reads_with_a_filter_have_a_rate_of_their_own_for_clients_not_logged_in(
    app_with: Callable[..., Any], clients: Callable[[Any, str], TestClient], engine: Any
) -> None:
    """Parsing a filter holds the interpreter every tile of the process waits for: beyond
    ``anonymous_filter_rate`` an address is refused its filtered reads (429, before the
    filter is parsed), while its bbox reads, its tiles and accounts go on."""
    app = app_with(HeavySettings(rate="", anonymous_filter_rate="3/hour", hold_seconds=0))
    attacker, other = clients(app, ATTACKER), clients(app, OTHER)
    clear_of_window_edge(HOUR)
    path = "/collections/places/items"
    flt = {"filter": "population > 100000", "limit": "1"}
    for _ in range(3):
        assert attacker.get(path, params=flt).status_code == 200
    r = attacker.get(path, params=flt)
    assert r.status_code == 429 and r.headers["connection"] == "close"
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 3600
    described = r.json()["description"]
    assert described.startswith("too many reads with a filter") and "log in" in described
    assert f"wait {wait} seconds" in described
    ru = attacker.get(path, params={**flt, "lang": "ru"})
    assert ru.status_code == 429 and ru.json()["message"] != described
    # not a filter: not counted; another address, an account: allowances of their own
    assert attacker.get(path, params=BBOX).status_code == 200
    assert attacker.get(TILE).status_code == 200
    assert other.get(path, params=flt).status_code == 200
    user = {"Authorization": f"Bearer {make_token(engine, make_user(engine, roles=['grantee']))}"}
    for _ in range(4):
        assert attacker.get(path, params=flt, headers=user).status_code == 200
    with pytest.raises(ValidationError, match="is not a rate"):
        HeavySettings(anonymous_filter_rate="often")


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    app_with: Callable[..., Any], clients: Callable[[Any, str], TestClient]
) -> None:
    """With a rate of 2, a client that names other addresses in X-Forwarded-For is still
    one client; behind the trusted proxy each forwarded address is its own client."""
    app = app_with(HeavySettings(rate="2/minute", hold_seconds=0), trusted_proxies=["10.0.0.1"])
    direct, proxy = clients(app, ATTACKER), clients(app, "10.0.0.1")
    path = "/collections/places/items"
    clear_of_window_edge(MINUTE)
    spoofed = [
        direct.get(path, params=BBOX, headers={"X-Forwarded-For": f"192.0.2.{i}"}) for i in range(3)
    ]
    assert [r.status_code for r in spoofed] == [200, 200, 429]
    forwarded = [
        proxy.get(path, params=BBOX, headers={"X-Forwarded-For": f"192.0.2.{i}"}) for i in range(3)
    ]
    assert [r.status_code for r in forwarded] == [200, 200, 200]
    # each forwarded address is counted on its own, not the proxy's: 192.0.2.0's third is
    # refused
    third = proxy.get(path, params=BBOX, headers={"X-Forwarded-For": "192.0.2.0"})
    assert third.status_code == 200
    fourth = proxy.get(path, params=BBOX, headers={"X-Forwarded-For": "192.0.2.0"})
    assert fourth.status_code == 429


def test_a_refusal_is_answered_after_the_hold_and_beyond_hold_max_at_once(
    app_with: Callable[..., Any], clients: Callable[[Any, str], TestClient]
) -> None:
    """A client that asks again at once is answered 429 only after ``hold_seconds`` (at most
    its Retry-After); while ``hold_max`` of its refusals wait, a further one is answered at
    once. The hold keeps no running slot: another client is served meanwhile."""
    app = app_with(HeavySettings(rate="1/minute", hold_seconds=1.5, hold_max=1))
    first, second = clients(app, ATTACKER), clients(app, ATTACKER)
    other = clients(app, OTHER)
    path = "/collections/places/items"
    clear_of_window_edge(MINUTE)
    assert first.get(path, params=BBOX).status_code == 200
    held: list[tuple[int, float]] = []

    def ask() -> None:
        t0 = time.perf_counter()
        r = first.get(path, params=BBOX)
        held.append((r.status_code, time.perf_counter() - t0))

    waiting = threading.Thread(target=ask)
    waiting.start()
    time.sleep(0.4)
    t0 = time.perf_counter()
    at_once = second.get(path, params=BBOX)
    assert at_once.status_code == 429 and time.perf_counter() - t0 < 1.0
    assert other.get(path, params=BBOX).status_code == 200
    waiting.join(10)
    assert held and held[0][0] == 429
    assert 1.4 <= held[0][1] < 5
    assert int(at_once.headers["Retry-After"]) >= 2  # what the client is told: the window


def test_off_when_disabled(
    app_with: Callable[..., Any], clients: Callable[[Any, str], TestClient]
) -> None:
    app = app_with(HeavySettings(enabled=False, rate="1/minute"))
    c = clients(app, ATTACKER)
    assert [c.get("/collections/places/items", params=BBOX).status_code for _ in range(3)] == [
        200
    ] * 3


def test_a_rate_that_does_not_parse_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="not a rate such as"):
        HeavySettings(rate="lots")


def test_anonymous_filters_from_many_addresses_are_bounded_together(
    app_with: Callable[..., Any], engine: Any
) -> None:
    """With ``anonymous_filters_total=1``, a second address's filtered read is refused 503
    (busy) while a first one runs, before its filter is parsed; a bbox read of that address
    and a logged-in filter are served; once the first ends, the second address's filter runs."""
    app = app_with(
        HeavySettings(concurrent=2, rate="", hold_seconds=0, anonymous_filters_total=1),
        trusted_proxies=["127.0.0.1"],
    )
    flt = {"filter": "population > 100000", "limit": "1"}
    other = {"X-Forwarded-For": OTHER}
    statuses: list[int] = []
    with _serving(app) as served:
        places = f"{served}/collections/places/items"
        with engine.connect() as lock:
            lock.begin()
            held = _filtered_read_held(served, engine, lock, statuses)
            # another address: its own allowance is free, the process's is not
            r = httpx.get(places, params={"filter": "((( not cql"}, headers=other, timeout=10)
            assert r.status_code == 503, r.text[:300]
            assert int(r.headers["retry-after"]) >= 1
            body = r.json()
            assert body["code"] == "busy"
            assert "busy" in body["description"] and "log in" in body["description"]
            assert httpx.get(places, params=BBOX, headers=other, timeout=10).status_code == 200
            token = make_token(engine, make_user(engine, roles=["grantee"]))
            bearer = {**other, "Authorization": f"Bearer {token}"}
            as_user = httpx.get(places, params=flt, headers=bearer, timeout=10)
            assert as_user.status_code == 200, as_user.text[:300]
            lock.rollback()
        held.join(60)
        assert statuses == [200]
        again = httpx.get(places, params=flt, headers=other, timeout=30)
        assert again.status_code == 200, again.text[:300]
