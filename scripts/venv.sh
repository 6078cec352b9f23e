#!/usr/bin/env bash
# Creates the virtual environment and installs Irbis with its development tools from the lock
# file (requirements-dev.txt, pinned with hashes), so a new release upstream never changes a
# clean install. Reinstalls only when the lock file changed since the last install.
#   scripts/venv.sh [VENV] [LOCK]     LOCK defaults to requirements-dev.txt
#                                     (requirements-runtime.txt for a server without tests)
set -euo pipefail
VENV=${1:-.venv}
LOCK=${2:-requirements-dev.txt}
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
if [ ! -f "$stamp" ] || [ "$LOCK" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
  || [ "$(cat "$stamp")" != "$LOCK" ]; then
  echo "irbis: installing Python packages from $LOCK into $VENV ..."
  "$VENV/bin/python" -m pip install -q --require-hashes -r "$LOCK"
  # Irbis itself, editable, with nothing more: every dependency came from the lock file.
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  echo "$LOCK" >"$stamp"
fi
# Irbis's own modules compiled, as pip compiles the packages it installs: a server then starts
# without compiling them first, also where PYTHONDONTWRITEBYTECODE keeps Python from writing
# bytecode as it imports (only changed files are compiled again).
"$VENV/bin/python" -m compileall -q -j 0 api geo layers >/dev/null
