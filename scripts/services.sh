#!/usr/bin/env bash
# Make sure the services the test suite talks to exist, and print their settings as shell exports
# (the Makefile sources them). Progress goes to stderr.
#   PostgreSQL: use the server on 127.0.0.1:5432 when it answers; else start a throwaway cluster from
#               Debian's `postgresql` package (installed if missing) on port 55432 under .services/.
#   Java:       PySpark needs a JRE 17; installed from Debian's packages if `java` is missing.
#   Spark:      a local cluster (master, two workers, Spark Connect on 127.0.0.1:15002) started by
#               scripts/spark_cluster.sh unless the caller names one in JICAI_TEST_SPARK_URL; its tests'
#               lake is .services/spark/lake-tests (or JICAI_TEST_SPARK_LAKE). Left running, like PostgreSQL.
#   Chromium:   the browser tests drive Debian's chromium through Playwright (Playwright's own browser
#               download is not used); installed if /usr/bin/chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[services] $*" >&2; }
apt_install() {
  if [ "$(id -u)" != 0 ]; then log "need root to apt-get install $*"; exit 1; fi
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq >&2; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

pg_up() { .venv/bin/python - "$1" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres", dbname="postgres", connect_timeout=3).close()
PY
}

PORT=${JICAI_PG_PORT:-5432}  # overridable so the fallback below can be exercised while a server runs
if pg_up "$PORT"; then
  PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
  log "PostgreSQL answers on 127.0.0.1:$PORT"
else
  log "no PostgreSQL on 127.0.0.1:$PORT: starting a throwaway server on 55432"
  command -v pg_ctlcluster >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  DIR=$PWD/.services/pg
  if ! pg_up 55432; then
    rm -rf "$DIR"; mkdir -p "$DIR"
    id postgres >/dev/null 2>&1 || useradd -r postgres
    chown -R postgres "$PWD/.services"
    run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
    run "$BIN/initdb -D $DIR/data -U postgres --auth=trust -E UTF8 >/dev/null"
    run "$BIN/pg_ctl -D $DIR/data -o '-p 55432 -k $DIR -c listen_addresses=127.0.0.1' -l $DIR/log -w start >/dev/null"
  fi
  PG_URL="postgres://postgres@127.0.0.1:55432/postgres"
fi

if ! command -v java >/dev/null 2>&1; then
  log "no Java: installing openjdk-17-jre-headless for PySpark"
  apt_install openjdk-17-jre-headless
fi

if [ -n "${JICAI_TEST_SPARK_URL:-}" ]; then
  log "Spark Connect: $JICAI_TEST_SPARK_URL (JICAI_TEST_SPARK_URL, set by the caller)"
  SPARK_URL=$JICAI_TEST_SPARK_URL
else
  bash scripts/spark_cluster.sh start  # nothing when it already runs; progress on stderr, nothing on stdout
  SPARK_URL=sc://127.0.0.1:${JICAI_SPARK_CONNECT_PORT:-15002}
fi
SPARK_LAKE=${JICAI_TEST_SPARK_LAKE:-$PWD/.services/spark/lake-tests}
mkdir -p "$SPARK_LAKE"

CHROMIUM=${JICAI_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  log "no Chromium: installing Debian's chromium for the browser tests"
  apt_install --no-install-recommends chromium fonts-noto-cjk
  CHROMIUM=/usr/bin/chromium
fi

echo "export JICAI_TEST_PG_URL=$PG_URL"
echo "export JICAI_CHROMIUM=$CHROMIUM"
echo "export JICAI_TEST_SPARK_URL=$SPARK_URL"
echo "export JICAI_TEST_SPARK_LAKE=$SPARK_LAKE"
