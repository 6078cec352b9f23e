#!/usr/bin/env python3
"""Uncached tiles per layer: Irbis's tile SQL against tipg's, on the peer workload.

The same data, tile list and load as ``bench/bench_tiles.py`` (304 WebMercatorQuad tiles at
z4-10, ``wrk -t2 -c16`` through ``bench/wrk_paths.lua``), but only tiles, and Irbis with its
tile cache off (``IRBIS_TILES_CACHE_MB=0``), so every request runs the tile SQL: this compares
the SQL and its encoding, not the caches. For each layer, runs of Irbis and tipg are
interleaved and medians reported; a sequential pass first records the bytes per tile by zoom
and checks that both serve every tile.

    .venv/bin/python bench/bench_tiles_sql.py --duration 5 --runs 2 --write-docs

``--sql-only`` times the tile statements themselves (no HTTP), one connection, every tile of
the list in turn, with the materialised EPSG:3857 geometry (migration 0011) and with the
transforming path it replaced; that comparison is steady even on a busy machine.

``--sql-vs-tipg`` runs Irbis's tile statements and tipg's (the SQL tipg sends for the same
tiles, taken from tipg itself, run in this process) on one connection, every tile of the list,
and reports the CPU time of the PostgreSQL backend (``/proc/<pid>/stat``: PostgreSQL must run
on this machine, readable by this user) by layer and zoom, with the tile bytes. CPU time, not
wall time: on a shared, busy machine the wall time of a statement varies several-fold between
runs, its CPU time much less.

``--tipg-python`` names a Python with tipg and uvicorn installed (default: this one); with
``--skip-load`` the tables loaded by an earlier run are used. Results go to
``/tmp/benchdata/results/irbis_tiles_sql.json`` and, with ``--write-docs``, into
``docs/benchmarks.md`` between the ``tiles-sql-bench`` markers. Only the server processes this
script started are stopped (by their PID).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_tiles as bt  # noqa: E402  (the shared workload, servers and wrk driver)

REPO = HERE.parent
DEFAULT_DB = "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis_bench"


def start(server: str, port: int, args: argparse.Namespace) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ)
    if server == "irbis":
        env.update(
            IRBIS_DATABASE_URL=args.db_url,
            IRBIS_DATABASE_READER_URL=args.reader_url,
            IRBIS_TILES_CACHE_MB="0",
        )
        py, app = sys.executable, ["api.app:create_app", "--factory"]
    else:
        env.update(
            DATABASE_URL=args.db_url.replace("+psycopg", ""),
            TIPG_NAME="tipg",
            TIPG_DB_SCHEMAS='["public"]',
            TIPG_DB_TABLES=json.dumps([f"public.{x}" for x in bt.LAYERS]),
        )
        py, app = args.tipg_python, ["tipg.main:app"]
    cmd = [py, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    return proc, t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db-url", default=os.environ.get("IRBIS_BENCH_DATABASE_URL", DEFAULT_DB))
    ap.add_argument("--reader-url", default=None, help="default: the reader role on --db-url")
    ap.add_argument("--data", default=os.environ.get("BENCHDATA", "/tmp/benchdata"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--tipg-python", default=sys.executable)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (<= 60)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--layers", default=",".join(bt.LAYERS))
    ap.add_argument("--sql-only", action="store_true")
    ap.add_argument("--sql-vs-tipg", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    args.duration = max(1, min(args.duration, 60))
    if args.reader_url is None:
        args.reader_url = args.db_url.replace("//irbis:irbis@", "//irbis_reader:irbis_reader@")
    bt.ensure_database(args.db_url)
    res: dict = {"config": {k: v for k, v in vars(args).items() if "url" not in k}}
    if not args.skip_load:
        print("loading the workload into PostGIS ...", flush=True)
        res["load"] = bt.load(args.db_url, args.scale, Path(args.data))
        print(res["load"], flush=True)
    tiles = bt.tile_list(42)
    zooms = [z for z, _, _ in tiles]
    layers = args.layers.split(",")
    if args.sql_vs_tipg:
        md = sql_vs_tipg(args.db_url, layers, tiles, args.runs)
        print(md)
        if args.write_docs:
            meta = (
                f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, scale "
                f"{args.scale}, public principal, backend CPU summed over {args.runs} pass(es) "
                "of the 304 tiles and divided by the passes."
            )
            write_docs(md, meta, "tiles-sql-vs-tipg")
        return
    if args.sql_only:
        md = sql_only(args.db_url, layers, tiles)
        print(md)
        if args.write_docs:
            meta = f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, scale {args.scale}."
            write_docs(md, meta, "tiles-sql-statements")
        return
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for server in ("irbis", "tipg"):
            port = bt.free_port()
            proc, t0 = start(server, port, args)
            servers[server] = (proc, port)
            client, _ = bt.wait_ready(
                proc, port, t0, "/health" if server == "irbis" else "/healthz"
            )
            scen = bt.paths(server, tiles, [])
            res.setdefault("sequential", {})[server] = {
                layer: bt.sequential(client, scen[f"tiles:{layer}"][1], "tiles", zooms)
                for layer in layers
            }
            print(server, "sequential done", flush=True)
        runs: dict[str, dict[str, list[dict]]] = {s: {x: [] for x in layers} for s in servers}
        for r in range(args.runs):
            for layer in layers:
                for server, (_, port) in servers.items():
                    ps = bt.paths(server, tiles, [])[f"tiles:{layer}"][1]
                    w = bt.wrk(port, ps, args.duration, args.threads, args.connections)
                    runs[server][layer].append(w)
                    print(f"run{r} {server} {layer} {w}", flush=True)
        res["wrk_runs"] = runs
        res["wrk_median"] = {
            s: {
                x: {k: statistics.median(w[k] for w in rs) for k in ("rps", "p50_ms", "p99_ms")}
                | {"errors": sum(w["errors"] for w in rs)}
                for x, rs in per.items()
            }
            for s, per in runs.items()
        }
    finally:
        for proc, _ in servers.values():
            bt.stop(proc)
    out = Path(args.data) / "results" / "irbis_tiles_sql.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")
    md = table(res, layers)
    print(md)
    if args.write_docs:
        meta = (
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, scale {args.scale}, "
            f"{args.runs} x {args.duration} s of `wrk -t{args.threads} -c{args.connections}` per "
            "layer and server, runs interleaved (medians), Irbis's tile cache off."
        )
        write_docs(md, meta)


def sql_only(url: str, layers: list[str], tiles: list[tuple[int, int, int]]) -> str:
    """Seconds to run every tile statement of the list, materialised vs transforming."""
    from sqlalchemy import create_engine

    import layers.tiles as lt
    from layers.registry import get_layer
    from layers.sql import LayerSQL

    eng = create_engine(url)
    rows = [
        "| layer | materialised EPSG:3857: s for 304 tiles (bytes) | transforming: s (bytes) "
        "| speed-up |",
        "|---|---|---|---|",
    ]
    saved = lt.TILE_GEOMETRY
    with eng.connect() as conn:
        for layer in layers:
            got = {}
            for label in ("transforming", "materialised", "transforming2", "materialised2"):
                lt.TILE_GEOMETRY = saved if label.startswith("materialised") else {}
                lt._STATEMENTS.clear()
                view = LayerSQL(get_layer(layer), privileged=False)
                stmt = lt.tile_statement(view, "WebMercatorQuad")
                t0, size = time.perf_counter(), 0
                for z, x, y in tiles:
                    p = lt.tile_params(lt.TileRequest("WebMercatorQuad", z, x, y))
                    size += len(bytes(conn.execute(stmt, p).scalar_one() or b""))
                got[label] = (time.perf_counter() - t0, size)
                print(layer, label, got[label], flush=True)
            m = min(got["materialised"][0], got["materialised2"][0])
            t = min(got["transforming"][0], got["transforming2"][0])
            rows.append(
                f"| {layer} | {m:.2f} ({got['materialised'][1]:,}) "
                f"| {t:.2f} ({got['transforming'][1]:,}) | **{t / m:.2f}x** |"
            )
    lt.TILE_GEOMETRY = saved
    eng.dispose()
    return "\n".join(rows)


def tipg_statements(url: str, layers: list[str], tiles: list[tuple[int, int, int]]) -> dict:
    """The tile SQL tipg sends, by ``layer/z/x/y``: tipg's app run in this process against
    ``url`` with its debug log (where it writes each statement with its values) captured."""
    import logging

    os.environ.update(
        DATABASE_URL=url.replace("+psycopg", ""),
        TIPG_NAME="tipg",
        TIPG_DB_SCHEMAS='["public"]',
        TIPG_DB_TABLES=json.dumps([f"public.{x}" for x in bt.LAYERS]),
    )
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    log = logging.getLogger("tipg")
    log.setLevel(logging.DEBUG)
    log.addHandler(Keep())
    from starlette.testclient import TestClient
    from tipg.main import app

    out = {}
    with TestClient(app) as client:
        for layer in layers:
            for z, x, y in tiles:
                seen.clear()
                r = client.get(f"/collections/public.{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}")
                sql = [m for m in seen if "ST_AsMVT(" in m]
                if r.status_code != 200 or not sql:
                    raise SystemExit(f"tipg gave no tile SQL for {layer}/{z}/{x}/{y}")
                out[f"{layer}/{z}/{x}/{y}"] = sql[-1]
    return out


def backend_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) the PostgreSQL backend ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sql_vs_tipg(url: str, layers: list[str], tiles: list[tuple[int, int, int]], runs: int) -> str:
    """Backend CPU seconds and bytes of Irbis's tile statements and tipg's, by layer and zoom."""
    from collections import defaultdict

    from sqlalchemy import create_engine, text

    import layers.tiles as lt
    from layers.registry import get_layer
    from layers.sql import LayerSQL

    tipg_sql = tipg_statements(url, layers, tiles)
    eng = create_engine(url)
    zs = sorted({z for z, _, _ in tiles})
    # cpu[layer][server][z] = [seconds over the passes, bytes of one pass]
    cpu: dict = {x: {s: defaultdict(lambda: [0.0, 0]) for s in ("irbis", "tipg")} for x in layers}
    with eng.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for layer in layers:
            stmt = lt.tile_statement(
                LayerSQL(get_layer(layer), privileged=False), "WebMercatorQuad"
            )
            for r in range(runs):
                for server in ("irbis", "tipg"):
                    for z, x, y in tiles:
                        c0 = backend_cpu(pid)
                        if server == "irbis":
                            p = lt.tile_params(lt.TileRequest("WebMercatorQuad", z, x, y))
                            data = conn.execute(stmt, p).scalar_one()
                        else:
                            sql = tipg_sql[f"{layer}/{z}/{x}/{y}"].replace("%", "%%")
                            data = conn.exec_driver_sql(sql).scalar_one()
                        got = cpu[layer][server][z]
                        got[0] += backend_cpu(pid) - c0
                        if r == 0:
                            got[1] += len(bytes(data or b""))
            i = sum(v[0] for v in cpu[layer]["irbis"].values()) / runs
            t = sum(v[0] for v in cpu[layer]["tipg"].values()) / runs
            print(f"{layer}: backend CPU Irbis {i:.2f} s, tipg {t:.2f} s", flush=True)
    eng.dispose()
    rows = [
        "| layer | backend CPU, 304 tiles: Irbis s | tipg s | tipg / Irbis | kB Irbis / tipg |",
        "|---|---|---|---|---|",
    ]
    for x in layers:
        i, t = cpu[x]["irbis"], cpu[x]["tipg"]
        si, st = sum(v[0] for v in i.values()) / runs, sum(v[0] for v in t.values()) / runs
        bi, bt_ = sum(v[1] for v in i.values()), sum(v[1] for v in t.values())
        rows.append(
            f"| {x} | {si:.2f} | {st:.2f} | **{st / si:.2f}x** | {bi / 1024:,.0f} / {bt_ / 1024:,.0f} |"
        )
    rows += ["", "By zoom, tipg's backend CPU / Irbis's (ms per tile, Irbis / tipg):", ""]
    rows.append("| layer | " + " | ".join(f"z{z}" for z in zs) + " |")
    rows.append("|---|" + "---|" * len(zs))
    n = {z: sum(1 for t in tiles if t[0] == z) for z in zs}
    for x in layers:
        i, t = cpu[x]["irbis"], cpu[x]["tipg"]
        cells = []
        for z in zs:
            mi, mt = i[z][0] / runs / n[z] * 1000, t[z][0] / runs / n[z] * 1000
            ratio = f"{mt / mi:.2f}x" if mi > 0 else "-"
            cells.append(f"{ratio} ({mi:.1f} / {mt:.1f})")
        rows.append(f"| {x} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def table(res: dict, layers: list[str]) -> str:
    med, seq = res["wrk_median"], res["sequential"]
    rows = [
        "| layer | Irbis, uncached req/s (p50 / p99 ms) | tipg req/s (p50 / p99 ms) "
        "| ratio | mean bytes per tile Irbis / tipg | non-200 Irbis / tipg |",
        "|---|---|---|---|---|---|",
    ]
    for x in layers:
        i, t = med["irbis"][x], med["tipg"][x]
        si, st = seq["irbis"][x], seq["tipg"][x]
        rows.append(
            f"| {x} | {i['rps']} ({i['p50_ms']} / {i['p99_ms']}) "
            f"| {t['rps']} ({t['p50_ms']} / {t['p99_ms']}) | **{i['rps'] / t['rps']:.2f}x** "
            f"| {si['bytes_mean']} / {st['bytes_mean']} | {si['non_200']} / {st['non_200']} |"
        )
    rows += ["", "Mean kB per tile by zoom, Irbis / tipg (sequential pass):", ""]
    rows.append("| layer | " + " | ".join(f"z{z}" for z in range(4, 11)) + " |")
    rows.append("|---|" + "---|" * 7)
    for x in layers:
        a, b = seq["irbis"][x]["by_zoom"], seq["tipg"][x]["by_zoom"]
        cells = [f"{a[z]['kB_mean']} / {b[z]['kB_mean']}" for z in range(4, 11)]
        rows.append(f"| {x} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_docs(md: str, meta: str, marker: str = "tiles-sql-bench") -> None:
    doc = REPO / "docs" / "benchmarks.md"
    text = doc.read_text(encoding="utf-8")
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    block = f"{begin}\n{meta}\n\n{md}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
