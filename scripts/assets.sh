#!/usr/bin/env bash
# Installs the map's front-end assets (Leaflet and plugins) from the npm registry, pinned by
# package-lock.json, so the pages work with no internet connection.
set -euo pipefail
if [ ! -f package-lock.json ]; then exit 0; fi
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "irbis: npm is needed for the map assets (Debian: apt-get install npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
