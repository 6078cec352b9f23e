#!/usr/bin/env python3
"""Name search (``layers.search``) on a database with the demo loaded: each query run as the
app runs it (:func:`layers.search.find`: trigram indexes, no JIT), and the same statement left
to the planner's own choice (only the similarity bound set: it scans the settlements), one
connection, queries interleaved; medians and 90th percentiles in milliseconds.

    .venv/bin/python bench/bench_search.py --runs 20 \\
        --url postgresql+psycopg://irbis_reader:irbis_reader@127.0.0.1:5432/irbis

Wall time: on a shared, busy machine it varies between runs; compare the two columns of one
run rather than runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, func, select

from layers import search

QUERIES = ("alm", "Almaty", "Алматы", "Kaskelen", "Shimkent", "Jambyl", "nature res", "Медеу")


def _planner_choice(engine: Engine, q: str) -> list[Any]:
    query = search.search_query(q, "en")
    with engine.connect() as conn, conn.begin():
        bound = str(search.SIMILARITY)
        conn.execute(select(func.set_config("pg_trgm.word_similarity_threshold", bound, True)))
        return list(conn.execute(query).all())


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="database URL (the read-only role will do)")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    engine = create_engine(args.url, pool_size=1)
    ways: dict[str, Callable[[str], Any]] = {
        "indexed": lambda q: search.find(engine, q, "en"),
        "planner": lambda q: _planner_choice(engine, q),
    }
    times: dict[tuple[str, str], list[float]] = {}
    for q in QUERIES:  # warm the caches once
        for fn in ways.values():
            fn(q)
    for _ in range(args.runs):
        for q in QUERIES:
            for way, fn in ways.items():
                times.setdefault((q, way), []).append(_timed(lambda fn=fn, q=q: fn(q)))
    print(f"{'query':<12} {'indexed ms (median, p90)':>26} {'planner ms (median, p90)':>26}")
    for q in QUERIES:
        cells = []
        for way in ways:
            t = sorted(times[(q, way)])
            p90 = t[min(len(t) - 1, int(0.9 * len(t)))]
            cells.append(f"{statistics.median(t):9.1f} {p90:9.1f}")
        print(f"{q:<12} {cells[0]:>26} {cells[1]:>26}")
    engine.dispose()


if __name__ == "__main__":
    main()
