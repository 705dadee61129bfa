#!/usr/bin/env bash
# Source this, set a trap that calls pg_stop, then pg_start: a throwaway PostgreSQL cluster on 127.0.0.1 (temp dir,
# free port), removed by pg_stop. As root the server runs as 'nobody' (PostgreSQL refuses root). Exports PGPORT and the
# DB_* variables ExBuy reads. PG_FSYNC=on keeps durability on (default off: a benchmark target, not a store of record).
# PG_EXTRA_OPTS (default empty) is appended to the server's options, e.g. PG_EXTRA_OPTS="-c shared_preload_libraries=x".
# The shared bench/compare.sh, bench/reserve.sh and bench/seed.sh all start their server here.
set -euo pipefail

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ -d "$d" ]; then echo "$d"; return; fi
  dirname "$(command -v pg_ctl)"
}

pg_free_port() { # a free loopback port: the kernel's pick through python3; without python3, the first port from 15432 up nothing answers on
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
    return
  fi
  local port
  for port in $(seq 15432 16431); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "bench: no free port in 15432..16431" >&2
  exit 1
}

pg_start() {
  PG_BIN=$(pg_bin)
  [ -x "$PG_BIN/pg_ctl" ] || { echo "bench: PostgreSQL server binaries not found: apt-get install -y postgresql" >&2; exit 1; }
  PG_DIR=$(mktemp -d /tmp/exbuy-bench-pg.XXXXXX)
  PGPORT=$(pg_free_port)
  local run=()
  if [ "$(id -u)" -eq 0 ]; then chown nobody "$PG_DIR"; run=(runuser -u nobody --); fi
  PG_RUN=("${run[@]}")
  chmod 755 "$PG_DIR"
  "${run[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c synchronous_commit=${PG_FSYNC:-off} -c full_page_writes=${PG_FSYNC:-off} -c max_connections=200 -c shared_buffers=512MB -c maintenance_work_mem=512MB -c max_wal_size=4GB${PG_EXTRA_OPTS:+ $PG_EXTRA_OPTS}" \
    start >/dev/null
  export PGPORT PGHOST=127.0.0.1 PGUSER=postgres
  export DB_ENGINE=postgres DB_HOST=127.0.0.1 DB_PORT=$PGPORT DB_USER=postgres DB_PASSWORD='' DB_NAME=${DB_NAME:-exbuy}
  echo "bench: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT (fsync=${PG_FSYNC:-off}, data in $PG_DIR)"
}

pg_stop() { # safe to call before pg_start and more than once
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

psql_run() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }
