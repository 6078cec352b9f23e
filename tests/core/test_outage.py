"""PostgreSQL restarted under a running Irbis: 503 with Retry-After meanwhile, never a 500 or a
hang, and service again by itself once the database is back.

The test runs a cluster of its own (tests/pgcluster.py), so stopping it disturbs no one.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.auth.testing import make_token, make_user
from api.db import migrate
from api.db.engine import make_engine
from api.settings import Settings
from tests.pgcluster import Cluster, free_port, throwaway_cluster

#: A request during the outage must be answered within this many seconds.
PROMPT_S = 8.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str, str]]:
    """A migrated database on a throwaway cluster, Irbis served on it by uvicorn, and an API
    token (so the auth middleware reads the database too)."""
    with throwaway_cluster() as pg:
        url, reader = pg.create_irbis_database()
        migrate.upgrade(url, "head")
        settings = Settings.for_database(url, reader)
        settings.var_dir = tmp_path_factory.mktemp("outage-var")
        engine = make_engine(url)
        try:
            token = make_token(engine, make_user(engine, roles=["analyst"]))
        finally:
            engine.dispose()
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="critical")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        try:
            yield pg, f"http://127.0.0.1:{port}", token
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def _requests(token: str, z: int) -> dict[str, tuple[str, dict[str, str]]]:
    """A page, a tile (a new one each time: no cache hit), features, and an authenticated
    request (the account is read in the middleware)."""
    return {
        "page": ("/", {"Accept": "text/html"}),
        "tile": (f"/collections/countries/tiles/WebMercatorQuad/{z}/0/0", {}),
        "features": ("/collections/protected_areas/items?limit=2", {}),
        "authenticated": ("/api/account/tokens", {"Authorization": f"Bearer {token}"}),
    }


def _get(http: httpx.Client, path: str, headers: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = http.get(path, headers=headers)
    return r, time.monotonic() - started


def test_restart_answers_503_then_recovers(served: tuple[Cluster, str, str]) -> None:
    pg, base, token = served
    with httpx.Client(base_url=base, timeout=30) as http:
        for name, (path, headers) in _requests(token, 2).items():
            r, _ = _get(http, path, headers)
            assert r.status_code == 200, (name, r.status_code, r.text[:300])

        pg.stop("fast")
        try:
            for name, (path, headers) in _requests(token, 3).items():
                r, took = _get(http, path, headers)
                assert r.status_code == 503, (name, r.status_code, r.text[:300])
                assert int(r.headers["Retry-After"]) > 0, name
                assert took < PROMPT_S, (name, took)
                if r.headers["content-type"].startswith("text/html"):
                    # a browser gets the error page, with the same advice
                    assert "try again" in r.text.lower(), (name, r.text[:300])
                else:
                    body = r.json()
                    assert "try again" in body["description"], (name, body)
                assert "psycopg" not in r.text and "127.0.0.1" not in r.text, r.text
            health, _ = _get(http, "/health", {})
            assert health.status_code == 503 and health.json()["database"]["status"] == "down"
        finally:
            pg.start()

        # back by itself: no restart of Irbis, within a bounded number of tries
        for name, (path, headers) in _requests(token, 4).items():
            statuses = []
            for _ in range(20):
                r, _took = _get(http, path, headers)
                statuses.append(r.status_code)
                if r.status_code == 200:
                    break
                time.sleep(0.5)
            assert statuses[-1] == 200, (name, statuses)
            assert set(statuses) <= {200, 503}, (name, statuses)


def test_connections_opened_before_the_restart_are_replaced(
    served: tuple[Cluster, str, str],
) -> None:
    """Every pooled connection dies with a restart; the next requests must not see that."""
    pg, base, token = served
    with httpx.Client(base_url=base, timeout=30) as http:
        # fill the pool with several connections
        threads = [
            threading.Thread(target=http.get, args=(f"/collections/countries/items?limit={n}",))
            for n in range(1, 7)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pg.stop("fast")
        pg.start()
        for n in range(1, 13):
            r = http.get(f"/collections/protected_areas/items?limit={n}")
            assert r.status_code == 200, (n, r.status_code, r.text[:300])
        r = http.get("/api/account/tokens", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text[:300]


def test_a_database_that_does_not_answer_gives_503_promptly(
    served: tuple[Cluster, str, str],
) -> None:
    """A database host that accepts connections but never answers (a hung server, a dead
    network path): requests give up after the connect timeout instead of hanging."""
    pg, base, token = served
    pg.stop("fast")
    mute = socket.socket()
    try:
        mute.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        mute.bind(("127.0.0.1", pg.port))
        mute.listen(100)  # connections are accepted by the kernel, and never answered
        with httpx.Client(base_url=base, timeout=60) as http:
            for name, (path, headers) in _requests(token, 5).items():
                if name == "features":
                    continue
                r, took = _get(http, path, headers)
                assert r.status_code == 503, (name, r.status_code, r.text[:300])
                assert "Retry-After" in r.headers, name
                assert took < PROMPT_S, (name, took)
    finally:
        mute.close()
        pg.start()
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(20):
            r = http.get("/collections/protected_areas/items?limit=3")
            if r.status_code == 200:
                break
            time.sleep(0.5)
        assert r.status_code == 200, r.text[:300]


def test_cluster_helper_cleans_up() -> None:
    with throwaway_cluster() as pg:
        root = pg.root
        assert pg.running()
        assert pg.psql("postgres", "SELECT 1").strip() == "1"
    assert not Path(root).exists()
