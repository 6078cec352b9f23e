#!/usr/bin/env bash
# Installs the system packages Irbis needs (PostGIS, Chromium for the browser tests, Node for
# the map assets) and starts the PostgreSQL cluster. Safe to run again: it installs only what
# is missing. Where it cannot install (not Debian, not root) it says exactly what is needed.
set -euo pipefail

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
irbis: this is not a Debian-like system, so the set-up cannot install system packages itself.
Install these, then run the command again:
  - PostgreSQL 15 with PostGIS 3 (Debian: postgresql-15-postgis-3), running on 127.0.0.1:5432
  - Chromium (Debian: chromium), for the browser tests only
  - ExifTool (Debian: libimage-exiftool-perl), for the evidence privacy tests only
  - Redis (Debian: redis-server), for the shared rate-limit store test only
  - Node.js 18+ with npm, for the map assets
MSG
  command -v psql >/dev/null && command -v npm >/dev/null && exit 0
  exit 1
fi

for p in postgresql-15-postgis-3 postgresql-15 chromium libimage-exiftool-perl redis-server nodejs; do
  case "$p" in
    nodejs) command -v npm >/dev/null 2>&1 || need_pkgs+=(nodejs npm) ;;
    *) have_pkg "$p" || need_pkgs+=("$p") ;;
  esac
done

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "irbis: missing system packages: ${need_pkgs[*]}" >&2
    echo "irbis: run as root, or install them yourself: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
  echo "irbis: installing ${need_pkgs[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Start the cluster if it is down.
if command -v pg_lsclusters >/dev/null 2>&1; then
  if ! pg_lsclusters -h 2>/dev/null | awk '$1=="15" && $2=="main"' | grep -q online; then
    if [ "$(id -u)" = "0" ]; then
      if ! pg_lsclusters -h 2>/dev/null | awk '$1=="15" && $2=="main"' | grep -q .; then
        pg_createcluster 15 main >/dev/null
      fi
      pg_ctlcluster 15 main start
    else
      echo "irbis: PostgreSQL 15 'main' is not running; start it with: sudo pg_ctlcluster 15 main start" >&2
      exit 1
    fi
  fi
fi
# Room for several app processes (each a writer and a reader pool of 10 + 10, a change
# listener and a grants warmer) and the test suite's servers: PostgreSQL's default of 100
# connections is too few. Set once in the cluster's conf.d, and the cluster restarted for it.
CONF_D=/etc/postgresql/15/main/conf.d
if [ "$(id -u)" = "0" ] && [ -d "$CONF_D" ] && ! grep -qsx "max_connections = 300" "$CONF_D/irbis.conf"; then
  echo "max_connections = 300" > "$CONF_D/irbis.conf"
  chown postgres:postgres "$CONF_D/irbis.conf" 2>/dev/null || true
  if pg_lsclusters -h 2>/dev/null | awk '$1=="15" && $2=="main"' | grep -q online; then
    pg_ctlcluster 15 main restart
  fi
fi
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
  sleep 1
done
echo "irbis: PostgreSQL does not answer on 127.0.0.1:5432" >&2
exit 1
