"""Benchmark: monitoring series with 1,000 grants x 10 sites x 5 years of monthly records.

Fills a scratch database (migrated to head; everything in it is replaced) with 1,000 grants,
10 field sites each and, for every site, 60 monthly accepted records of one indicator
(600,000 records), then times the series answers as the server computes them
(:func:`api.services.monitoring.series`, the SQL and the JSON shaping, no HTTP): the portfolio
per indicator by year and by month, one grant by month, one site by month.

    IRBIS_BENCH_DATABASE_URL=postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis_bench \
        .venv/bin/python bench/bench_monitoring.py [--grants 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text

from api.auth.principal import ANONYMOUS
from api.db import migrate
from api.services import monitoring as ms

FILL = """
INSERT INTO grants (code, title, grantee_organisation, amount, currency, start_date, end_date,
                    countries, status, source, method)
SELECT 'BENCH-' || g, 'Bench grant ' || g, 'Bench organisation', 50000, 'USD',
       DATE '2019-01-01', DATE '2023-12-31', ARRAY['KAZ'], 'active', 'bench', 'example'
FROM generate_series(1, :grants) g;

INSERT INTO field_sites (grant_id, name, uploaded_by, geom, source, licence, method)
SELECT g.id, 'site ' || s, 'bench',
       ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(68 + (g.id % 100) * 0.1 + s * 0.005,
                                                  42 + (g.id / 100) * 0.1), 4326), 0.002)),
       'bench', 'CC0', 'example'
FROM grants g CROSS JOIN generate_series(1, 10) s WHERE g.code LIKE 'BENCH-%';

INSERT INTO monitoring_records (site_id, indicator_id, period_start, period_end, value, state,
                                source, licence, method)
SELECT fs.id, (SELECT id FROM monitoring_indicators
               ORDER BY id OFFSET (fs.id % 9) LIMIT 1),
       (DATE '2019-01-01' + make_interval(months => m))::date,
       ((DATE '2019-01-01' + make_interval(months => m + 1))::date - 1),
       (fs.id * 7 + m * 13) % 200, 'accepted', 'bench', 'CC0', 'example'
FROM field_sites fs CROSS JOIN generate_series(0, 59) m;
ANALYZE monitoring_records; ANALYZE field_sites; ANALYZE grants;
"""


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    fn()  # warm
    times = []
    out: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    n = sum(len(s["points"]) for s in out)
    return statistics.median(times) * 1000, min(times) * 1000, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grants", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-fill", action="store_true", help="time the database as it is")
    args = ap.parse_args()
    url = os.environ["IRBIS_BENCH_DATABASE_URL"]
    eng = create_engine(url)
    t0 = time.perf_counter()
    if not args.no_fill:
        with eng.begin() as conn:
            conn.execute(text("DROP OWNED BY CURRENT_USER"))
        migrate.upgrade(url, "head")
        with eng.begin() as conn:
            for stmt in FILL.split(";\n"):
                if stmt.strip():
                    conn.execute(text(stmt), {"grants": args.grants})
    with eng.begin() as conn:
        n = conn.execute(text("SELECT count(*) FROM monitoring_records")).scalar_one()
        grant_id = conn.execute(text("SELECT id FROM grants WHERE code = 'BENCH-500'")).scalar()
        site_id = conn.execute(text("SELECT min(id) FROM field_sites")).scalar_one()
    print(f"{n:,} records (filled in {time.perf_counter() - t0:.1f} s)")

    with eng.connect() as conn:

        class G:  # what ms.series reads of a grant
            id = grant_id

        cases: dict[str, Callable[[], Any]] = {
            "portfolio, one indicator, by year": lambda: ms.series(
                conn, ANONYMOUS, indicator="patrol_km", step="year"
            ),
            "portfolio, every indicator, by year": lambda: ms.series(conn, ANONYMOUS, step="year"),
            "portfolio, every indicator, by month": lambda: ms.series(
                conn, ANONYMOUS, step="month"
            ),
            "one grant, by month": lambda: ms.series(conn, ANONYMOUS, grant=G, step="month"),  # type: ignore[arg-type]
            "one site, by month": lambda: ms.series(conn, ANONYMOUS, site_id=site_id),
        }
        print("| Series | Median (ms) | Best (ms) | Points |")
        print("|---|---|---|---|")
        for name, fn in cases.items():
            med, best, pts = timed(fn, args.repeat)
            print(f"| {name} | {med:.1f} | {best:.1f} | {pts} |")
    eng.dispose()


if __name__ == "__main__":
    main()
