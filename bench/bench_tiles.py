#!/usr/bin/env python3
"""Irbis vs tipg: MVT tiles at z4-10 and OGC API Features bbox queries, on the same tables.

The peer harness's workload (``bench/workload.py``: same generator, seed and counts as
``/work/shared/bench/make_data.py``) is loaded into Irbis's own schema (species_ranges,
protected_areas, field_sites, migrated with Alembic, GiST indexes, ANALYZE) in a database of
its own; then both servers are started on 127.0.0.1 against those same tables (one uvicorn
worker each) and measured the same way as the peer harness:

* tiles: every tile of the box at z4-6 plus 60 seeded per zoom at z7-10 (304 tiles);
* items: 200 seeded bboxes (1-5 x 0.7-3.5 degrees), ``limit=100``;
* cold: a first sequential pass right after the server started (nothing cached anywhere in
  Irbis; PostgreSQL's page cache is warm, it is not restarted), then wrk runs (warm);
  Irbis is measured with its tile cache on and off (``IRBIS_TILES_CACHE_MB=0``), so the SQL
  itself is compared too;
* wrk ``-t2 -c16`` through ``bench/wrk_paths.lua``, runs interleaved, medians reported.
* ``--bare``: the same wrk runs against a bare FastAPI route (``bench/bare_tile_app.py``), the
  framework's own bound on the machine.

Results go to ``/tmp/benchdata/results/irbis_tiles.json`` and, with ``--write-docs``, into
``docs/benchmarks.md`` between the ``tiles-bench`` markers.

    .venv/bin/python bench/bench_tiles.py --scale 0.1 --duration 2 --runs 1   # a short check
    .venv/bin/python bench/bench_tiles.py --write-docs                       # the measurement

Only the server processes this script started are stopped (by their PID).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

BBOX = (46.0, 36.0, 87.0, 55.0)
LAYERS = ("protected_areas", "species_ranges", "field_sites")
DEFAULT_DB = "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis_bench"
READER_DB = "postgresql+psycopg://irbis_reader:irbis_reader@127.0.0.1:5432/irbis_bench"


# -- data ------------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the bench database (owner irbis, PostGIS) when running as root; else explain."""
    name = urlparse(url.replace("+psycopg", "")).path.lstrip("/")
    probe = ["psql", "-qAt", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"]
    if os.geteuid() == 0:
        have = subprocess.run(
            ["su", "postgres", "-c", " ".join(map(_q, probe))], capture_output=True, text=True
        )
        if have.stdout.strip() != "1":
            sql = (
                f"CREATE DATABASE {name} OWNER irbis",
                f"\\c {name}\nCREATE EXTENSION IF NOT EXISTS postgis;\n"
                f"GRANT CONNECT ON DATABASE {name} TO irbis_reader;\n"
                "GRANT USAGE ON SCHEMA public TO irbis_reader;\n"
                "ALTER DEFAULT PRIVILEGES FOR ROLE irbis IN SCHEMA public GRANT SELECT ON TABLES TO irbis_reader;",
            )
            subprocess.run(
                ["su", "postgres", "-c", f"psql -v ON_ERROR_STOP=1 -qAt -c {_q(sql[0])}"],
                check=True,
            )
            subprocess.run(
                ["su", "postgres", "-c", "psql -v ON_ERROR_STOP=1 -qAt"],
                input=sql[1],
                text=True,
                check=True,
            )


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def load(url: str, scale: float, data: Path) -> dict:
    """Migrate, then replace the three tables' rows with the workload (one transaction)."""
    import workload
    from sqlalchemy import create_engine, text

    import geopandas as gpd

    from api.db import migrate

    migrate.upgrade(url, "head")
    tag = f"s{scale:g}"
    frames = {}
    data.mkdir(parents=True, exist_ok=True)
    for name in LAYERS:
        p = data / f"{name}_{tag}.gpkg"
        if p.exists():
            frames[name] = gpd.read_file(p)
    if len(frames) < len(LAYERS):
        v = workload.make_vectors(scale, 20240601)
        for name in LAYERS:
            v[name].to_file(data / f"{name}_{tag}.gpkg", engine="pyogrio")
            frames[name] = v[name]
    eng = create_engine(url)
    t0 = time.perf_counter()
    with eng.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS bench_stage"))
    for name, gdf in frames.items():
        g = gdf[[gdf.geometry.name]].rename_geometry("geom").set_crs(4326, allow_override=True)
        g.to_postgis(name, eng, schema="bench_stage", if_exists="replace", index=False)
    with eng.begin() as conn:
        conn.execute(text("SELECT set_config('irbis.actor', 'bench', true)"))
        conn.execute(text("TRUNCATE field_sites, species_ranges, protected_areas CASCADE"))
        conn.execute(text("DELETE FROM grants WHERE code = 'BENCH-1'"))
        conn.execute(text("DELETE FROM species WHERE source = 'bench'"))
        conn.execute(
            text(
                "INSERT INTO species (scientific_name, iucn_category, sensitive, source) VALUES "
                "('Bench species A', 'VU', false, 'bench'), ('Bench species B', 'VU', false, 'bench')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO grants (code, title, grantee_organisation, amount, currency, start_date,"
                " end_date, countries, status, source, method) VALUES ('BENCH-1', 'Benchmark grant',"
                " 'Bench', 1000, 'USD', '2020-01-01', '2021-01-01', ARRAY['KAZ'], 'active', 'bench',"
                " 'example')"
            )
        )
        prov = "'bench workload', 'CC0', 'example'"
        conn.execute(
            text(
                "INSERT INTO protected_areas (name, status, is_oecm, source, licence, method, geom) "
                f"SELECT 'PA ' || row_number() over (), 'Designated', false, {prov}, geom FROM bench_stage.protected_areas"
            )
        )
        conn.execute(
            text(
                "INSERT INTO species_ranges (species_id, presence, origin, seasonal, source, licence,"
                " method, geom) SELECT (SELECT min(id) FROM species WHERE source = 'bench') + (n % 2),"
                " 1, 1, 1, "
                f"{prov}, ST_Multi(geom) FROM (SELECT row_number() over () AS n, geom "
                "FROM bench_stage.species_ranges) s"
            )
        )
        conn.execute(
            text(
                "INSERT INTO field_sites (grant_id, name, uploaded_by, source, licence, method, geom) "
                "SELECT (SELECT id FROM grants WHERE code = 'BENCH-1'), 'site ' || row_number() over (), "
                f"'bench', {prov}, ST_Multi(geom) FROM bench_stage.field_sites"
            )
        )
        conn.execute(text("DROP SCHEMA bench_stage CASCADE"))
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in LAYERS:
            conn.execute(text(f"VACUUM ANALYZE {name}"))
        counts = {
            n: int(conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one()) for n in LAYERS
        }
    eng.dispose()
    return {"load_s": round(time.perf_counter() - t0, 2), "counts": counts}


# -- workload lists (as the peer harness) -----------------------------------------------------


def tile_range(z: int) -> tuple[int, int, int, int]:
    n = 2**z

    def tx(lon: float) -> int:
        return int((lon + 180.0) / 360.0 * n)

    def ty(lat: float) -> int:
        r = math.radians(lat)
        return int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)

    return tx(BBOX[0]), tx(BBOX[2] - 1e-9), ty(BBOX[3]), ty(BBOX[1] + 1e-9)


def tile_list(seed: int, per_zoom: int = 60) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    tiles: list[tuple[int, int, int]] = []
    for z in range(4, 11):
        x0, x1, y0, y1 = tile_range(z)
        allz = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        tiles += allz if len(allz) <= per_zoom else rng.sample(allz, per_zoom)
    return tiles


def bbox_list(seed: int, n: int = 200) -> list[tuple[float, float, float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        w, h = rng.uniform(1.0, 5.0), rng.uniform(0.7, 3.5)
        x = rng.uniform(BBOX[0], BBOX[2] - w)
        y = rng.uniform(BBOX[1], BBOX[3] - h)
        out.append((round(x, 4), round(y, 4), round(x + w, 4), round(y + h, 4)))
    return out


def paths(server: str, tiles: list, boxes: list) -> dict[str, tuple[str, list[str]]]:
    scen: dict[str, tuple[str, list[str]]] = {}
    for layer in LAYERS:
        if server == "irbis":  # OGC API Tiles order: {tileMatrix}/{tileRow}/{tileCol}
            t = [f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}" for z, x, y in tiles]
        else:
            t = [
                f"/collections/public.{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                for z, x, y in tiles
            ]
        scen[f"tiles:{layer}"] = ("tiles", t)
    for layer in ("protected_areas", "field_sites"):
        prefix = layer if server == "irbis" else f"public.{layer}"
        scen[f"items:{layer}"] = (
            "items",
            [
                f"/collections/{prefix}/items?bbox={a},{b},{c},{d}&limit=100&f=geojson"
                for a, b, c, d in boxes
            ],
        )
    return scen


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    server: str, port: int, url: str, reader: str, *, cache_mb: int = 64, log_level: str = "warning"
) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ)
    if server == "irbis":
        env.update(
            IRBIS_DATABASE_URL=url,
            IRBIS_DATABASE_READER_URL=reader,
            IRBIS_TILES_CACHE_MB=str(cache_mb),
            IRBIS_FEATURES_MAX_LIMIT="10000",
            # the workload comes from one address and the peer has no per-client bound: bbox
            # reads would be refused (429) beyond 2 at once and 120 a minute (api.heavy)
            IRBIS_HEAVY_ENABLED="false",
        )
        app = ["api.app:create_app", "--factory"]
    elif server == "bare":
        app = ["bare_tile_app:app", "--app-dir", str(HERE)]
    else:
        plain = url.replace("+psycopg", "")
        env.update(
            DATABASE_URL=plain,
            TIPG_NAME="tipg",
            TIPG_DB_SCHEMAS='["public"]',
            TIPG_DB_TABLES=json.dumps([f"public.{x}" for x in LAYERS]),
        )
        app = ["tipg.main:app"]
    cmd = [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--no-access-log", "--log-level", log_level]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    return proc, t0


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # the PID this script started, nothing else
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            self.c.request("GET", path)
            r = self.c.getresponse()
            return r.status, r.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return -1, b""


def wait_ready(proc: subprocess.Popen, port: int, t0: float, health: str) -> tuple[Client, float]:
    client = None
    while time.perf_counter() - t0 < 90:
        if proc.poll() is not None:
            raise RuntimeError(
                "server exited: " + (proc.stderr.read() if proc.stderr else "")[-2000:]
            )
        try:
            client = client or Client(port)
            st, _ = client.get(health)
            if st == 200:
                return client, time.perf_counter()
        except OSError:
            client = None
        time.sleep(0.02)
    raise RuntimeError("server not ready within 90 s")


def pct(vals: list[float], p: float) -> float | None:
    vals = sorted(vals)
    if not vals:
        return None
    k = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def sequential(client: Client, ps: list[str], kind: str, zooms: list[int] | None = None) -> dict:
    sizes, lats, nret, bad = [], [], [], 0
    by_zoom: dict[int, list[tuple[float, int]]] = {}
    for i, p in enumerate(ps):
        t = time.perf_counter()
        st, body = client.get(p)
        lats.append((time.perf_counter() - t) * 1000)
        if zooms is not None and kind == "tiles":
            by_zoom.setdefault(zooms[i], []).append((lats[-1], len(body)))
        if st != 200:
            bad += 1
            continue
        sizes.append(len(body))
        if kind == "items":
            nret.append(json.loads(body).get("numberReturned", 0))
    out = {
        "n": len(ps),
        "non_200": bad,
        "bytes_mean": round(statistics.fmean(sizes)) if sizes else None,
        "ms_p50": round(pct(lats, 50) or 0, 2),
        "ms_p99": round(pct(lats, 99) or 0, 2),
        "total_s": round(sum(lats) / 1000, 2),
    }
    if nret:
        out["features_per_page_mean"] = round(statistics.fmean(nret), 2)
    if by_zoom:
        out["by_zoom"] = {
            z: {
                "ms_p50": round(statistics.median(m for m, _ in v), 1),
                "kB_mean": round(statistics.fmean(n for _, n in v) / 1000, 1),
            }
            for z, v in sorted(by_zoom.items())
        }
    return out


def wrk(port: int, ps: list[str], duration: int, threads: int, conns: int) -> dict:
    ps = list(ps)
    random.Random(1).shuffle(ps)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(ps) + "\n")
        pf = f.name
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(HERE / "wrk_paths.lua"), f"http://127.0.0.1:{port}"]  # fmt: skip
    r = subprocess.run(
        cmd,
        env=dict(os.environ, WRK_PATHS=pf),
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    os.unlink(pf)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("WRKJSON ")]
    if not line:
        raise RuntimeError(f"wrk failed: {r.stdout}\n{r.stderr}")
    d = json.loads(line[0][8:])
    secs = d["duration_us"] / 1e6
    errors = d["err_connect"] + d["err_read"] + d["err_write"] + d["err_status"] + d["err_timeout"]
    return {
        "rps": round(d["requests"] / secs, 1),
        "p50_ms": round(d["lat_p50_us"] / 1000, 2),
        "p99_ms": round(d["lat_p99_us"] / 1000, 2),
        "requests": d["requests"],
        "errors": errors,
    }


# -- one server ------------------------------------------------------------------------------


def measure(
    label: str, server: str, args: argparse.Namespace, tiles: list, boxes: list, cache_mb: int = 64
) -> dict:
    port = free_port()
    proc, t0 = start(server, port, args.db_url, args.reader_url, cache_mb=cache_mb)
    print(f"{label}: pid={proc.pid} port={port}", flush=True)
    res: dict = {"server": server, "cache_mb": cache_mb if server == "irbis" else None}
    try:
        client, ready = wait_ready(proc, port, t0, "/health" if server == "irbis" else "/healthz")
        scen = paths(server, tiles, boxes)
        first = scen["tiles:protected_areas"][1][0]
        t1 = time.perf_counter()
        st, _ = client.get(first)
        res["cold_start"] = {
            "spawn_to_ready_s": round(ready - t0, 3),
            "first_tile_ms": round((time.perf_counter() - t1) * 1000, 1),
            "first_tile_status": st,
        }
        zooms = [z for z, _, _ in tiles]
        res["cold"] = {
            name: sequential(client, ps, kind, zooms) for name, (kind, ps) in scen.items()
        }
        res["warm_sequential"] = {
            name: sequential(client, ps, kind) for name, (kind, ps) in scen.items()
        }
        runs: dict[str, list[dict]] = {name: [] for name in scen}
        for r in range(args.runs):
            for name, (_, ps) in scen.items():
                w = wrk(port, ps, args.duration, args.threads, args.connections)
                runs[name].append(w)
                print(f"  {label} run{r} {name} {w}", flush=True)
        res["wrk_runs"] = runs
        res["wrk_median"] = {}
        for name, rs in runs.items():
            med = {
                k: round(statistics.median([x[k] for x in rs]), 2)
                for k in ("rps", "p50_ms", "p99_ms")
            }
            med["errors"] = sum(x["errors"] for x in rs)
            fpp = res["cold"][name].get("features_per_page_mean")
            if fpp is not None:
                med["features_per_s"] = round(med["rps"] * fpp, 1)
            res["wrk_median"][name] = med
    finally:
        stop(proc)
    return res


def measure_bare(args: argparse.Namespace, tiles: list) -> dict:
    """wrk against a bare FastAPI route with the tiles' path shape and a fixed 1 kB body
    (``bench/bare_tile_app.py``): the framework's own bound on this machine, in the same run."""
    port = free_port()
    proc, t0 = start("bare", port, args.db_url, args.reader_url)
    print(f"bare route: pid={proc.pid} port={port}", flush=True)
    ps = paths("irbis", tiles, [])["tiles:protected_areas"][1]
    try:
        wait_ready(proc, port, t0, ps[0])
        runs = []
        for r in range(args.runs):
            runs.append(wrk(port, ps, args.duration, args.threads, args.connections))
            print(f"  bare run{r} {runs[-1]}", flush=True)
    finally:
        stop(proc)
    med = {
        k: round(statistics.median([x[k] for x in runs]), 2) for k in ("rps", "p50_ms", "p99_ms")
    }
    return {"wrk_runs": runs, "wrk_median": med}


# -- report ----------------------------------------------------------------------------------


def table(results: dict) -> str:
    tipg = results["tipg"]["wrk_median"]
    rows = [
        "| scenario | Irbis req/s (p50 / p99 ms) | Irbis, no tile cache | tipg req/s (p50 / p99 ms) "
        "| ratio Irbis / tipg | cold sequential p50 ms: Irbis / tipg |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in tipg.items():
        i = results["irbis"]["wrk_median"][name]
        n = results["irbis_nocache"]["wrk_median"].get(name, {})
        unit = "features/s" if "features_per_s" in i else ""
        ours = f"{i['rps']} ({i['p50_ms']} / {i['p99_ms']})"
        if unit:
            ours += f", {i['features_per_s']} features/s"
        nc = f"{n.get('rps')} ({n.get('p50_ms')} / {n.get('p99_ms')})" if n else "-"
        theirs = f"{t['rps']} ({t['p50_ms']} / {t['p99_ms']})"
        if "features_per_s" in t:
            theirs += f", {t['features_per_s']} features/s"
        ratio = f"**{i['rps'] / t['rps']:.2f}x**" if t["rps"] else "-"
        if n and name.startswith("tiles") and t["rps"]:
            ratio += f" (no cache {n['rps'] / t['rps']:.2f}x)"
        cold = f"{results['irbis']['cold'][name]['ms_p50']} / {results['tipg']['cold'][name]['ms_p50']}"
        rows.append(f"| {name} | {ours} | {nc} | {theirs} | {ratio} | {cold} |")
    rows.append("")
    rows.append("Cold tiles by zoom, single client (median ms / mean kB per tile), Irbis vs tipg:")
    rows.append("")
    rows.append("| layer | " + " | ".join(f"z{z}" for z in range(4, 11)) + " |")
    rows.append("|---|" + "---|" * 7)
    for layer in LAYERS:
        a = results["irbis"]["cold"][f"tiles:{layer}"].get("by_zoom", {})
        b = results["tipg"]["cold"][f"tiles:{layer}"].get("by_zoom", {})
        cells = []
        for z in range(4, 11):
            x, y = a.get(z) or a.get(str(z)), b.get(z) or b.get(str(z))
            cells.append(
                f"{x['ms_p50']} / {y['ms_p50']} ms, {x['kB_mean']} / {y['kB_mean']} kB"
                if x and y
                else "-"
            )
        rows.append(f"| {layer} | " + " | ".join(cells) + " |")
    cs = results["irbis"]["cold_start"], results["tipg"]["cold_start"]
    rows.append("")
    rows.append(
        f"Cold start (spawn to ready): Irbis {cs[0]['spawn_to_ready_s']} s, tipg {cs[1]['spawn_to_ready_s']} s; "
        f"first z4 tile {cs[0]['first_tile_ms']} ms vs {cs[1]['first_tile_ms']} ms."
    )
    if "bare" in results:
        b = results["bare"]["wrk_median"]
        rows.append("")
        rows.append(
            "A bare FastAPI `async def` route (the tiles' path shape, a fixed 1 kB body, no "
            f"middleware: `bench/bare_tile_app.py`) in the same run: {b['rps']} req/s "
            f"({b['p50_ms']} / {b['p99_ms']} ms)."
        )
    return "\n".join(rows)


def write_docs(md: str, meta: str) -> None:
    doc = REPO / "docs" / "benchmarks.md"
    text = doc.read_text(encoding="utf-8")
    begin, end = "<!-- tiles-bench:begin -->", "<!-- tiles-bench:end -->"
    block = f"{begin}\n{meta}\n\n{md}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db-url", default=os.environ.get("IRBIS_BENCH_DATABASE_URL", DEFAULT_DB))
    ap.add_argument("--reader-url", default=os.environ.get("IRBIS_BENCH_READER_URL", READER_DB))
    ap.add_argument("--data", default=os.environ.get("BENCHDATA", "/tmp/benchdata"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (<= 60)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--only", choices=("irbis", "tipg"), default=None)
    ap.add_argument(
        "--bare", action="store_true", help="also measure a bare FastAPI route (the framework)"
    )
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    args.duration = max(1, min(args.duration, 60))
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    ensure_database(args.db_url)
    res: dict = {"config": {k: v for k, v in vars(args).items() if "url" not in k}}
    if not args.skip_load:
        print("loading the workload into PostGIS ...", flush=True)
        res["load"] = load(args.db_url, args.scale, Path(args.data))
        print(res["load"], flush=True)
    tiles, boxes = tile_list(42), bbox_list(7)
    res["tiles_per_zoom"] = {z: sum(1 for t in tiles if t[0] == z) for z in range(4, 11)}
    if args.only in (None, "irbis"):
        res["irbis"] = measure("irbis", "irbis", args, tiles, boxes)
        res["irbis_nocache"] = measure(
            "irbis (no tile cache)", "irbis", args, tiles, boxes, cache_mb=0
        )
    if args.bare:
        res["bare"] = measure_bare(args, tiles)
    if args.only in (None, "tipg"):
        res["tipg"] = measure("tipg", "tipg", args, tiles, boxes)
    out = Path(args.data) / "results" / "irbis_tiles.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")
    if "irbis" in res and "tipg" in res:
        md = table(res)
        print(md)
        if args.write_docs:
            meta = (
                f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, scale {args.scale}, "
                f"{args.runs} x {args.duration} s of `wrk -t{args.threads} -c{args.connections}` per scenario "
                f"(medians), counts {res.get('load', {}).get('counts', 'as loaded before')}."
            )
            write_docs(md, meta)


if __name__ == "__main__":
    main()
