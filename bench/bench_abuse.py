#!/usr/bin/env python3
"""Tile latency and server memory while anonymous clients abuse filters and request bodies.

Starts the real server (``irbis serve``, one worker or ``--workers N``, 127.0.0.1 only) on a
database holding the demo data, then:

1. idle: one client fetches a fixed set of vector tiles (z3-6 over the region, three layers)
   in a loop; tile latency p50/p99 and the server's RSS (psutil on the server's PID);
2. attack: the same tile client, while, at the same time and from the same address,
   * 20 clients send costly anonymous CQL2 filters back to back: the heaviest an anonymous
     caller may send (as long as the server's ``anonymous_filter_max_chars`` allows:
     ``S_OVERLAPS``/``S_TOUCHES`` against a literal polygon of as many vertices as fit, as deep
     a nesting, as long an ``OR`` chain) and refused ones (``S_TOUCHES(geometry, geometry)``,
     401 levels, a 1,200-term AND, 1,001 vertices), each a little different so nothing is
     cached;
   * 10 clients send 50 MB bodies (chunked, generated on the fly) to ``POST /reports``,
     ``POST /login`` and ``POST /api/grants/{code}/sites``;
   * with ``--floods N``, N clients send small refused requests back to back, each on a new
     connection: anonymous report forms, wrong logins, reads with unknown bearer tokens.

It reports tile latency under attack against idle (bound: 2x) and the server's RSS against
idle (bound: +100 MB), with the statuses every kind of request got, and the cores each party
used in each phase (the server, all PostgreSQL processes, each kind of client), which says
what the tiles wait for. Each client runs in its own process so the measuring client does not
share a GIL with the attackers; ``--attacker-nice 19`` runs the attackers at the lowest CPU
priority, roughly as if they were on another machine. The server takes the ``IRBIS_*``
settings of the environment (e.g. ``IRBIS_HEAVY_ENABLED=false`` to measure without the
per-client bounds on heavy requests, ``IRBIS_RATELIMIT_REFUSALS_FREE=1000000`` without the
hold on repeated refusals, ``IRBIS_RATELIMIT_STORAGE_URI=redis://...`` with the counters in a
shared store). With ``--workers N`` the warm-up fills every worker's tile cache (and has
each import the CQL2 parser) and the server's memory and CPU are its workers' too. The whole
run takes under 3 minutes and stops by itself; only the server process it started (and so its
workers) is stopped.

    .venv/bin/python bench/bench_abuse.py                       # the demo database
    .venv/bin/python bench/bench_abuse.py --db-url postgresql+psycopg://irbis:irbis@127.0.0.1:5432/other

Results go to ``/tmp/benchdata/results/irbis_abuse.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DB = os.environ.get(
    "IRBIS_DATABASE_URL", "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis"
)
TILE_LAYERS = ("countries", "protected_areas", "places")
BODY_MB = 50
CHUNK = 64 * 1024


# -- workload ---------------------------------------------------------------------------------


def tile_set() -> list[str]:
    """A fixed set of 42 tiles over the region (lon 46-87, lat 36-55), z3-6."""
    out = []
    for z in range(3, 7):
        n = 2**z

        def tx(lon: float, n: int = n) -> int:
            return int((lon + 180.0) / 360.0 * n)

        def ty(lat: float, n: int = n) -> int:
            r = math.radians(lat)
            return int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)

        xs = range(tx(46.0), tx(87.0) + 1)
        ys = range(ty(55.0), ty(36.0) + 1)
        cells = [(x, y) for x in xs for y in ys]
        random.Random(z).shuffle(cells)
        for layer in TILE_LAYERS:
            for x, y in cells[:4]:
                out.append(f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}")
    return out


def star(n: int, cx: float, cy: float) -> str:
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        r = 20.0 if i % 2 == 0 else 4.0
        pts.append(f"{cx + r * math.cos(a):.4f} {cy + 0.6 * r * math.sin(a):.4f}")
    return f"POLYGON(({','.join([*pts, pts[0]])}))"


def nested(depth: int, k: int) -> str:
    s = f"population > {100000 + k}"
    for i in range(depth - 1):
        s = f"(population < 0 AND {s})" if i % 2 == 0 else f"(population > {k} OR {s})"
    return s


def anonymous_max_chars() -> int:
    """The longest filter an anonymous caller may send, as the server reads its settings
    (``IRBIS_FEATURES_ANONYMOUS_FILTER_MAX_CHARS`` or the default)."""
    sys.path.insert(0, str(REPO))
    from api.settings import FeatureSettings

    return FeatureSettings().anonymous_filter_max_chars


def largest(build: Any, limit: int) -> int:
    """The largest ``k`` (at least 1) for which ``build(k)`` has at most ``limit`` characters."""
    lo, hi = 1, 4096
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(build(mid)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def costly_filter(rng: random.Random, max_chars: int) -> tuple[str, str, str]:
    """(kind, layer, filter): allowed-but-heavy ones and refused ones, varied. The allowed
    ones are the heaviest an anonymous caller may send (at most ``max_chars`` characters, the
    server's ``anonymous_filter_max_chars``): a polygon of as many vertices, as deep a
    nesting, as long an ``OR`` chain as fit."""
    cx, cy = rng.uniform(55, 80), rng.uniform(38, 50)
    k = rng.randrange(1000)
    choice = rng.randrange(8)
    if choice in (0, 1):
        op, layer = ("S_OVERLAPS", "glaciers") if choice == 0 else ("S_TOUCHES", "countries")
        n = largest(lambda n: f"{op}(geometry, {star(n, 80.0, 50.0)})", max_chars)
        return f"allowed:{op.lower()}-{n + 1}", layer, f"{op}(geometry, {star(n, cx, cy)})"
    if choice == 2:
        depth = largest(lambda d: nested(d, 999), max_chars)
        return f"allowed:depth-{depth}", "places", nested(depth, k)
    if choice == 3:
        n = largest(lambda n: " OR ".join(f"scalerank={i % 10}" for i in range(n)), max_chars)
        terms = " OR ".join(f"scalerank={(k + i) % 10}" for i in range(n))
        return f"allowed:{3 * n}-parts", "places", terms
    if choice == 4:
        return (
            "refused:self-spatial",
            "countries",
            f"S_TOUCHES(geometry, geometry) OR S_CROSSES(geometry, geometry) OR name = '{k}'",
        )
    if choice == 5:
        return "refused:depth-401", "places", nested(401, k)
    if choice == 6:
        return "refused:1200-and", "places", " AND ".join(f"name<>'{k}'" for _ in range(1200))
    return "refused:1001-vertices", "countries", f"S_INTERSECTS(geometry, {star(1000, cx, cy)})"


# -- clients (each in its own process) -------------------------------------------------------


def schedstat(pid: int) -> tuple[float, float]:
    """Seconds the main thread of ``pid`` ran, and was ready to run but waited for a core
    (Linux schedstat; zeros where it is not available)."""
    try:
        ran, waited = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


def ready(start: Any) -> None:
    """Wait until every client process of the window has started (a spawned process imports
    for a while, which on a busy machine takes CPU the measured window should not lose)."""
    if start is not None:
        start.wait(120)


def _conn(port: int, timeout: float = 60) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def tile_client(port: int, seconds: float, out: Any, start: Any = None) -> None:
    """Fetch the tile set in a loop for ``seconds``; latencies in ms and statuses."""
    tiles, lats = tile_set(), []
    statuses: Counter[int | str] = Counter()
    ready(start)
    cpu0 = time.process_time()
    sched0 = schedstat(os.getpid())
    c = _conn(port)
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        path = tiles[i % len(tiles)]
        i += 1
        t = time.perf_counter()
        try:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            statuses[r.status] += 1
        except (OSError, http.client.HTTPException):
            statuses["error"] += 1
            c.close()
            c = _conn(port)
            continue
        lats.append((time.perf_counter() - t) * 1000)
    ran, waited = (b - a for a, b in zip(sched0, schedstat(os.getpid()), strict=True))
    out.put(
        {
            "lat_ms": lats,
            "statuses": dict(statuses),
            "cpu_s": time.process_time() - cpu0,
            "client_ran_s": ran,
            "client_waited_for_a_core_s": waited,
        }
    )


def warm(port: int, workers: int) -> int:
    """Every tile into every worker's cache: twice, 4 connections per worker at once, each
    fetching the whole set (the kernel hands each new connection to a worker that is free to
    accept it, so concurrent ones spread over the workers); how many were fetched."""
    fetched: list[int] = []

    def one() -> None:
        c = _conn(port)
        try:
            for path in tile_set():
                c.request("GET", path)
                c.getresponse().read()
                fetched.append(1)
        finally:
            c.close()

    for _ in range(2):
        threads = [threading.Thread(target=one) for _ in range(4 * workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # the CQL2 parser is imported on the first filter a worker parses (about 2.6 s holding
    # the interpreter on a busy machine): once per worker, on new connections, before measuring
    for i in range(3 * workers):
        c = _conn(port)
        try:
            c.request("GET", "/collections/places/items?" + urlencode({"filter": nested(3, i)}))
            c.getresponse().read()
        finally:
            c.close()
    return len(fetched)


def filter_clients(
    port: int, seconds: float, n: int, out: Any, nice: int, max_chars: int, start: Any = None
) -> None:
    """``n`` threads sending costly filters back to back (one at a time each)."""
    os.nice(nice)
    ready(start)
    stats: dict[str, Counter[str]] = {}
    times: dict[str, list[float]] = {}
    lock = threading.Lock()
    cpu0 = time.process_time()
    end = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        c = _conn(port)
        while time.perf_counter() < end:
            kind, layer, flt = costly_filter(rng, max_chars)
            q = urlencode({"filter": flt, "limit": "10"})
            t = time.perf_counter()
            try:
                c.request("GET", f"/collections/{layer}/items?{q}")
                r = c.getresponse()
                r.read()
                status = str(r.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                c.close()
                c = _conn(port)
            with lock:
                stats.setdefault(kind, Counter())[status] += 1
                times.setdefault(kind, []).append(time.perf_counter() - t)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(
        {
            "statuses": {k: dict(v) for k, v in sorted(stats.items())},
            "times": times,
            "cpu_s": time.process_time() - cpu0,
        }
    )


def body_clients(
    port: int, seconds: float, n: int, grant: str, out: Any, nice: int, start: Any = None
) -> None:
    """``n`` threads posting 50 MB chunked bodies back to back to three routes."""
    os.nice(nice)
    ready(start)
    routes = ["/reports", "/login", f"/api/grants/{grant}/sites"]
    stats: dict[str, Counter[str]] = {}
    sent_mb: dict[str, list[float]] = {}
    lock = threading.Lock()
    cpu0 = time.process_time()
    end = time.perf_counter() + seconds
    junk = os.urandom(CHUNK)

    def worker(i: int) -> None:
        route = routes[i % len(routes)]
        while time.perf_counter() < end:
            sent = 0
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            status = "no-answer"
            try:
                head = (
                    f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: multipart/form-data; boundary=x\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                )
                s.sendall(head.encode())
                s.setblocking(False)
                answer = b""
                frame = f"{CHUNK:x}\r\n".encode() + junk + b"\r\n"
                pending = b""
                # send chunks while the server takes them; read its answer as soon as it
                # comes (a held refusal comes while the server reads nothing)
                while sent < BODY_MB * 1024 * 1024 and time.perf_counter() < end + 30:
                    readable, writable, _ = select.select([s], [s], [], 1.0)
                    if readable:
                        with contextlib.suppress(OSError):
                            answer = s.recv(4096)
                        break
                    if not writable:
                        continue
                    pending = pending or frame
                    try:
                        pending = pending[s.send(pending) :]
                    except BlockingIOError:
                        continue
                    except OSError:
                        break
                    if not pending:
                        sent += CHUNK
                if not answer:
                    s.setblocking(True)
                    with contextlib.suppress(OSError):
                        s.sendall(b"0\r\n\r\n")
                    s.settimeout(30)
                    try:
                        answer = s.recv(4096)
                    except OSError:
                        answer = b""
                if answer.startswith(b"HTTP/1.1 "):
                    status = answer[9:12].decode()
            finally:
                s.close()
            with lock:
                stats.setdefault(route.split("/")[-1] or route, Counter())[status] += 1
                sent_mb.setdefault(route.split("/")[-1] or route, []).append(sent / 2**20)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(
        {
            "statuses": {k: dict(v) for k, v in stats.items()},
            "sent_mb": sent_mb,
            "cpu_s": time.process_time() - cpu0,
        }
    )


FLOODS = ("reports", "login", "token")


def flood_clients(
    port: int, seconds: float, n: int, out: Any, nice: int, start: Any = None
) -> None:
    """``n`` threads sending small refused requests back to back, each on a new connection:
    an anonymous ``POST /reports`` with a small form (401), ``POST /login`` with a wrong
    password and no CSRF token (403) and a read with an unknown bearer token (401)."""
    os.nice(nice)
    ready(start)
    stats: dict[str, Counter[str]] = {}
    lock = threading.Lock()
    cpu0 = time.process_time()
    end = time.perf_counter() + seconds
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def worker(i: int) -> None:
        kind = FLOODS[i % len(FLOODS)]
        k = 0
        while time.perf_counter() < end:
            k += 1
            c = _conn(port)
            try:
                if kind == "reports":
                    c.request("POST", "/reports", body=b"title=x&details=y", headers=form)
                elif kind == "login":
                    body = f"username=user{k}&password=guess{k}".encode()
                    c.request("POST", "/login", body=body, headers=form)
                else:
                    token = {"Authorization": f"Bearer irbis-{i}-{k}-{random.random()}"}
                    c.request("GET", "/collections/places/items?limit=1", headers=token)
                r = c.getresponse()
                r.read()
                status = str(r.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
            finally:
                c.close()
            with lock:
                stats.setdefault(kind, Counter())[status] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(
        {
            "flood_statuses": {k: dict(v) for k, v in stats.items()},
            "cpu_s": time.process_time() - cpu0,
        }
    )


# -- server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(vals: list[float], p: float) -> float:
    vals = sorted(vals)
    k = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def family(proc: Any) -> list[Any]:
    """The server process and its children (the workers of ``irbis serve --workers N``)."""
    import psutil

    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


class RSS:
    """Samples the server's resident memory (with its workers') every 0.1 s."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[tuple[str, float]] = []
        self.phase = "start"
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                rss = sum(p.memory_info().rss for p in family(self.proc))
            except Exception:
                return
            self.samples.append((self.phase, rss / 2**20))

    def stop(self) -> None:
        self._stop.set()
        self._t.join(2)

    def of(self, phase: str) -> list[float]:
        return [m for p, m in self.samples if p == phase]


class CPU:
    """CPU seconds (user + system) of the server and of the PostgreSQL backends connected to
    the benchmark's database (per backend, so that other databases' work on a shared machine
    is not counted; a backend that ends between two samples is lost)."""

    def __init__(self, pid: int, db_url: str) -> None:
        import psutil
        from sqlalchemy import create_engine

        self.psutil = psutil
        self.server = psutil.Process(pid)
        self.engine = create_engine(db_url, pool_size=1)

    def _backends(self) -> dict[int, float]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalars()
            out = {}
            for pid in pids:
                with contextlib.suppress(self.psutil.Error):
                    t = self.psutil.Process(pid).cpu_times()
                    out[pid] = t.user + t.system
        return out

    def sample(self) -> dict[str, Any]:
        server = loop_cpu = loop_wait = 0.0
        for p in family(self.server):
            with contextlib.suppress(self.psutil.Error):
                st = p.cpu_times()
                server += st.user + st.system
            # the main thread of each server process runs its event loop: its CPU time and
            # the time it was ready to run but waited for a core
            ran, waited = schedstat(p.pid)
            loop_cpu += ran
            loop_wait += waited
        return {
            "t": time.perf_counter(),
            "server": server,
            "loop_cpu": loop_cpu,
            "loop_wait": loop_wait,
            "backends": self._backends(),
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        """Wall and CPU seconds of the server and the backends between samples a and b."""
        pg = sum(v - a["backends"].get(pid, 0.0) for pid, v in b["backends"].items())
        return {
            "wall": b["t"] - a["t"],
            "server": b["server"] - a["server"],
            "postgres": pg,
            "loop_cpu": b["loop_cpu"] - a["loop_cpu"],
            "loop_wait": b["loop_wait"] - a["loop_wait"],
        }


def merge(into: dict[Any, Any], got: dict[Any, Any]) -> None:
    """Add ``got`` to ``into``: lists are joined, numbers added, dicts merged."""
    for k, v in got.items():
        if isinstance(v, dict):
            merge(into.setdefault(k, {}), v)
        elif isinstance(v, list):
            into.setdefault(k, []).extend(v)
        else:
            into[k] = into.get(k, 0) + v


def cores(cpu: dict[str, float], **clients: float) -> dict[str, float]:
    """Cores used by each party over a phase (CPU seconds over wall seconds)."""
    wall = cpu["wall"]
    parties = {"server": cpu["server"], "postgres": cpu["postgres"], **clients}
    out = {k: round(v / wall, 2) for k, v in parties.items()}
    # the server's event loop (tiles are answered there): share of the time it ran, and of
    # the time it was ready to run but waited for a core taken by other processes
    out["event_loop_running"] = round(cpu["loop_cpu"] / wall, 2)
    out["event_loop_waiting_for_a_core"] = round(cpu["loop_wait"] / wall, 2)
    return out


def run_clients(ctx: Any, q: Any, targets: list[tuple[Any, tuple[Any, ...]]], t: float) -> list:
    """Start one process per (function, args), each putting one result on ``q``; they begin
    together, once all have started (their last argument: a barrier)."""
    start = ctx.Barrier(len(targets))
    procs = [ctx.Process(target=f, args=(*a, start)) for f, a in targets]
    for pr in procs:
        pr.start()
    got = [q.get(timeout=t + 120) for _ in procs]
    for pr in procs:
        pr.join(30)
    return got


def check_data(url: str) -> str:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM glaciers")).scalar_one()
            grant = conn.execute(text("SELECT code FROM grants ORDER BY id LIMIT 1")).scalar()
    except Exception as exc:
        raise SystemExit(
            f"bench_abuse: {url} does not hold the demo ({type(exc).__name__}); "
            "run `irbis load demo` or pass --db-url"
        ) from None
    finally:
        eng.dispose()
    if not n:
        raise SystemExit("bench_abuse: the database holds no demo data; run `irbis load demo`")
    return str(grant or "NONE")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db-url", default=DEFAULT_DB)
    ap.add_argument("--reader-url", default=None, help="default: the --db-url as irbis_reader")
    ap.add_argument("--seconds", type=float, default=30.0, help="per phase, at most 60")
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="idle and attack alternate this many times (each window --seconds / --rounds)",
    )
    ap.add_argument("--filters", type=int, default=20)
    ap.add_argument("--bodies", type=int, default=10)
    ap.add_argument(
        "--floods",
        type=int,
        default=0,
        help="also this many clients sending small refused requests back to back (anonymous "
        "report forms, wrong logins, unknown tokens), each on a new connection",
    )
    ap.add_argument(
        "--attacker-nice",
        type=int,
        default=0,
        help="run the attacking clients at this nice value (0-19): with 19 they get only "
        "the CPU the server, PostgreSQL and the tile client leave, roughly as if they ran "
        "on another machine",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="irbis serve --workers N (each worker counts its own per-client bounds with the "
        "default memory:// rate-limit store)",
    )
    ap.add_argument("--out", default="/tmp/benchdata/results/irbis_abuse.json")
    args = ap.parse_args()
    seconds = max(5.0, min(args.seconds, 60.0))
    args.rounds = max(1, min(args.rounds, 10))
    reader = args.reader_url or args.db_url.replace("irbis:irbis@", "irbis_reader:irbis_reader@")
    grant = check_data(args.db_url)
    max_chars = anonymous_max_chars()

    port = free_port()
    env = dict(os.environ, IRBIS_DATABASE_URL=args.db_url, IRBIS_DATABASE_READER_URL=reader)
    workers = max(1, min(args.workers, 8))
    irbis = Path(sys.executable).with_name("irbis")
    cmd = [str(irbis), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    server = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    up: list[bytes] = []

    def watch(stream: Any) -> None:
        """Pass uvicorn's messages on, noting each worker's "startup complete"."""
        for line in stream:
            sys.stderr.buffer.write(line)
            if b"Application startup complete" in line:
                up.append(line)

    threading.Thread(target=watch, args=(server.stderr,), daemon=True).start()
    res: dict[str, Any] = {
        "port": port,
        "seconds_per_phase": seconds,
        "rounds": args.rounds,
        "attacker_nice": args.attacker_nice,
        "flood_clients": args.floods,
        "workers": workers,
        "anonymous_filter_max_chars": max_chars,
        "settings_env": {
            k: v
            for k, v in sorted(os.environ.items())
            if k.startswith(("IRBIS_HEAVY_", "IRBIS_RATELIMIT_", "IRBIS_FEATURES_"))
        },
    }
    t_start = time.perf_counter()
    try:
        deadline = time.perf_counter() + 60 + 60 * workers  # workers start slowly when busy
        while True:
            if server.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit("bench_abuse: the server did not start")
            try:
                c = _conn(port, 5)
                c.request("GET", "/health")
                if c.getresponse().status == 200 and len(up) >= workers:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        rss = RSS(server.pid)
        cpu = CPU(server.pid, args.db_url)
        ctx = mp.get_context("spawn")
        q: Any = ctx.Queue()
        # warm-up: every tile in every worker's cache, so both phases measure the same
        # (cached) tiles
        rss.phase = "warm"
        res["warm"] = {"tiles": warm(port, workers)}

        # idle and attack alternate in --rounds short windows, so that other work on a
        # shared machine weighs on both alike
        per = seconds / args.rounds
        nice = args.attacker_nice
        idle: dict[str, Any] = {}
        attack: dict[str, Any] = {}
        filters: dict[str, Any] = {}
        bodies: dict[str, Any] = {}
        floods: dict[str, Any] = {}
        cpu_idle: dict[str, Any] = {}
        cpu_attack: dict[str, Any] = {}
        for _ in range(args.rounds):
            rss.phase = "idle"
            c0 = cpu.sample()
            (got,) = run_clients(ctx, q, [(tile_client, (port, per, q))], per)
            merge(cpu_idle, CPU.delta(c0, cpu.sample()))
            merge(idle, got)
            rss.phase = "attack"
            c0 = cpu.sample()
            targets: list[tuple[Any, tuple[Any, ...]]] = [
                (tile_client, (port, per, q)),
                (filter_clients, (port, per, args.filters, q, nice, max_chars)),
                (body_clients, (port, per, args.bodies, grant, q, nice)),
            ]
            if args.floods:
                targets.append((flood_clients, (port, per, args.floods, q, nice)))
            got_all = run_clients(ctx, q, targets, per)
            merge(cpu_attack, CPU.delta(c0, cpu.sample()))
            merge(attack, next(g for g in got_all if "lat_ms" in g))
            merge(filters, next(g for g in got_all if "times" in g))
            merge(bodies, next(g for g in got_all if "sent_mb" in g))
            merge(floods, next((g for g in got_all if "flood_statuses" in g), {}))
        rss.phase = "after"
        time.sleep(1)
        rss.stop()
        res["cpu_cores_idle"] = cores(cpu_idle, tile_client=idle.pop("cpu_s"))
        res["cpu_cores_attack"] = cores(
            cpu_attack,
            tile_client=attack.pop("cpu_s"),
            filter_clients=filters.pop("cpu_s"),
            body_clients=bodies.pop("cpu_s"),
            flood_clients=floods.pop("cpu_s", 0.0),
        )
        filters["s_median"] = {
            k: round(statistics.median(v), 3) for k, v in sorted(filters.pop("times").items())
        }
        bodies["mb_sent_median"] = {
            k: round(statistics.median(v), 2) for k, v in sorted(bodies.pop("sent_mb").items())
        }
    finally:
        if server.poll() is None:
            server.terminate()  # the PID this script started, nothing else
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)

    def lat(d: dict) -> dict:
        v = d["lat_ms"]
        n = max(1, len(v))
        return {
            "n": len(v),
            "p50_ms": round(pct(v, 50), 2),
            "p99_ms": round(pct(v, 99), 2),
            "mean_ms": round(sum(v) / n, 2),
            # of a tile's mean time, how long the tile client itself ran and waited for a
            # core (the rest: the network, the server, and the server waiting for a core)
            "client_ran_ms_per_tile": round(1000 * d.pop("client_ran_s", 0.0) / n, 2),
            "client_waited_for_a_core_ms_per_tile": round(
                1000 * d.pop("client_waited_for_a_core_s", 0.0) / n, 2
            ),
            "statuses": d["statuses"],
        }

    idle_rss, attack_rss = rss.of("idle"), rss.of("attack")
    res.update(
        idle=lat(idle),
        attack=lat(attack),
        filters=filters,
        bodies=bodies,
        floods=floods.get("flood_statuses", {}),
        rss_mb={
            "idle_median": round(statistics.median(idle_rss), 1),
            "idle_max": round(max(idle_rss), 1),
            "attack_max": round(max(attack_rss), 1),
            "after": round(rss.of("after")[-1], 1) if rss.of("after") else None,
        },
        total_s=round(time.perf_counter() - t_start, 1),
    )
    res["server_event_loop_ms_per_tile"] = {
        phase: {
            "ran": round(1000 * c["loop_cpu"] / max(1, res[phase]["n"]), 2),
            "waited_for_a_core": round(1000 * c["loop_wait"] / max(1, res[phase]["n"]), 2),
        }
        for phase, c in (("idle", cpu_idle), ("attack", cpu_attack))
    }
    res["ratio_p50"] = round(res["attack"]["p50_ms"] / res["idle"]["p50_ms"], 2)
    res["ratio_p99"] = round(res["attack"]["p99_ms"] / res["idle"]["p99_ms"], 2)
    res["rss_growth_mb"] = round(res["rss_mb"]["attack_max"] - res["rss_mb"]["idle_median"], 1)
    res["within_bounds"] = {
        "tile_latency_2x": res["ratio_p50"] <= 2 and res["ratio_p99"] <= 2,
        "memory_100mb": res["rss_growth_mb"] <= 100,
        "no_5xx": not any(
            s.startswith("5")
            for d in (filters["statuses"], bodies["statuses"], res["floods"])
            for c in d.values()
            for s in c
        ),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
