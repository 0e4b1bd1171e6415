#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server the tests can use (they create a fresh database per test):
#   1. $TEST_DATABASE_URL when set;
#   2. else 127.0.0.1:5432 as user postgres with trust auth, database test, when it answers;
#   3. else a throwaway cluster (trust auth, 127.0.0.1:55432) from Debian's postgresql package,
#      installed when missing and started under /tmp; a second run reuses it.
# Everything but the URL goes to stderr, so `export TEST_DATABASE_URL=$(bash ...)` works.
set -euo pipefail
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "$TEST_DATABASE_URL"
  exit 0
fi
answers() {
  command -v psql >/dev/null && PGCONNECT_TIMEOUT=3 psql -w -q -t -c 'SELECT 1' "$1" >/dev/null 2>&1
}
default=postgres://postgres@127.0.0.1:5432/test
if answers "$default"; then
  echo "$default"
  exit 0
fi
port=55432
own=postgres://postgres@127.0.0.1:$port/test
if answers "$own"; then
  echo "$own"
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  bash "$(dirname "$0")/apt-install.sh" postgresql
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=/tmp/blendlab-postgres
echo "starting a throwaway PostgreSQL cluster in $dir on 127.0.0.1:$port" >&2
$SUDO rm -rf "$dir"
$SUDO mkdir -p "$dir"
# initdb refuses to run as root: the cluster belongs to the postgres user the package created.
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$1"; else bash -c "$1"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
as_postgres "$bin/initdb -D $dir/data -A trust -U postgres >/dev/null"
as_postgres "$bin/pg_ctl -D $dir/data -l $dir/log -w -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300' start >/dev/null"
as_postgres "$bin/psql -h 127.0.0.1 -p $port -U postgres -q -c 'CREATE DATABASE test' postgres" >&2
echo "$own"
