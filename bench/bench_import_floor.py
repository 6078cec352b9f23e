#!/usr/bin/env python3
"""What an Irbis start costs before any of Irbis's own code: import times, against tipg's.

Each case is a fresh interpreter (the project's virtual environment) that imports a set of
modules and exits; cases alternate, so a busy moment of the machine falls on all of them, and
medians are reported. The cases:

- the bare interpreter;
- FastAPI and uvicorn (what any such server pays);
- the libraries Irbis's design fixes and imports at start (FastAPI, uvicorn, SQLAlchemy's ORM,
  GeoAlchemy2, psycopg, pydantic-settings), with the garbage collector paused as
  ``api.app`` pauses it (so the comparison with ``api.app`` is like for like);
- the same without GeoAlchemy2 (which imports shapely and numpy through its SQLite dialect);
- ``tipg.main`` (the peer's whole application) and ``api.app`` (Irbis's).

    .venv/bin/python bench/bench_import_floor.py --runs 11

tipg comes from ``requirements-bench.txt`` (``bench/run.sh`` installs it).
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

REPO = Path(__file__).resolve().parent.parent
PAUSED = "import gc; gc.disable(); "
LIBS = "import fastapi, uvicorn, sqlalchemy.orm, psycopg, pydantic_settings"
CASES = {
    "interpreter": "pass",
    "fastapi_uvicorn": "import fastapi, uvicorn",
    "design_libraries": PAUSED + LIBS + ", geoalchemy2",
    "design_libraries_without_geoalchemy2": PAUSED + LIBS,
    "tipg": "import tipg.main",
    "irbis": "import api.app",
}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    times: dict[str, list[float]] = {k: [] for k in CASES}
    load_before = os.getloadavg()
    for _ in range(args.runs):
        for name, code in CASES.items():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
            times[name].append(time.perf_counter() - t)
    median = {k: round(statistics.median(v), 3) for k, v in times.items()}
    res = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "median_s": median,
        "min_s": {k: round(min(v), 3) for k, v in times.items()},
    }
    out = Path(os.environ.get("BENCHDATA", "/tmp/benchdata")) / "results" / "import_floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    for k, v in median.items():
        print(f"{k:40s} {v:.3f} s (median of {args.runs})")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
