#!/usr/bin/env bash
# Creates the roles and databases Irbis uses, with PostGIS enabled. Safe to run again.
#   irbis         owner of the schema: migrations and writes
#   irbis_reader  read-only role used for public reads
#   databases     irbis (the platform), irbis_test and irbis_test_migrations (the tests),
#                 and any named as arguments (e.g. irbis_bench for the benchmarks)
set -euo pipefail
psql_su() {
  if [ "$(id -u)" = "0" ]; then
    su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"
  else
    sudo -u postgres psql -v ON_ERROR_STOP=1 -qAt "$@"
  fi
}
run_sql() { # db sql
  if [ "$(id -u)" = "0" ]; then
    su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -d '$1'" <<<"$2"
  else
    sudo -u postgres psql -v ON_ERROR_STOP=1 -qAt -d "$1" <<<"$2"
  fi
}
run_sql postgres "
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis') THEN
    CREATE ROLE irbis LOGIN PASSWORD 'irbis';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN
    CREATE ROLE irbis_reader LOGIN PASSWORD 'irbis_reader';
  END IF;
END \$\$;
-- the writer may take the read-only role: tests run the app's reads with it inside the
-- test's own (rolled back) transaction; it gives the writer nothing it does not have
GRANT irbis_reader TO irbis;"
# Tables get the reader's SELECT from the default privileges as the migrations create them;
# the migrations then take it back where a table or column is private (password hashes,
# sessions, reporters' identities). No blanket "GRANT SELECT ON ALL TABLES" here: run again
# on a migrated database, it would hand those back to the read-only role.
for db in irbis irbis_test irbis_test_migrations "$@"; do
  exists=$(run_sql postgres "SELECT 1 FROM pg_database WHERE datname = '$db'")
  if [ "$exists" != "1" ]; then
    run_sql postgres "CREATE DATABASE $db OWNER irbis"
  fi
  run_sql "$db" "
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
GRANT CONNECT ON DATABASE $db TO irbis_reader;
GRANT USAGE ON SCHEMA public TO irbis_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE irbis IN SCHEMA public GRANT SELECT ON TABLES TO irbis_reader;"
done
