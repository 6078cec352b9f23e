#!/usr/bin/env python3
"""Cold start, Irbis against tipg: from spawning the server to its first tile.

Each run starts a fresh server process (one uvicorn worker, as ``bench/bench_tiles.py`` does,
on the same tables), waits until its health route answers 200 (spawn to ready), then asks for
one z4 tile of ``protected_areas`` (nothing cached: the tile is built). Runs alternate between
the two servers, so a busy moment of the machine falls on both; medians are reported, with
every run's figures. Beside the wall times, each run records the CPU time the server process
has used by its first tile (user + system, from ``/proc``): on a busy machine the wall times
stretch with the load, the CPU time much less. The load average is recorded at each run.

Spawn to ready is split in three from the lines uvicorn logs as they arrive: spawn to the
application imported and created (uvicorn's "Waiting for application startup"), the lifespan's
start (to "Application startup complete"), and from there to the first 200 of the health route
(the listening socket, the first request, and for Irbis its database checks).

The tables are those of ``bench/bench_tiles.py`` (loaded by it, or here without
``--skip-load``).

    .venv/bin/python bench/bench_cold_start.py --runs 5 --skip-load

Only the server processes this script started are stopped (by their PID).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_tiles as bt  # noqa: E402  (the tiles bench's servers and data)

SERVERS = ("irbis", "tipg")
#: Clock ticks per second, for the CPU times in ``/proc/<pid>/stat``.
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process ``pid`` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command's name
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


#: uvicorn's log lines (``--log-level info``) that end the phases of a start.
PHASES = {
    "Waiting for application startup.": "imported",
    "Application startup complete.": "started",
}


def watch(proc: subprocess.Popen, seen: dict[str, float], lines: list[str]) -> None:
    """Read the server's log as it comes and note when each phase's line arrives."""
    assert proc.stderr is not None
    for line in proc.stderr:
        now = time.perf_counter()
        lines.append(line)
        for text, phase in PHASES.items():
            if text in line:
                seen.setdefault(phase, now)


def cold_start(server: str, args: argparse.Namespace, first: str) -> dict:
    """One run: spawn, ready, first tile."""
    port = bt.free_port()
    proc, t0 = bt.start(server, port, args.db_url, args.reader_url, log_level="info")
    seen: dict[str, float] = {}
    lines: list[str] = []
    reader = threading.Thread(target=watch, args=(proc, seen, lines), daemon=True)
    reader.start()
    try:
        try:
            client, ready = bt.wait_ready(
                proc, port, t0, "/health" if server == "irbis" else "/healthz"
            )
        except RuntimeError as e:
            raise RuntimeError(f"{e}{''.join(lines)[-2000:]}") from None
        t1 = time.perf_counter()
        status, body = client.get(first)
        done = time.perf_counter()
        cpu = cpu_seconds(proc.pid)
    finally:
        bt.stop(proc)
    imported, started = seen.get("imported"), seen.get("started")
    return {
        "spawn_to_ready_s": round(ready - t0, 3),
        "spawn_to_imported_s": round(imported - t0, 3) if imported else None,
        "lifespan_start_ms": round((started - imported) * 1000, 1)
        if imported and started
        else None,
        "started_to_ready_ms": round((ready - started) * 1000, 1) if started else None,
        "first_tile_ms": round((done - t1) * 1000, 1),
        "spawn_to_first_tile_s": round(done - t0, 3),
        "first_tile_status": status,
        "first_tile_bytes": len(body),
        "cpu_to_first_tile_s": round(cpu, 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db-url", default=os.environ.get("IRBIS_BENCH_DATABASE_URL", bt.DEFAULT_DB))
    ap.add_argument("--reader-url", default=os.environ.get("IRBIS_BENCH_READER_URL", bt.READER_DB))
    ap.add_argument("--data", default=os.environ.get("BENCHDATA", "/tmp/benchdata"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--runs", type=int, default=5, help="runs per server")
    args = ap.parse_args()
    bt.ensure_database(args.db_url)
    if not args.skip_load:
        print(bt.load(args.db_url, args.scale, Path(args.data)), flush=True)
    z, x, y = next(t for t in bt.tile_list(42) if t[0] == 4)
    first = {
        "irbis": f"/collections/protected_areas/tiles/WebMercatorQuad/{z}/{y}/{x}",
        "tipg": f"/collections/public.protected_areas/tiles/WebMercatorQuad/{z}/{x}/{y}",
    }
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {s: [] for s in SERVERS}
    for i in range(args.runs):
        for server in SERVERS:
            r = cold_start(server, args, first[server])
            runs[server].append(r)
            print(f"run {i} {server}: {r}", flush=True)
    res = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "runs": runs,
        "median": {
            s: {
                k: round(statistics.median(v), 3)
                if (v := [r[k] for r in rs if r[k] is not None])
                else None
                for k in (
                    "spawn_to_ready_s",
                    "spawn_to_imported_s",
                    "lifespan_start_ms",
                    "started_to_ready_ms",
                    "first_tile_ms",
                    "spawn_to_first_tile_s",
                    "cpu_to_first_tile_s",
                )
            }
            for s, rs in runs.items()
        },
    }
    out = Path(args.data) / "results" / "irbis_cold_start.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res["median"], indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
