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
