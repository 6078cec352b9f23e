#!/usr/bin/env python3
"""Server time of the portfolio JSON and of a grant page with 1,000 grants × 10 sites × 5 years
of monthly monitoring records.

Adds 1,000 grants (codes ``BENCH-G-0000`` ...) with 10 small field sites each and 60 monthly
accepted monitoring records per site (600,000; ``--months``) to a migrated database holding the
demo data, then requests, in process through the real application
(FastAPI TestClient: no network, so the time is the server's), ``/api/portfolio`` and
``/grants/{code}`` a number of times each and reports the median and p90, as served from the
data-version caches, after a write (each request the first after a committed change to another
grant, ``--settle`` seconds later: the answers computed again in the background meanwhile,
see :mod:`api.services.grants_warmer`), at a write (the request right at the commit: it
computes its answer, or waits for the warmer's) and cold (every cache emptied: after a restart, or a write to the habitat or protected
areas). The benchmark's grants are removed at the end (``--keep`` keeps them, ``--reuse`` runs
on them without seeding).

    .venv/bin/python bench/bench_grants.py    # the demo database `make run` fills, or --db-url URL

Results go to ``/tmp/benchdata/results/irbis_grants.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

DEFAULT_DB = os.environ.get(
    "IRBIS_DATABASE_URL", "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis"
)
RESULTS = Path("/tmp/benchdata/results/irbis_grants.json")

SEED_SQL = """
SELECT set_config('irbis.actor', 'bench_grants', true);
INSERT INTO grants (code, title, grantee_organisation, amount, currency, start_date, end_date,
                    countries, status, source, method, call, ecosystem_focus)
SELECT format('BENCH-G-%s', lpad(i::text, 4, '0')), format('Benchmark grant %s', i),
       format('Organisation %s', i % 37), 25000 + (i * 997) % 175000, 'USD',
       DATE '2019-01-01' + (i % 1200), DATE '2019-01-01' + (i % 1200) + 730,
       ARRAY[(ARRAY['KAZ','KGZ','TJK','UZB'])[1 + i % 4]]::varchar[],
       (ARRAY['proposed','active','closed','terminated'])[1 + i % 4],
       'benchmark', 'example', format('Call %s', 1 + i % 5),
       ARRAY[(ARRAY['mountain','arid_lowland'])[1 + i % 2]]::varchar[]
FROM generate_series(0, :n - 1) AS i;
INSERT INTO grant_species (grant_id, species_id)
SELECT g.id, (SELECT id FROM species ORDER BY id LIMIT 1 OFFSET (g.id % 2))
FROM grants g WHERE g.code LIKE 'BENCH-G-%';
INSERT INTO field_sites (grant_id, name, uploaded_by, source, licence, method, geom)
SELECT g.id, format('site %s', j), 'bench', 'benchmark', 'benchmark', 'example',
       ST_Multi(ST_MakeEnvelope(x, y, x + 0.02, y + 0.02, 4326))
FROM grants g, generate_series(0, :sites - 1) AS j,
     LATERAL (SELECT 60 + ((g.id * 7 + j * 3) % 2500) / 100.0 AS x,
                     38 + ((g.id * 13 + j * 5) % 900) / 100.0 AS y) c
WHERE g.code LIKE 'BENCH-G-%';
"""

#: Five years of monthly accepted records for every site of the benchmark's grants (one
#: indicator a site, turning through the catalogue): 600,000 with the defaults.
MONITORING_SQL = """
SELECT set_config('irbis.actor', 'bench_grants', true);
INSERT INTO monitoring_records (site_id, indicator_id, period_start, period_end, value, state,
                                source, licence, method)
SELECT fs.id, (SELECT id FROM monitoring_indicators ORDER BY id OFFSET (fs.id % 9) LIMIT 1),
       (DATE '2019-01-01' + make_interval(months => m))::date,
       ((DATE '2019-01-01' + make_interval(months => m + 1))::date - 1),
       (fs.id * 7 + m * 13) % 200, 'accepted', 'benchmark', 'benchmark', 'example'
FROM field_sites fs JOIN grants g ON g.id = fs.grant_id, generate_series(0, :months - 1) AS m
WHERE g.code LIKE 'BENCH-G-%';
ANALYZE monitoring_records;
ANALYZE field_sites;
ANALYZE grants
"""

CLEAN_SQL = """
SELECT set_config('irbis.actor', 'bench_grants', true);
DELETE FROM monitoring_records WHERE site_id IN (SELECT s.id FROM field_sites s
    JOIN grants g ON g.id = s.grant_id WHERE g.code LIKE 'BENCH-G-%');
DELETE FROM field_sites WHERE grant_id IN (SELECT id FROM grants WHERE code LIKE 'BENCH-G-%');
DELETE FROM grants WHERE code LIKE 'BENCH-G-%';
"""


def _run(conn, sql: str) -> None:  # type: ignore[no-untyped-def]
    for stmt in sql.strip().split(";\n"):
        if stmt.strip():
            conn.execute(text(stmt))


WRITE_SQL = """
SELECT set_config('irbis.actor', 'bench_grants', true);
UPDATE grants SET title = format('Benchmark grant 1 (%s)', :i) WHERE code = 'BENCH-G-0001';
"""


def timed(client, url: str, n: int, *, before=None, settle: float = 0.0) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median and p90 of ``n`` requests, each after ``before()`` when given, ``settle``
    seconds later (a reader arriving a moment after the write)."""
    times = []
    for i in range(n):
        if before is not None:
            before(i)
            time.sleep(settle)
        t0 = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url}: {r.status_code} {r.text[:200]}")
    times.sort()
    return {
        "n": n,
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(times[int(0.9 * (n - 1))], 1),
        "bytes": len(r.content),
    }


def cold(_i: int) -> None:
    """Every cache of the grant pages emptied: the first request after a restart, or after a
    write to the habitat or the protected areas."""
    from api.services import grants as gs

    for cache in (gs.PORTFOLIO_CACHE, gs.PAGE_CACHE, gs.GAP_CACHE, gs.FIGURE_CACHE):
        cache.clear()


def writer(engine):  # type: ignore[no-untyped-def]
    """A committed write to ``grants`` (another grant's title): a new data version."""

    def write(i: int) -> None:
        with engine.begin() as conn:
            for stmt in WRITE_SQL.strip().split(";\n"):
                if stmt.strip():
                    conn.execute(text(stmt), {"i": i})

    return write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-url", default=DEFAULT_DB)
    ap.add_argument("--grants", type=int, default=1000)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument(
        "--months",
        type=int,
        default=60,
        help="monthly monitoring records per site (60: five years; 0: none)",
    )
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds between a write and the request timed after it (the background "
        "warmer's time to compute the answers again)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the benchmark's grants")
    ap.add_argument(
        "--reuse", action="store_true", help="use the grants a --keep run left (no seeding)"
    )
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    engine = create_engine(args.db_url)
    seeded = 0.0
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM grants WHERE code LIKE 'BENCH-G-%'"))
        if not (args.reuse and have.scalar_one() == args.grants):
            _run(conn, CLEAN_SQL)
            t0 = time.perf_counter()
            for stmt in SEED_SQL.strip().split(";\n"):
                if stmt.strip():
                    conn.execute(text(stmt), {"n": args.grants, "sites": args.sites})
            if args.months:
                for stmt in MONITORING_SQL.strip().split(";\n"):
                    conn.execute(text(stmt), {"months": args.months})
            seeded = time.perf_counter() - t0
        records = conn.execute(
            text(
                "SELECT count(*) FROM monitoring_records r JOIN field_sites s ON s.id = r.site_id"
                " JOIN grants g ON g.id = s.grant_id WHERE g.code LIKE 'BENCH-G-%'"
            )
        ).scalar_one()
    try:
        settings = Settings.for_database(args.db_url)
        n2 = max(3, args.repeat // 2)
        with TestClient(create_app(settings)) as client:
            client.get("/api/portfolio")  # warm: imports, pools, caches
            client.get("/grants/BENCH-G-0001")
            write = writer(engine)
            out = {
                "grants": args.grants,
                "sites_per_grant": args.sites,
                "monitoring_records": records,
                "seed_s": round(seeded, 1),
                "portfolio_json": timed(client, "/api/portfolio", args.repeat),
                "portfolio_json_after_write": timed(
                    client, "/api/portfolio", n2, before=write, settle=args.settle
                ),
                "portfolio_json_at_write": timed(client, "/api/portfolio", n2, before=write),
                "portfolio_json_cold": timed(client, "/api/portfolio", n2, before=cold),
                "grant_page": timed(client, "/grants/BENCH-G-0500", args.repeat),
                "grant_page_after_write": timed(
                    client, "/grants/BENCH-G-0500", n2, before=write, settle=args.settle
                ),
                "grant_page_at_write": timed(client, "/grants/BENCH-G-0500", n2, before=write),
                "grant_page_cold": timed(client, "/grants/BENCH-G-0500", n2, before=cold),
                "grant_json": timed(client, "/api/grants/BENCH-G-0500", args.repeat),
            }
    finally:
        if not args.keep:
            with engine.begin() as conn:
                _run(conn, CLEAN_SQL)
        engine.dispose()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
