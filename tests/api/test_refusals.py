"""Repeated refusals answered after a growing hold (api.refusals), against the real app and
database: a client looping on 401/403/413/429 (and the login redirect of anonymous form posts)
waits longer and longer for them, while its served requests, other clients and the tiles do
not wait; an honest single refusal is answered at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.auth.testing import make_token, make_user
from api.settings import HeavySettings, RateLimitSettings, ServerSettings, Settings
from tests.serving import serving

pytestmark = pytest.mark.cleaned_up  # its servers commit

TILE = "/collections/countries/tiles/WebMercatorQuad/3/2/5"
ATTACKER, OTHER = "203.0.113.21", "198.51.100.21"
#: More than the 16 kB a login form may carry: refused 413 before a byte is read.
OVERSIZE = 50 * 1024 * 1024
#: A request the heavy bound counts but that ends at once (no such collection).
CHEAP_HEAVY = ("/collections/no_such_layer/items", {"bbox": "60,40,61,41"})
#: Answered "at once": well below the holds of these tests, with room for a busy machine.
AT_ONCE = 0.45


def _with(settings: Settings, ratelimit: RateLimitSettings, **more: Any) -> Any:
    from api.app import create_app

    return create_app(settings.model_copy(update={"ratelimit": ratelimit, **more}))


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    t0 = time.perf_counter()
    r = call()
    return r, time.perf_counter() - t0


def test_refusals_beyond_the_free_ones_wait_longer_each_time(
    settings: Settings,
    demo: dict[str, int],
    engine: Any,
    clients: Callable[[Any, str], TestClient],
) -> None:
    """One free refusal, then holds of 0.5 s doubling to at most 1 s, whatever the refusal
    (401, the login redirect of a form post, 413); the held ones close the connection. The
    same address's tile, another address's refusal and an account's own first refusal are
    answered at once."""
    app = _with(
        settings,
        RateLimitSettings(refusals_free=1, refusal_hold_seconds=0.5, refusal_hold_max_seconds=1),
    )
    attacker, other = clients(app, ATTACKER), clients(app, OTHER)
    assert attacker.get(TILE).status_code == 200  # rendered once, then cached

    r, took = _timed(lambda: attacker.post("/reports", data={"title": "x"}))
    assert r.status_code == 401 and took < AT_ONCE, (r.status_code, took)
    assert r.json()["code"] == "unauthenticated"

    r, took = _timed(
        lambda: attacker.post("/grants/new", data={"code": "x"}, follow_redirects=False)
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert took >= 0.5, took
    assert r.headers["connection"] == "close"

    for _ in range(2):
        r, took = _timed(
            lambda: attacker.post(
                "/login",
                content=b"x" * (17 * 1024),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        )
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "too_large"
        assert 1.0 <= took < 3.0, took  # doubled, then bounded
        assert r.headers["connection"] == "close"

    # what the attacker's address is served is not held, nor are others' refusals
    r, took = _timed(lambda: attacker.get(TILE))
    assert r.status_code == 200 and took < AT_ONCE, took
    r, took = _timed(lambda: other.post("/reports", data={"title": "x"}))
    assert r.status_code == 401 and took < AT_ONCE, took
    # an account counts its own refusals, wherever it asks from
    token = make_token(engine, make_user(engine, roles=["grantee"]))
    r, took = _timed(
        lambda: attacker.post(
            "/api/grants", json={"code": "x"}, headers={"Authorization": f"Bearer {token}"}
        )
    )
    assert r.status_code == 403 and took < AT_ONCE, (r.text, took)
    assert "analysts" in r.json()["description"]


def test_a_burst_of_oversize_bodies_is_held_while_a_tile_is_served_at_once(
    settings: Settings, demo: dict[str, int]
) -> None:
    """On uvicorn, eight anonymous POSTs announcing 50 MB each from one address: none of their
    bodies is sent, yet each is answered (413, so without reading them); three (the waiting
    bound) after the 1.5 s hold, the other five at once, every one closing its connection.
    A tile asked meanwhile from the same address is served at once."""
    server = ServerSettings()
    app = _with(
        settings,
        RateLimitSettings(
            refusals_free=0,
            refusal_hold_seconds=1.5,
            refusal_hold_max_seconds=1.5,
            refusal_waiting_max=3,
        ),
        server=server,
    )
    answers: list[tuple[bytes, float]] = []
    lock = threading.Lock()

    with serving(app, server) as (host, port), httpx.Client(base_url=f"http://{host}:{port}") as c:
        assert c.get(TILE).status_code == 200  # rendered once, then cached

        def oversize() -> None:
            t0 = time.perf_counter()
            with socket.create_connection((host, port), timeout=10) as sock:
                sock.sendall(
                    f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {OVERSIZE}\r\n\r\n".encode()
                )
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk  # until the server closes the connection
            with lock:
                answers.append((data, time.perf_counter() - t0))

        burst = [threading.Thread(target=oversize) for _ in range(8)]
        for t in burst:
            t.start()
        time.sleep(0.4)  # the burst is in: three wait, five were answered
        t0 = time.perf_counter()
        tile = c.get(TILE)
        tile_took = time.perf_counter() - t0
        for t in burst:
            t.join(15)

    assert tile.status_code == 200 and tile.content
    assert tile_took < 0.75, tile_took  # half the hold, on a busy machine
    assert len(answers) == 8
    for data, _ in answers:
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 413"), data[:200]
        assert b"connection: close" in head
    held = sorted(took for _, took in answers)
    assert all(took < 1.0 for took in held[:5]), held
    assert all(1.5 <= took < 5 for took in held[5:]), held


def test_the_defaults_bound_refusals_and_heavy_requests(
    settings: Settings, demo: dict[str, int], clients: Callable[[Any, str], TestClient]
) -> None:
    """The suite runs with bounds no test reaches by accident (tests/conftest.py); the
    defaults still bound: ten refusals a minute answered at once, the eleventh held 0.25 s;
    120 heavy requests a minute, then 429."""
    assert settings.heavy.rate != HeavySettings().rate  # the suite's own, explicitly
    app = _with(settings, RateLimitSettings(), heavy=HeavySettings())
    c = clients(app, ATTACKER)
    # a page first (served, so not counted): what a first answer imports or reads once
    # (templates, catalogs) is not timed as if it were a hold
    assert c.get("/").status_code == 200
    # that first answer starts the grants warmer's round (a thread computing the portfolio):
    # timed beside it, an answer at once took 0.38 s on the 2-core machine
    warmer = app.state.grants_warmer
    deadline = time.monotonic() + 60
    while warmer.rounds < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(10):
        r, took = _timed(lambda: c.post("/reports", data={"title": "x"}))
        assert r.status_code == 401 and took < 0.25, took  # a held one takes 0.25 s or more
    r, took = _timed(lambda: c.post("/reports", data={"title": "x"}))
    assert r.status_code == 401 and took >= 0.25, took

    path, params = CHEAP_HEAVY
    statuses = [c.get(path, params=params).status_code for _ in range(120)]
    assert set(statuses) == {404}
    # limits' sliding window rounds the last minute's weighted count down: just after a
    # minute's turn, one or two more may start
    for _ in range(3):
        r = c.get(path, params=params)
        if r.status_code != 404:
            break
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_the_live_server_takes_more_heavy_requests_than_the_default_rate(live_server: str) -> None:
    """The suite's uvicorn (browsers, schemathesis, GDAL) is not refused for its pace: 130
    heavy requests from one address in a few seconds are all answered for what they are."""
    path, params = CHEAP_HEAVY
    with httpx.Client(base_url=live_server, timeout=30) as c:
        statuses = {c.get(path, params=params).status_code for _ in range(130)}
    assert statuses == {404}
