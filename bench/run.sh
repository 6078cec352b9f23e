#!/usr/bin/env bash
# Runs every benchmark, one at a time (on 2 cores anything in parallel skews the figures),
# and writes the figures into docs/benchmarks.md where the scripts support it.
# Installs what the benchmarks need: wrk (Debian) and tipg (PyPI, the peer for tiles, pinned in
# requirements-bench.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "bench: wrk is needed (Debian: sudo apt-get install wrk)" >&2; exit 1
  fi
fi
bash scripts/venv.sh "$VENV" requirements-bench.txt  # the tools and tipg, from the lock file
bash scripts/database.sh irbis_bench >/dev/null
export IRBIS_DATABASE_URL=${IRBIS_DATABASE_URL:-postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis}

echo "== validation of 100,000 polygons"
"$PY" bench/bench_validate.py
echo "== prioritisation: exact solver vs greedy"
"$PY" bench/bench_prioritise.py
echo "== analyses: overlay, zonal statistics, ecosystems, demo gap analysis"
"$PY" bench/bench_analyses.py --db-url "$IRBIS_DATABASE_URL"
echo "== tiles and features: Irbis vs tipg under wrk"
"$PY" bench/bench_tiles.py --write-docs
echo "== cold start: spawn to ready and first tile, Irbis vs tipg"
"$PY" bench/bench_cold_start.py --skip-load --runs 5
echo "== import floor: the design's libraries, tipg and Irbis"
"$PY" bench/bench_import_floor.py
