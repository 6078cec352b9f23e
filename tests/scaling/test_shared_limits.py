"""Rate limits shared by the workers of ``irbis serve --workers 2`` through a private
redis-server (``IRBIS_RATELIMIT_STORAGE_URI=redis://...``): one client's writes and refusals
are counted once, whichever worker each of its connections lands on. Which worker holds a
connection is read from the operating system (the process that owns the server's end of it),
not from the server's answers."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from tests.redisserver import redis_server
from tests.scaling.test_processes import irbis_serve
from tests.windows import MINUTE, clear_of_window_edge

pytestmark = pytest.mark.cleaned_up  # its servers and commands run in processes of their own

#: Writes one client may send in a minute in this test, over all workers.
WRITES = 6
#: A write anyone may send and that no route takes (405): counted, not a refusal.
WRITE = "/collections"
#: The hold of each refusal beyond the first, in this test.
HOLD = 0.8


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path / "redis") as url:
        yield url


def _worker_of(conn: http.client.HTTPConnection, workers: list[psutil.Process]) -> int:
    """The pid of the worker that accepted ``conn`` (it owns the server's end)."""
    assert conn.sock is not None
    port = conn.sock.getsockname()[1]
    for worker in workers:
        for c in worker.net_connections(kind="tcp"):
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED:
                return worker.pid
    raise AssertionError(f"no worker holds the connection from port {port}")


def _post(conn: http.client.HTTPConnection) -> tuple[int, dict[str, str], float]:
    t0 = time.perf_counter()
    conn.request("POST", WRITE, body=b"{}", headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, time.perf_counter() - t0


@pytest.mark.timeout(600)
def test_two_workers_count_one_clients_writes_and_refusals_once(  # type: ignore[no-untyped-def]
    engine, demo, tmp_path, redis_url, monkeypatch
) -> None:
    monkeypatch.setenv("IRBIS_RATELIMIT_STORAGE_URI", redis_url)
    monkeypatch.setenv("IRBIS_RATELIMIT_WRITES", f"{WRITES}/minute")
    monkeypatch.setenv("IRBIS_RATELIMIT_REFUSALS_FREE", "1")
    monkeypatch.setenv("IRBIS_RATELIMIT_REFUSAL_HOLD_SECONDS", str(HOLD))
    monkeypatch.setenv("IRBIS_RATELIMIT_REFUSAL_HOLD_MAX_SECONDS", str(HOLD))
    with irbis_serve(tmp_path, "--workers", "2") as (url, pid):
        port = int(url.rsplit(":", 1)[1])
        # before the connections are opened: a wait with them open would outlast keep-alive
        clear_of_window_edge(MINUTE, need_s=25)
        # the workers, and multiprocessing's resource tracker, which accepts nothing
        workers = psutil.Process(pid).children()
        # one open connection on each worker (the kernel hands each to a worker)
        by_worker: dict[int, http.client.HTTPConnection] = {}
        opened = []
        for _ in range(60):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            opened.append(conn)
            conn.request("GET", "/health")
            conn.getresponse().read()
            by_worker.setdefault(_worker_of(conn, workers), conn)
            if len(by_worker) == 2:
                break
        assert len(by_worker) == 2, "every connection went to the same worker"
        a, b = by_worker.values()
        try:
            # half of the client's writes through each worker: all within the limit
            for conn in (a, b):
                for _ in range(WRITES // 2):
                    status, _, _ = _post(conn)
                    assert status == 405
            # one more through the first worker: beyond the limit the two counted together
            # (each worker alone has seen only half of the writes)
            status, headers, took = _post(a)
            assert status == 429 and int(headers["retry-after"]) >= 1, (status, headers)
            assert took < HOLD, took  # the client's first refusal is free
            # its second refusal, through the other worker, is held: the refusal is counted
            # in the same store
            status, headers, took = _post(b)
            assert status == 429 and took >= HOLD * 0.9, (status, took)
            assert headers.get("connection") == "close"
        finally:
            for conn in opened:
                conn.close()
        # the counters are in redis, read back with redis' own client
        store = redis.Redis.from_url(redis_url)
        keys = [k.decode() for k in store.keys("*")]
        store.close()
        assert any("writes" in k and "127.0.0.1" in k for k in keys), keys
        assert any("irbis/refusals/addr:127.0.0.1" in k for k in keys), keys
