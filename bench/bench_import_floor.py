#!/usr/bin/env python3
"""What an Irbis start costs before any of Irbis's own code: import times, against tipg's.

Each case is a fresh interpreter (the project's virtual environment) that imports a set of
modules and exits at once (``os._exit``: a server does not tear its modules down before it
serves, and the teardown of a million objects would blur the figures); cases alternate, so a
busy moment of the machine falls on all of them, and medians are reported, of the import
itself (timed in the process) and of the process from spawn to exit. The cases:

- the bare interpreter;
- FastAPI and uvicorn (what any such server pays);
- the libraries Irbis's design fixes and imports at start (FastAPI, uvicorn, SQLAlchemy's ORM,
  GeoAlchemy2, psycopg, pydantic-settings), with the garbage collector paused as
  ``api.app`` pauses it (so the comparison with ``api.app`` is like for like);
- the same without GeoAlchemy2 (which imports shapely and numpy through its SQLite dialect);
- what a server of tiles and features alone would need at the least (FastAPI, uvicorn,
  SQLAlchemy Core, psycopg, pydantic-settings, morecantile: no ORM, no GeoAlchemy2);
- Irbis's modules on a tile's path without the ORM models and the other routers (what a start
  that imported those at their first use would still import);
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
#: Irbis's modules that a tile or a feature request passes through, less the authentication
#: middleware (which imports the ORM models to resolve a login).
TILE_PATH = (
    "api.errors",
    "api.routers.ogc_tiles",
    "api.routers.ogc_features",
    "api.i18n",
    "api.settings",
    "api.versions",
    "api.db.engine",
    "api.heavy",
    "api.ratelimit",
    "api.bodylimits",
    "api.refusals",
    "api.security_headers",
    "api.vendor",
    "api.first_answer",
    "api.head",
)
CASES = {
    "interpreter": "pass",
    "fastapi_uvicorn": "import fastapi, uvicorn",
    "design_libraries": PAUSED + LIBS + ", geoalchemy2",
    "design_libraries_without_geoalchemy2": PAUSED + LIBS,
    # what a server of tiles and features alone would import at the least: no ORM, no
    # GeoAlchemy2, the OGC models and tile grids (morecantile, as tipg)
    "serving_libraries": PAUSED
    + "import fastapi, uvicorn, sqlalchemy, psycopg, pydantic_settings, morecantile",
    # Irbis's modules on the path of a tile or a feature request (the middlewares but the
    # authentication's, the OGC routers), without the ORM models and the other routers
    "irbis_tile_path": PAUSED + "import " + ", ".join(TILE_PATH),
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
    imports: dict[str, list[float]] = {k: [] for k in CASES}
    load_before = os.getloadavg()
    for _ in range(args.runs):
        for name, code in CASES.items():
            timed = (
                "import time as _t; _s = _t.perf_counter(); "
                + code
                + "; print(_t.perf_counter() - _s, flush=True); import os; os._exit(0)"
            )
            t = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", timed], cwd=REPO, check=True, capture_output=True, text=True
            )
            times[name].append(time.perf_counter() - t)
            imports[name].append(float(done.stdout.split()[-1]))
    median = {k: round(statistics.median(v), 3) for k, v in imports.items()}
    res = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "median_import_s": median,
        "min_import_s": {k: round(min(v), 3) for k, v in imports.items()},
        "median_process_s": {k: round(statistics.median(v), 3) for k, v in times.items()},
    }
    out = Path(os.environ.get("BENCHDATA", "/tmp/benchdata")) / "results" / "import_floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    for k, v in median.items():
        process = res["median_process_s"][k]
        print(f"{k:40s} import {v:.3f} s, process {process:.3f} s (medians of {args.runs})")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
