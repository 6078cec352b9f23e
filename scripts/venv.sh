#!/usr/bin/env bash
# Creates the virtual environment and installs Irbis with its development tools.
# Reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "irbis: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))." >&2
  echo "irbis: install it (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || {
    echo "irbis: could not create a virtual environment; on Debian: apt-get install python3-venv" >&2
    exit 1
  }
fi
stamp="$VENV/.irbis-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "irbis: installing Python packages into $VENV ..."
  "$VENV/bin/pip" install -q -U pip
  "$VENV/bin/pip" install -q -e ".[dev]"
  touch "$stamp"
fi
