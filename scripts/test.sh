#!/usr/bin/env bash
# Runs the whole test suite against the real PostGIS test database.
set -euo pipefail
VENV=${VENV:-.venv}
mkdir -p test-artifacts
"$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
