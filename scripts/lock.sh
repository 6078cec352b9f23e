#!/usr/bin/env bash
# Compiles the lock files requirements-*.txt from pyproject.toml, with hashes, for every platform
# and Python 3.11+. Pins already in the lock files are kept; `scripts/lock.sh --upgrade` (or
# `--upgrade-package NAME`) moves them. The set-up installs only from these files.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
UV="$VENV/bin/uv"
[ -x "$UV" ] || "$VENV/bin/pip" install -q uv
compile() { # output, then groups
  local out=$1; shift
  local groups=()
  for g in "$@"; do groups+=(--group "$g"); done
  "$UV" pip compile pyproject.toml "${groups[@]}" --universal --python-version 3.11 \
    --generate-hashes --custom-compile-command "make lock" -q -o "requirements-$out" "${EXTRA[@]}"
}
EXTRA=("$@")
compile runtime.txt build
compile dev.txt dev
compile bench.txt dev bench
